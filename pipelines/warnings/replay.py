"""Replay of the warning job day by day over a test period, with models trained only before it.

For every day of the test period at ``issue_hour`` local time the forecaster (trained on data up
to ``train_end``) forecasts every pollutant of ``configs/forecast.yml`` for 96 h, exactly as the
operational forecast would from the data then available; the warning decision and the lifecycle
store run on each issue in turn (a fresh SQLite file); the log of levels in force is scored
against heavy episodes of the observed daily AQI of each area
(:mod:`features.warnings.verification`).
"""

from __future__ import annotations

import dataclasses
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from features.assessment import daily_aqi, daily_statistics
from features.forecast_features import Panel
from features.times import local_day_to_utc
from features.units import pollutants, running_means
from features.warnings.outlook import area_station_ids
from features.warnings.verification import heavy_day_bounds, heavy_episodes, score_replay
from models.forecast.backtest import run_backtest
from models.forecast.base import Forecast
from models.forecast.dataset import forecast_dataset
from pipelines.config import aqi_standards, load_network, load_variables
from pipelines.config.warnings import load_warning_config
from pipelines.forecast.jobs import forecast_config, load_panel, model_configs
from pipelines.warnings.job import decide_and_apply
from pipelines.warnings.store import WarningStore

__all__ = ["ReplayResult", "replay"]


@dataclass
class ReplayResult:
    """Per-area episode tables, summaries and the lifecycle log of a replay."""

    city: str
    model: str
    window: dict[str, str]
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    summaries: dict[str, dict[str, float]] = field(default_factory=dict)
    log: pd.DataFrame | None = None
    fit_seconds: dict[str, float] = field(default_factory=dict)


def _forecast_dataset(forecasts: dict[str, Any], n: int, stations: list[str], issue) -> xr.Dataset:
    """Return the in-memory forecast dataset of issue ``n`` (the layout of the forecast files)."""
    first = next(iter(forecasts.values()))
    return forecast_dataset(
        {
            v: Forecast(fc.mean[:, n : n + 1], fc.quantiles[:, n : n + 1], fc.levels)
            for v, fc in forecasts.items()
        },
        stations,
        issue_times=[issue],
        leads=np.arange(1, first.mean.shape[-1] + 1),
    )


def _observed_area_aqi(panel, stations: list[str], area_ids, net, family: str) -> pd.Series:
    """Observed daily AQI (local days, HJ 633) of the area-mean concentrations."""
    idx = [panel.stations.index(s) for s in area_ids]
    reg = load_variables()
    std = aqi_standards(family)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        data = {
            v: (("station", "time"), np.nanmean(panel.values[v][idx], axis=0, keepdims=True))
            for v in (*pollutants(reg), *running_means(reg))
            if v in panel.values
        }
    ds = xr.Dataset(data, coords={"station": ["area"], "time": panel.times.values})
    stats = daily_statistics(
        ds, net.time_zone, net.time_label, std[0].validity, running_means=running_means(reg)
    )
    out = daily_aqi(stats, std, reg["variables"], reg["reference_conditions"])
    return pd.Series(out["aqi"].values[0], index=pd.DatetimeIndex(out["date"].values))


def _champion(network: str, target: str, t_train: pd.Timestamp, fcfg: dict) -> tuple[Any, str]:
    """Load the champion of ``<network>-<target>``; refuse one trained past ``t_train``."""
    import json

    import joblib
    import mlflow

    from models import tracking
    from pipelines.config import project_root

    tracking.configure(project_root(), fcfg["mlflow"])
    client = mlflow.MlflowClient()
    name = f"{network}-{target}"
    version = client.get_model_version_by_alias(name, "champion")
    window = json.loads(client.get_run(version.run_id).data.tags.get("data_window", "{}"))
    trained_to = pd.Timestamp(window.get("train_end", "2262-01-01"))
    if trained_to > t_train:
        raise ValueError(
            f"champion {name} v{version.version} was trained on data up to {trained_to} UTC, "
            f"after the replay's training end {t_train} UTC: it would see the replayed period"
        )
    local = mlflow.artifacts.download_artifacts(f"models:/{name}/{version.version}")
    uri = f"models:/{name}/{version.version}"
    return joblib.load(Path(local) / "artifacts" / "forecaster.joblib"), uri


def replay(
    city_name: str,
    store_root: Path,
    start: str,
    end: str,
    train_end: str,
    model: str = "lightgbm",
    issue_hour: int = 0,
    work_dir: Path | None = None,
    *,
    panel: Panel | None = None,
    forecasters: dict[str, Any] | None = None,
    decision: dict[str, Any] | None = None,
) -> ReplayResult:
    """Replay the warning decisions of a city over ``start .. end`` (local days).

    Parameters
    ----------
    model : str
        Forecaster by name (``configs/models/<model>.yml``), trained once on data up to
        ``train_end``; or ``champion``: the registered champion of every target, refused when
        it was trained on data after ``train_end``.
    issue_hour : int
        Local hour of the daily warning decision.
    work_dir : pathlib.Path, optional
        Where the replay's lifecycle database goes (default: a temporary directory).
    panel : features.forecast_features.Panel, optional
        The data (default :func:`~pipelines.forecast.jobs.load_panel`, with the network's
        forecast feed); the benchmark passes one per weather track.
    forecasters : dict, optional
        Target -> forecaster already fitted on data up to ``train_end`` (``model`` is then only
        the label): the benchmark replays the models of its backtest without fitting them again.
        The daily AQI is then made of these targets only.
    decision : dict, optional
        Overrides of the scheme's ``decision`` settings (e.g. ``{"confidence": 0.3}``), for
        tuning them on a validation year.
    """
    import tempfile

    scheme, city = load_warning_config(city_name)
    if city is None:
        raise ValueError(f"{city_name} is a scheme, not a city")
    if decision:
        unknown = sorted(set(decision) - set(scheme.decision))
        if unknown:
            raise ValueError(
                f"unknown decision setting(s) {unknown}; known {sorted(scheme.decision)}"
            )
        scheme = dataclasses.replace(scheme, decision={**scheme.decision, **decision})
    net = load_network(city.network)
    fcfg = forecast_config()
    max_lead = int(fcfg["leads"])
    tz = net.time_zone
    panel = load_panel(net.name, store_root) if panel is None else panel
    t_train = local_day_to_utc(train_end, tz, end_of_day=True)
    t_start = local_day_to_utc(start, tz) + pd.Timedelta(hours=issue_hour)
    t_end = local_day_to_utc(end, tz, end_of_day=True)
    forecasts, fit_s, sources = {}, {}, {}
    leads = np.arange(1, max_lead + 1)
    issue_idx = np.flatnonzero((panel.times >= t_start) & (panel.times <= t_end))[::24]
    targets = [t for t in fcfg["targets"] if t in panel.values]
    if not targets:
        raise ValueError(f"none of {fcfg['targets']} is stored for {net.name}")
    if forecasters is not None:  # the daily AQI of exactly the pollutants given
        targets = [t for t in targets if t in forecasters]
    for target in targets:
        if forecasters is not None:
            forecasts[target] = forecasters[target].predict(panel, issue_idx, leads)
            sources[target] = f"{model} trained to {train_end}"
            continue
        if model == "champion":
            forecaster, sources[target] = _champion(net.name, target, t_train, fcfg)
            forecasts[target] = forecaster.predict(panel, issue_idx, leads)
            continue
        res = run_backtest(
            panel,
            target,
            model_configs([model]),
            t_train,
            t_start,
            t_end + pd.Timedelta(hours=max_lead),  # issue through the last test day
            issue_stride=24,
            max_lead=max_lead,
            quantiles=tuple(fcfg["quantiles"]),
        )
        if not np.array_equal(res.issue_idx, issue_idx):  # pragma: no cover - invariant
            raise RuntimeError("replay and backtest disagree on the issue times")
        forecasts[target] = res.forecasts[model]
        fit_s[target] = res.fit_seconds[model]
        sources[target] = f"{model} trained to {train_end}"
    issue_times = panel.times[issue_idx]
    tmp = tempfile.TemporaryDirectory() if work_dir is None else None
    db = Path(tmp.name if tmp else work_dir) / f"replay_{city.name}.db"
    if db.exists():
        db.unlink()
    store = WarningStore(f"sqlite:///{db}")  # a scratch file, never QINGYUAN_WARNINGS_DB
    rows = []
    for n, issue in enumerate(issue_times):
        ds = _forecast_dataset(forecasts, n, panel.stations, issue)
        for area in city.areas:
            outlook, decision, applied = decide_and_apply(  # a replay is not a release
                store, scheme, city, net, area, ds, issue, {"replay": sources}, confirm=False
            )
            act = store.active(city.name, area.id)
            w = act[0] if act else None
            rows.append(
                {
                    "area": area.id,
                    "issue_time": issue,
                    "action": applied.action,
                    "warning_id": w["id"] if w else np.nan,
                    "level": w["level"] if w else None,
                    "start": pd.Timestamp(w["onset"]) if w and w["onset"] else pd.NaT,
                    "end": pd.Timestamp(w["expires"]) if w and w["expires"] else pd.NaT,
                    "p_heavy": decision.day_probability,
                    "point_aqi": [float(x) for x in outlook.median],
                }
            )
    log = pd.DataFrame(rows)
    out = ReplayResult(
        city.name,
        model,
        {"train_end": str(train_end), "start": str(start), "end": str(end)},
        log=log,
        fit_seconds=fit_s,
    )
    first_day = pd.Timestamp(start)
    last_day = pd.Timestamp(end)
    for area in city.areas:
        ids = area_station_ids(area, net)
        obs = _observed_area_aqi(panel, panel.stations, ids, net, scheme.aqi_family)
        obs = obs[(obs.index >= first_day) & (obs.index <= last_day)]
        eps = heavy_episodes(pd.DatetimeIndex(obs.index), obs.to_numpy(), scheme, tz)
        heavy_days = heavy_day_bounds(obs, tz, limit=scheme.verification["heavy_aqi_above"])
        table, summary = score_replay(log[log["area"] == area.id], eps, scheme, heavy_days)
        summary["observed_heavy_days"] = len(heavy_days)
        out.tables[area.id], out.summaries[area.id] = table, summary
    if tmp:
        tmp.cleanup()
    return out
