"""Forecast I/O: panels from the store, backtests and training tracked in MLflow, forecast files.

Forecast files are CF netCDF with dimensions ``(station, issue_time, lead_time, quantile)`` and
provenance attributes (model URI, MLflow run id, data cut-off, issue time); every issued forecast
is kept under ``outputs/forecasts/<network>/`` so that it can be verified later.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd

from features.assessment import mask_invalid
from features.forecast_features import (
    MissingWeatherForecast,
    Panel,
    panel_from_dataset,
    with_weather_forecast,
)
from features.nwp_features import derive
from features.times import local_day_to_utc, to_utc
from features.units import pollutants
from models import tracking
from models.forecast.backtest import BacktestResult, run_backtest
from models.forecast.daily import backtest_daily
from models.forecast.dataset import forecast_attrs, forecast_dataset, forecasts_from_frames
from models.forecast.pyfunc import history_frame
from pipelines.config import (
    NetworkSpec,
    aqi_standards,
    forecast_config,
    load_network,
    load_qc,
    load_variables,
    model_configs,
)
from pipelines.config.locations import code_version, config_dir, project_root
from pipelines.forecast.files import forecast_path
from pipelines.forecast.files import write_forecast as write_forecast_file
from pipelines.nwp.store import load_feed_runs
from pipelines.progress import track
from pipelines.store import StationStore

__all__ = [
    "IssueInputs",
    "backtest_network",
    "forecast_config",
    "forecast_target",
    "issue_forecast",
    "load_panel",
    "model_configs",
    "prepare_issue",
    "write_forecast",
    "write_issue",
]

HISTORY_HOURS = 24 * 7
#: Registered-model suffix of the companion models trained without forecast weather.
NO_WEATHER_SUFFIX = "-no-weather"


def load_panel(
    network: str,
    store_root: Path,
    start: str | None = None,
    end: str | None = None,
    *,
    weather: bool = True,
) -> Panel:
    """Valid-masked hourly panel of a network from the store.

    With ``weather`` (default) and a ``forecast_weather`` feed in the network YAML, every stored
    run of that feed is attached (:func:`features.forecast_features.with_weather_forecast`);
    the models see, at each issue time, only the newest run visible then.
    """
    net = load_network(network)
    reg = load_variables()["variables"]
    qc = load_qc(net)
    ds = StationStore(store_root, net, reg).open(start=start, end=end)
    variables = [v for v in ds.data_vars if v in reg]
    valid = mask_invalid(ds, variables, qc["valid_statuses"])
    if pd.Timedelta(net.frequency) < pd.Timedelta("1h"):
        # sub-hourly sondes (15 min): hourly means of the valid readings, so that leads are hours
        valid = valid.resample(time="1h", label="right", closed="right").mean()
    valid = valid.assign_coords(
        lat=("station", ds["lat"].values), lon=("station", ds["lon"].values)
    )
    panel = panel_from_dataset(valid, net.time_zone)
    feed = net.weather_feed() if weather else None
    if feed is not None:
        runs = load_feed_runs(
            Path(store_root) / net.name,
            net,
            feed,
            start=None if start is None else pd.Timestamp(start) - pd.Timedelta(days=10),
            end=end,
        )
        if runs is None:
            raise ValueError(
                f"{net.path}: forecast_weather.feed {feed.name!r} has no stored run for "
                f"{start or 'the start'} .. {end or 'the end'} under {Path(store_root) / net.name}"
                " (run `qingyuan ingest` first); refusing to train or backtest without it"
            )
        panel = with_weather_forecast(panel, runs)
    return panel


def weather_variants(mcfgs: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Companion configs of the learned models without forecast weather (``<name>-no-weather``).

    Registered as ``<network>-<target>-no-weather`` (:data:`NO_WEATHER_SUFFIX`): the fallback
    of ``forecast_weather.fallback: no_weather`` and track (a) of the benchmark.
    """
    out = {}
    for name, mc in mcfgs.items():
        if mc.get("register"):
            params = {**(mc.get("params") or {}), "weather_forecast": False}
            out[f"{name}{NO_WEATHER_SUFFIX}"] = {**mc, "params": params, "no_weather": True}
    return out


def backtest_network(
    network: str,
    store_root: Path,
    targets: list[str] | None = None,
    start: str | None = None,
    end: str | None = None,
    train_end: str | None = None,
    models: list[str] | None = None,
    log_to_mlflow: bool = True,
    out_dir: Path | None = None,
    no_weather: bool | None = None,
) -> dict[str, BacktestResult]:
    """Backtest every target of a network, log each model's run to MLflow, promote champions.

    Dates are local days of the network; defaults come from ``configs/forecast.yml``. When the
    network has a ``forecast_weather`` feed, the learned models train with it; with
    ``no_weather`` (default: ``forecast_weather.fallback == "no_weather"``) each learned model is
    also trained without it (``<model>-no-weather``, registered as
    ``<network>-<target>-no-weather``, the configured fallback when the feed is missing).
    """
    cfg = forecast_config(network)
    net = load_network(network)
    # the network's own window (its YAML) over configs/forecast.yml's backtest.<name>
    bt = {
        **cfg["backtest"].get(net.name, {}),
        **(net.backtest.model_dump(exclude_unset=True) if net.backtest else {}),
    }
    start = start or bt.get("test_start")
    end = end or bt.get("test_end")
    train_end = train_end or bt.get("train_end")
    if not (start and end and train_end):
        raise ValueError(f"no backtest window for {net.name}: give --start/--end/--train-end")
    panel = load_panel(network, store_root)
    tz = net.time_zone
    t_train = local_day_to_utc(str(train_end), tz, end_of_day=True)
    t_start = local_day_to_utc(str(start), tz)
    t_end = local_day_to_utc(str(end), tz, end_of_day=True)
    if t_start <= t_train:
        raise ValueError(f"test start {start} must come after the training end {train_end}")
    models = models or cfg["models"]
    mcfgs = model_configs(models)
    fw = net.forecast_weather
    if no_weather is None:
        no_weather = fw is not None and fw.fallback == "no_weather"
    if no_weather and fw is not None:
        mcfgs |= weather_variants(mcfgs)
    from models.forecast.base import FORECASTERS

    for name, mc in mcfgs.items():
        if mc["forecaster"] not in FORECASTERS:
            raise ValueError(
                f"{config_dir() / 'models' / (name + '.yml')}: field 'forecaster': unknown "
                f"{mc.get('forecaster')!r}; registered: {sorted(FORECASTERS)}"
            )
    missing = missing_inputs(mcfgs, set(panel.values), net.kind)
    for name, absent in missing.items():
        print(
            f"{net.name}: {name} expects {', '.join(absent)}, absent from the store: "
            "it runs without them"
        )
    results = {}
    root = project_root()
    exp_id = tracking.configure(root, cfg["mlflow"]) if log_to_mlflow else None
    commit = tracking.git_commit(root)
    chosen = list(targets or cfg["targets"])
    for target in track(chosen, total=len(chosen), desc=f"backtest {len(mcfgs)} models"):
        if target not in panel.values:
            raise ValueError(
                f"target {target!r} is not a stored variable of {net.name}; stored: {sorted(panel.values)}"
            )
        res = run_backtest(
            panel,
            target,
            mcfgs,
            t_train,
            t_start,
            t_end,
            issue_stride=int(bt.get("issue_stride", 6)),
            max_lead=int(cfg["leads"]),
            quantiles=tuple(cfg["quantiles"]),
            threshold=cfg["thresholds"].get(target),
        )
        results[target] = res
        for name, why in res.failed.items():
            print(f"{net.name} {target}: model {name} FAILED ({why}); the others are scored")
        if out_dir is not None:
            _backtest_figures(res, panel, net.name, target, mcfgs, cfg, out_dir)
        if log_to_mlflow:
            _log_backtest(
                res, net.name, target, mcfgs, cfg, exp_id, commit, panel, t_train, missing
            )
    if results and net.kind == "air":  # daily AQI: air networks only
        daily = _daily_scores(results, panel, net, cfg)
        for res in results.values():
            res.daily = daily
        if out_dir is not None:
            daily.to_csv(out_dir / f"backtest_daily_{net.name}.csv", index=False)
        if log_to_mlflow and not daily.empty:
            _log_daily(daily, net.name, sorted(results), exp_id, commit, results)
    return results


def missing_inputs(
    mcfgs: dict[str, dict[str, Any]], available: set[str], kind: str
) -> dict[str, list[str]]:
    """Model -> the inputs it ``expects`` for this network kind that the store lacks."""
    out = {}
    for name, mc in mcfgs.items():
        absent = [v for v in (mc.get("expects") or {}).get(kind, []) if v not in available]
        if absent:
            out[name] = absent
    return out


def merged_table(old: pd.DataFrame | None, res: BacktestResult) -> tuple[pd.DataFrame, list[str]]:
    """Merge the per-lead table of ``res`` with the rows of other models from an earlier table.

    A backtest of some models replaces their rows only; rows of models it did not run stay when
    they come from the same window (train end, test period, issue stride), since they score the
    same issue times. Each row says which sample it was scored on (``sample``; ``common`` rows of
    different runs may differ in ``n``). Returns the table and the models whose rows were dropped
    because the earlier table is of another window.
    """
    window = {**res.window, "issue_stride": _stride_hours(res)}
    table = res.table.assign(**window)
    if old is None or old.empty:
        return table, []
    same = np.ones(len(old), bool)
    for col, value in window.items():
        same &= old[col].astype(str).to_numpy() == str(value) if col in old else False
    keep = old[same & ~old["model"].isin(res.table["model"]).to_numpy()]
    dropped = sorted(set(old.loc[~same, "model"]) - set(res.table["model"]))
    if keep.empty:
        return table, dropped
    both = pd.concat([keep, table], ignore_index=True)
    return both[list(table.columns) + [c for c in both if c not in table]], dropped


def _backtest_figures(
    res: BacktestResult,
    panel: Panel,
    network: str,
    target: str,
    mcfgs: dict[str, Any],
    cfg: dict[str, Any],
    out_dir: Path,
) -> None:
    """Per-lead table, skill by lead, forecast vs observed (registered models), reliability."""
    from pipelines.forecast.figures import (
        plot_forecast_vs_observed,
        plot_reliability,
        plot_skill_by_lead,
    )

    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"backtest_{network}_{target}.csv"
    old = pd.read_csv(path) if path.is_file() else None
    table, dropped = merged_table(old, res)
    if dropped:
        print(f"{path.name}: rows of {', '.join(dropped)} dropped (another backtest window)")
    table.to_csv(path, index=False)
    plot_skill_by_lead(res, out_dir / f"skill_{network}_{target}.png")
    station = panel.stations[0]
    for name in res.forecasts:
        if mcfgs[name]["register"]:
            plot_forecast_vs_observed(
                res,
                panel.times,
                0,
                station,
                24,
                out_dir / f"forecast_{network}_{target}_{name}_{station}_24h.png",
                model=name,
            )
    threshold = cfg["thresholds"].get(target)
    if threshold is not None:
        leads = [h for h in (6, 24, 72) if h in set(res.leads)]
        plot_reliability(
            res, float(threshold), leads, out_dir / f"reliability_{network}_{target}.png"
        )


def _daily_scores(
    results: dict[str, BacktestResult], panel: Panel, net: NetworkSpec, cfg: dict[str, Any]
) -> pd.DataFrame:
    """D+1..D+3 daily means and daily AQI (HJ 633 by date) scored for models run on every target.

    The AQI is built from the targets that were forecast (all six pollutants when configured).
    """
    reg = load_variables()
    return backtest_daily(
        results,
        panel.times,
        net.time_zone,
        net.time_label,
        aqi_standards(cfg["aqi_family"]),
        reg["variables"],
        reg["reference_conditions"],
        days=tuple(cfg["daily_days"]),
        heavy=float(cfg["thresholds"]["daily_aqi"]),
    )


def _log_daily(
    daily: pd.DataFrame,
    network: str,
    targets: list[str],
    exp_id: str,
    commit: str,
    results: dict[str, BacktestResult],
) -> None:
    """One MLflow run with the daily scores of every model (metric ``<model>.<score>``, step = day)."""
    import tempfile

    window = next(iter(results.values())).window
    with mlflow.start_run(experiment_id=exp_id, run_name=f"{network}-daily-aqi-backtest"):
        mlflow.set_tags(
            {
                "network": network,
                "kind": "backtest-daily",
                "targets": ",".join(targets),
                "code_version": commit,
                "qingyuan_version": code_version(),
                "data_window": json.dumps(window),
            }
        )
        mlflow.log_params({"targets": ",".join(targets), **window})
        for _, row in daily.iterrows():
            for col, val in row.items():
                if col in ("model", "day") or not np.isfinite(val):
                    continue
                mlflow.log_metric(f"{row['model']}.{col}", float(val), step=int(row["day"]))
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / f"daily_scores_{network}.csv"
            daily.to_csv(path, index=False)
            mlflow.log_artifact(str(path))


def _champion_score(table: pd.DataFrame, rule: dict[str, Any]) -> float:
    sel = table[table["lead"].isin(rule["leads"])]
    return float(sel[rule["metric"]].mean())


def _meta(
    panel: Panel, network: str, target: str, max_lead: int, model: Any = None
) -> dict[str, Any]:
    feed = getattr(model, "weather_feed_", None)
    return {
        "weather_feed": feed,
        "weather_variables": list(getattr(model, "weather_variables_", []) or []),
        "weather_synthetic": bool(getattr(model, "weather_synthetic_", False)),
        "network": network,
        "target": target,
        "stations": panel.stations,
        "lat": panel.lat.tolist(),
        "lon": panel.lon.tolist(),
        "time_zone": panel.time_zone,
        "variables": [v for v in panel.values if v not in ("wind_u", "wind_v")],
        "max_lead": max_lead,
    }


def _log_backtest(
    res: BacktestResult,
    network: str,
    target: str,
    mcfgs: dict,
    cfg: dict,
    exp_id: str,
    commit: str,
    panel: Panel,
    t_train: pd.Timestamp,
    missing: dict[str, list[str]] | None = None,
) -> None:
    rule = cfg["champion"]
    missing = missing or {}
    for name, why in res.failed.items():  # a failed model leaves a FAILED run with its error
        mlflow.start_run(experiment_id=exp_id, run_name=f"{network}-{target}-{name}-backtest")
        mlflow.set_tags(
            {
                "network": network,
                "target": target,
                "model": name,
                "kind": "backtest",
                "code_version": commit,
                "data_window": json.dumps(res.window),
                "error": why[:5000],
            }
        )
        mlflow.end_run(status="FAILED")
    last_train = int(panel.times.searchsorted(t_train, side="right") - 1)
    example = history_frame(panel, last_train, HISTORY_HOURS)
    example_weather = panel.nwp.visible_at(panel.times[last_train]) if panel.nwp else None
    runs: dict[str, str] = {}  # MLflow run id -> model, of this backtest
    for name, model in res.fitted.items():
        table = res.table[res.table["model"] == name].drop(columns="model")
        score = _champion_score(table, rule)
        learned = bool(mcfgs[name]["register"])
        suffix = NO_WEATHER_SUFFIX if mcfgs[name].get("no_weather") else ""
        reg_name = f"{network}-{target}{suffix}" if learned else None
        run_id, version = tracking.log_model_run(
            experiment_id=exp_id,
            run_name=f"{network}-{target}-{name}-backtest",
            params={"model": mcfgs[name], "target": target, "window": res.window},
            tags={
                "network": network,
                "target": target,
                "model": name,
                "kind": "backtest",
                "code_version": commit,
                "qingyuan_version": code_version(),
                "data_window": json.dumps(res.window),
                "missing_inputs": ",".join(missing.get(name, [])),
                "common_sample": "+".join(res.sample),
            },
            table=table,
            summary_metrics={
                "champion_score": score,
                "fit_seconds": res.fit_seconds[name],
                "predict_seconds": res.predict_seconds[name],
            },
            model=model if learned else None,
            meta=_meta(panel, network, target, int(cfg["leads"]), model) if learned else None,
            input_example=example if learned else None,
            input_weather=example_weather,
            registered_name=reg_name,
        )
        runs[run_id] = name
        if reg_name and version:
            key = _backtest_key(res)
            comparison = _challenge(reg_name, key, name, res, rule, runs, panel)
            promoted, why = tracking.promote_if_better(
                reg_name, version, score, comparison, backtest_key=key
            )
            mlflow.MlflowClient().set_model_version_tag(
                reg_name, version, "backtest_run_id", run_id
            )
            print(f"{reg_name} v{version}: {'champion' if promoted else 'challenger'} ({why})")


def _backtest_key(res: BacktestResult) -> str:
    """Identity of a backtest: window, issue stride [h] and longest lead [h]."""
    return json.dumps(
        {**res.window, "issue_stride": _stride_hours(res), "leads": int(res.leads[-1])},
        sort_keys=True,
    )


def _stride_hours(res: BacktestResult) -> int:
    return int(res.issue_idx[1] - res.issue_idx[0]) if len(res.issue_idx) > 1 else 0


def _challenge(
    name: str,
    key: str,
    model: str,
    res: BacktestResult,
    rule: dict,
    runs: dict[str, str],
    panel: Panel,
) -> Any:
    """Compare the challenger ``model`` of ``res`` with the current champion on their paired cells.

    The champion's forecasts of this backtest are taken from ``res`` when it was fitted in this
    backtest (``runs``: run id -> model), otherwise its stored forecaster is run on the same issue
    times and leads. Its ``champion_score`` and ``backtest_key`` tags are updated to this
    backtest. Returns None when there is a champion that cannot forecast this backtest (e.g. one
    trained for a shorter horizon, or whose artifact no longer loads), and a
    :class:`~models.forecast.champion.Comparison` otherwise (also when there is no champion).
    """
    import joblib

    from models.forecast.champion import compare

    client = mlflow.MlflowClient()
    try:
        champ = client.get_model_version_by_alias(name, "champion")
    except mlflow.exceptions.MlflowException:
        return None  # promote_if_better promotes the first version
    if champ.run_id in runs:
        mean = res.forecasts[runs[champ.run_id]].mean
    else:
        try:
            local = mlflow.artifacts.download_artifacts(f"models:/{name}/{champ.version}")
            forecaster = joblib.load(Path(local) / "artifacts" / "forecaster.joblib")
            mean = forecaster.predict(panel, res.issue_idx, res.leads).mean
        except Exception as exc:  # noqa: BLE001 - any failure means it cannot serve this backtest
            why = f"cannot forecast the challenger's backtest ({type(exc).__name__}: {exc})"
            print(f"{name} v{champ.version}: {why}")
            client.set_model_version_tag(name, champ.version, "champion_score", "inf")
            client.set_model_version_tag(name, champ.version, "rescore_failed", why[:500])
            client.set_model_version_tag(name, champ.version, "backtest_key", key)
            return None
    stride = _stride_hours(res)
    longest = max(int(k) for k in rule["leads"])
    out = compare(
        res.forecasts[model].mean,
        mean,
        res.observed,
        lead_mask=np.isin(res.leads, rule["leads"]),
        metric=rule["metric"],
        min_improvement=float(rule["min_improvement"]),
        significance=rule.get("significance"),
        lag=max(0, -(-longest // stride) - 1) if stride else 0,
    )
    if champ.tags.get("backtest_key") != key and np.isfinite(out.champion):
        client.set_model_version_tag(name, champ.version, "champion_score", f"{out.champion:.6f}")
        client.set_model_version_tag(name, champ.version, "backtest_key", key)
    return out


@dataclass
class IssueInputs:
    """What every target's forecast of one issue needs (:func:`prepare_issue`).

    Attributes
    ----------
    net : NetworkSpec
        The network.
    t_issue : pandas.Timestamp
        Issue time (UTC, the last complete hour).
    history : pandas.DataFrame
        Long history frame of the last :data:`HISTORY_HOURS` hours (every station).
    recent : dict of numpy.ndarray
        Variable -> per-station bool: observed in the last 6 h.
    weather : dict
        The visible weather-forecast run and its provenance (:func:`_visible_weather`).
    allow_fallback : bool
        Use an older model version when the champion does not load.
    pollutants : list of str
        Air pollutants of the registry (driver groups).
    drivers : str
        Which stations get driver attribution: ``all``, ``at_risk`` or ``none``
        (``configs/forecast.yml``, see :func:`explained_stations`).
    thresholds : dict
        Target -> event threshold [target units] (``thresholds`` of ``configs/forecast.yml``).
    """

    net: NetworkSpec
    t_issue: pd.Timestamp
    history: pd.DataFrame
    recent: dict[str, np.ndarray]
    weather: dict[str, Any]
    allow_fallback: bool
    pollutants: list[str]
    drivers: str = "all"
    thresholds: dict[str, float] = field(default_factory=dict)


def explained_stations(
    frame: pd.DataFrame, target: str, mode: str, thresholds: dict[str, float]
) -> tuple[np.ndarray | None, str]:
    """Stations whose forecast gets driver attribution, and a description of the choice.

    Parameters
    ----------
    frame : pandas.DataFrame
        The target's forecast (``station``, ``lead``, ``mean`` and ``q<level>`` columns), its
        stations in the model's order.
    target : str
        The target.
    mode : str
        ``all``: every station; ``at_risk``: the stations whose highest quantile reaches the
        target's threshold at some lead (every station when the target has no threshold);
        ``none``: no attribution.
    thresholds : dict
        Target -> threshold [target units].

    Returns
    -------
    tuple
        ``(mask, scope)``: an ``S`` boolean mask (None: every station) and the text kept with
        the drivers in the forecast file.
    """
    stations = pd.unique(frame["station"])
    if mode == "none":
        return np.zeros(len(stations), bool), "none"
    if mode == "all" or target not in thresholds:
        why = "" if mode == "all" else f" (at_risk, but {target} has no threshold)"
        return None, f"all {len(stations)} stations{why}"
    qcols = sorted((c for c in frame.columns if c.startswith("q")), key=lambda c: float(c[1:]))
    top = qcols[-1] if qcols else "mean"
    peak = frame.groupby("station", sort=False)[top].max().reindex(stations).to_numpy(float)
    thr = float(thresholds[target])
    mask = np.isfinite(peak) & (peak >= thr)
    scope = (
        f"at_risk: {int(mask.sum())} of {len(stations)} stations whose {top} forecast reaches "
        f"{thr:g} at some lead; the others are NaN"
    )
    return mask, scope


def prepare_issue(
    network: str,
    store_root: Path,
    issue_time: str,
    *,
    allow_fallback: bool | None = None,
    stations: list[str] | None = None,
) -> IssueInputs:
    """Read the history and visible weather of an issue; check the data are recent enough.

    Raises
    ------
    ValueError
        If the issue time has no recent data.
    KeyError
        If ``stations`` names a station the network does not have.
    """
    cfg = forecast_config(network)
    net = load_network(network)
    t_issue = to_utc(pd.Timestamp(issue_time), net.time_zone)
    try:
        panel = load_panel(
            network,
            store_root,
            start=str(t_issue - pd.Timedelta(hours=HISTORY_HOURS)),
            end=str(t_issue),
            weather=False,  # the newest run visible at the issue time only: _visible_weather
        )
    except FileNotFoundError as exc:
        raise ValueError(f"no data before the issue time {issue_time} for {network}") from exc
    if len(panel.times) == 0 or panel.times[-1] < t_issue:
        raise ValueError(f"no data up to the issue time {issue_time} for {network}")
    seen = [np.flatnonzero(np.isfinite(a).any(axis=0)) for a in panel.values.values()]
    last_obs = max((int(x[-1]) for x in seen if len(x)), default=-1)
    max_age = pd.Timedelta(hours=int(cfg["max_data_age_hours"]))
    if last_obs < 0 or panel.times[last_obs] < t_issue - max_age:
        last = panel.times[last_obs] if last_obs >= 0 else "none"
        raise ValueError(
            f"no recent data at the issue time {issue_time} for {network}: last observation {last} UTC"
        )
    # sub-hourly networks are forecast from hourly means: issue at the last complete hour
    end_idx = int(panel.times.searchsorted(t_issue, side="right") - 1)
    if end_idx < 0:
        raise ValueError(f"no data up to the issue time {issue_time} for {network}")
    t_issue = panel.times[end_idx]
    if stations:
        unknown = sorted(set(stations) - set(panel.stations))
        if unknown:
            raise KeyError(f"unknown station(s) {unknown}; {network} has {panel.stations}")
    recent = {
        v: np.isfinite(a[:, max(0, end_idx - 5) : end_idx + 1]).any(axis=1)
        for v, a in panel.values.items()
    }
    return IssueInputs(
        net=net,
        t_issue=t_issue,
        history=history_frame(panel, end_idx, HISTORY_HOURS),
        recent=recent,
        weather=_visible_weather(net, Path(store_root), t_issue),
        allow_fallback=bool(cfg["allow_fallback"] if allow_fallback is None else allow_fallback),
        pollutants=list(pollutants(load_variables())),
        drivers=str(cfg["drivers"]),
        thresholds={k: float(v) for k, v in cfg["thresholds"].items() if k != "daily_aqi"},
    )


def forecast_target(
    inputs: IssueInputs,
    target: str,
    *,
    load_model: Callable[[str], Any] | None = None,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Forecast one target from its champion: the output frame and its provenance entry.

    ``load_model(uri)`` defaults to :func:`mlflow.pyfunc.load_model`; the Dask engine passes a
    per-worker cache (:mod:`pipelines.engine`).

    Raises
    ------
    RuntimeError
        If the champion does not load and no fall-back is allowed.
    """
    load = load_model or mlflow.pyfunc.load_model
    net = inputs.net
    name = f"{net.name}-{target}"
    uri = tracking.champion_uri(name)
    try:
        model = load(uri)
    except Exception as exc:
        if not inputs.allow_fallback:
            raise RuntimeError(
                f"cannot load champion {uri} ({type(exc).__name__}: {exc}); "
                "run `qingyuan train` or set allow_fallback in configs/forecast.yml"
            ) from exc
        model, uri = _fallback(name, exc)
    wx_prov = None
    meta = model.unwrap_python_model().meta or {}
    weather = inputs.weather
    if meta.get("weather_feed") is not None:
        model, uri, wx_prov = _weather_or_fallback(net, name, model, uri, meta, weather)
    py = model.unwrap_python_model()
    nwp = weather["runs"] if wx_prov and wx_prov["status"] == "used" else None
    frame = py.forecast(inputs.history, nwp=nwp)
    provenance: dict[str, Any] = {"model_uri": uri, "mlflow_run_id": model.metadata.run_id}
    if wx_prov is not None:
        provenance["weather_forecast"] = wx_prov
    mask, scope = explained_stations(frame, target, inputs.drivers, inputs.thresholds)
    drivers = None
    if mask is None or mask.any():
        try:  # driver attribution when the model supports it (LightGBM: TreeSHAP)
            kw = {} if mask is None else {"stations": mask}
            drivers = py.drivers(inputs.history, pollutants=inputs.pollutants, nwp=nwp, **kw)
        except (AttributeError, ValueError, KeyError):
            drivers = None
    if drivers is not None:
        provenance["drivers"] = drivers
        provenance["drivers_scope"] = scope
    return frame, provenance


def issue_forecast(
    network: str,
    store_root: Path,
    issue_time: str,
    out_dir: Path,
    targets: list[str] | None = None,
    allow_fallback: bool | None = None,
    stations: list[str] | None = None,
) -> Path:
    """Forecast every target from its champion model and write the CF forecast file.

    :func:`prepare_issue`, then :func:`forecast_target` per target, then
    :func:`write_forecast` (the Dask engine maps the middle step over workers).

    Raises
    ------
    ValueError
        If the issue time has no recent data.
    mlflow.exceptions.MlflowException
        If a champion is missing or corrupt and no fall-back is allowed.
    """
    cfg = forecast_config(network)
    tracking.configure(project_root(), cfg["mlflow"])
    inputs = prepare_issue(
        network, store_root, issue_time, allow_fallback=allow_fallback, stations=stations
    )
    results, provenance = {}, {}
    for target in targets or cfg["targets"]:
        results[target], provenance[target] = forecast_target(inputs, target)
    return write_issue(inputs, results, provenance, out_dir)


def write_issue(
    inputs: IssueInputs,
    results: dict[str, pd.DataFrame],
    provenance: dict[str, dict[str, Any]],
    out_dir: Path,
) -> Path:
    """Write the forecast file of an issue (:func:`write_forecast` with the issue's inputs)."""
    t = inputs.t_issue
    return write_forecast(inputs.net, results, provenance, t, t, inputs.recent, out_dir)


def _visible_weather(net: NetworkSpec, store_root: Path, t_issue: pd.Timestamp) -> dict[str, Any]:
    """Find the newest run of the network's forecast feed visible at the issue time.

    Returns ``{"status": "none"}`` without a forecast feed; else the feed's provenance
    (``feed``, ``synthetic``) with ``runs`` (the one visible run, derived, or None) and, when
    there is none, ``status: missing`` and the ``reason``.
    """
    feed = net.weather_feed()
    if feed is None:
        return {"status": "none", "runs": None}
    runs = load_feed_runs(store_root / net.name, net, feed, issue_time=t_issue)
    base = {"feed": feed.name, "synthetic": feed.synthetic is not None}
    if runs is None:
        why = (
            f"no run of feed {feed.name!r} visible at {t_issue:%Y-%m-%dT%H:%MZ} "
            f"(latency {feed.latency_hours:g} h)"
        )
        return {**base, "status": "missing", "reason": why, "runs": None}
    runs = derive(runs)
    run = runs.run_times[-1]
    base |= {"run_issue_time": f"{run:%Y-%m-%dT%H:%MZ}", "source": runs.source}
    return {**base, "status": "used", "runs": runs, "t_issue": t_issue}


def weather_status(weather: dict[str, Any], meta: dict[str, Any]) -> dict[str, Any]:
    """Can this model forecast from the visible run? Its provenance entry, without the runs.

    ``used`` only when the run is the model's feed, has every variable the model was trained
    with, and every one of them reaches the model's last lead at every station; else
    ``missing`` with the reason (the run fields are kept as ``considered_run``: it was not used).
    """
    prov = {k: v for k, v in weather.items() if k not in ("runs", "t_issue")}
    feed = meta.get("weather_feed")
    runs = weather.get("runs")
    reason = None
    if weather.get("status") == "missing":
        reason = weather.get("reason")
    elif weather.get("feed") != feed:
        reason = (
            f"the model was trained with feed {feed!r}; the network's forecast feed is "
            f"{weather.get('feed')!r}"
        )
    else:
        lacking = [v for v in meta.get("weather_variables", []) if v not in runs.values]
        t_issue, run = weather["t_issue"], runs.run_times[-1]
        need = int((t_issue - run) / pd.Timedelta(hours=1)) + int(meta["max_lead"])
        if lacking:
            reason = f"run {prov['run_issue_time']} of feed {feed!r} lacks {lacking}"
        else:
            finite = np.stack([np.isfinite(runs.values[v][0]) for v in meta["weather_variables"]])
            have = finite.all(axis=0)  # station x period: every variable present
            reach = min(
                int(np.flatnonzero(row)[-1]) if row.any() else -1 for row in have
            )  # the shortest station
            if reach < need:
                reason = (
                    f"run {prov['run_issue_time']} of feed {feed!r} reaches {reach} h, the "
                    f"forecast at {t_issue:%Y-%m-%dT%H:%MZ} needs {need} h "
                    f"(lead {int(meta['max_lead'])} h)"
                )
    if reason is None:
        return prov
    out = {"feed": prov.get("feed", feed), "synthetic": prov.get("synthetic", False)}
    if "run_issue_time" in prov:
        out["considered_run"] = prov["run_issue_time"]
    return out | {"status": "missing", "reason": reason}


def _weather_or_fallback(
    net: NetworkSpec,
    name: str,
    model: Any,
    uri: str,
    meta: dict[str, Any],
    weather: dict[str, Any],
) -> tuple[Any, str, dict[str, Any]]:
    """Keep a weather model when its feed's run serves it; else the configured fallback, or refuse."""
    import logging

    prov = weather_status(weather, meta)
    if prov["status"] == "used":
        return model, uri, prov
    fallback = net.forecast_weather.fallback if net.forecast_weather else "refuse"
    if fallback != "no_weather":
        raise MissingWeatherForecast(
            f"{name}: {prov['reason']}; forecast_weather.fallback is {fallback!r} in "
            f"{net.path}: no forecast issued"
        )
    alt = tracking.champion_uri(f"{name}{NO_WEATHER_SUFFIX}")
    try:
        model = mlflow.pyfunc.load_model(alt)
    except Exception as exc:
        raise MissingWeatherForecast(
            f"{name}: {prov['reason']}; the configured fallback {alt} does not load "
            f"({type(exc).__name__}: {exc})"
        ) from exc
    prov["fallback"] = f"no_weather: {alt}"
    logging.getLogger("qingyuan.forecast").warning(
        "%s: %s -> forecast from %s (forecast_weather.fallback: no_weather)",
        name,
        prov["reason"],
        alt,
    )
    return model, alt, prov


def _fallback(name: str, cause: Exception):
    """Load the newest registered version other than the broken champion (when config allows)."""
    client = mlflow.MlflowClient()
    try:
        champion = client.get_model_version_by_alias(name, "champion").version
    except Exception:
        champion = None
    for v in sorted(client.search_model_versions(f"name='{name}'"), key=lambda v: -int(v.version)):
        if v.version == champion:
            continue
        uri = f"models:/{name}/{v.version}"
        try:
            return mlflow.pyfunc.load_model(uri), uri
        except Exception:  # noqa: S112 - try the next older version
            continue
    raise RuntimeError(
        f"champion of {name} unusable ({cause}) and no older version loads"
    ) from cause


def write_forecast(
    net: NetworkSpec,
    results: dict[str, pd.DataFrame],
    provenance: dict[str, dict],
    issue: pd.Timestamp,
    cutoff: pd.Timestamp,
    recent: dict[str, np.ndarray],
    out_dir: Path,
) -> Path:
    """Write one issued forecast as CF netCDF (kept for later verification).

    The dataset is :func:`models.forecast.dataset.forecast_dataset` of the champions' output
    frames, written by :func:`pipelines.forecast.files.write_forecast` to
    ``<out_dir>/forecasts/<network>/<network>_<issue>Z.nc``.
    """
    forecasts, stations, leads = forecasts_from_frames(results)
    by_id = {s.id: s for s in net.stations}
    attrs = forecast_attrs(
        net.name,
        issue=issue,
        cutoff=cutoff,
        provenance=provenance,
        created=dt.datetime.now(dt.UTC).isoformat(),
        history=f"qingyuan {code_version()} forecast",
    )
    drivers = {
        t: p["drivers"][:, None] for t, p in provenance.items() if p.get("drivers") is not None
    }
    ds = forecast_dataset(
        forecasts,
        stations,
        issue_times=[issue],
        leads=leads,
        lat=[by_id[s].lat for s in stations],
        lon=[by_id[s].lon for s in stations],
        station_names=[by_id[s].name or s for s in stations],
        variables=load_variables()["variables"],
        provenance=provenance,
        drivers=drivers,
        recent=recent,
        attrs=attrs,
        dtype="float32",
    )
    return write_forecast_file(ds, forecast_path(out_dir, net.name, issue))
