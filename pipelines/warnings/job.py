"""The warning job: forecast file -> area daily AQI -> decision -> lifecycle -> publish -> deliver.

For every area of a city (``configs/warnings/<city>.yml``) the station forecasts of the newest
forecast file are averaged over the area's stations (the area's daily AQI comes from area-mean
concentrations), cut into consecutive 24-h windows from the issue time, turned into daily-AQI
quantiles (HJ 633 by date) and handed to :func:`features.warnings.rules.decide`; the lifecycle
store persists the step and queues messages; CAP files, the JSON feed and the bulletin are
written; the outbox is delivered.

A missing, unreadable or empty forecast file, or one older than ``max_forecast_age_hours``,
changes no warning: an operational alert is recorded and shown in the feed and the bulletin.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from features.warnings.rules import Decision, WarningScheme, decide
from models.forecast.base import Forecast
from models.forecast.daily import daily_forecast, rolling_day_columns
from pipelines.config import aqi_standards, load_network, load_variables
from pipelines.config.warnings import AreaSpec, CitySettings, load_warning_config
from pipelines.warnings.cap import area_circle, render_message
from pipelines.warnings.outbox import deliver_due, outbox_status
from pipelines.warnings.store import AppliedDecision, WarningStore

__all__ = [
    "AreaOutlook",
    "WarnReport",
    "area_outlook",
    "area_station_ids",
    "decide_and_apply",
    "deliver_city",
    "latest_forecast",
    "run_warnings",
]


@dataclass
class AreaOutlook:
    """Daily AQI outlook of one area: rolling 24-h windows from the issue time."""

    area: str
    starts: list[pd.Timestamp]  # UTC window starts
    quantiles: np.ndarray  # D x Q daily AQI
    levels: tuple[float, ...]
    median: np.ndarray  # D daily AQI of the median path
    primary: list[str]  # D primary pollutants of the median path
    pollutants: list[str]


@dataclass
class WarnReport:
    """What one warning run did."""

    city: str
    issue_time: pd.Timestamp | None
    forecast_file: str | None
    applied: list[AppliedDecision] = field(default_factory=list)
    outlooks: dict[str, AreaOutlook] = field(default_factory=dict)
    decisions: dict[str, Decision] = field(default_factory=dict)
    charts: dict[str, str] = field(default_factory=dict)  # area -> inline PNG (base64)
    ops_alert: str | None = None
    outputs: dict[str, str] = field(default_factory=dict)
    delivery: dict[str, int] = field(default_factory=dict)


def latest_forecast(outputs: Path, network: str) -> Path | None:
    """Newest forecast file of a network under ``outputs/forecasts/<network>/``."""
    files = sorted((Path(outputs) / "forecasts" / network).glob(f"{network}_*Z.nc"))
    return files[-1] if files else None


def area_outlook(
    ds: xr.Dataset,
    area: AreaSpec,
    time_zone: str,
    family: str = "hj633",
) -> AreaOutlook:
    """Daily-AQI quantiles of an area from a forecast dataset (pure apart from config reads).

    The area-mean of every pollutant's mean and quantile forecasts is taken over the area's
    stations (quantiles averaged comonotonically, as in :mod:`models.forecast.daily`).
    """
    stations = [str(s) for s in ds["station"].values]
    idx = (
        np.arange(len(stations))
        if area.stations == "all"
        else np.array([stations.index(s) for s in area.stations if s in stations])
    )
    if len(idx) == 0:
        raise ValueError(f"area {area.id}: none of its stations is in the forecast file")
    issue = pd.DatetimeIndex(ds["issue_time"].values[:1])
    leads = ds["lead_time"].values.astype(int)
    levels = tuple(float(q) for q in ds["quantile"].values)
    forecasts = {}
    for var in ds.data_vars:
        if not var.endswith("_mean"):
            continue
        v = var[: -len("_mean")]
        with np.errstate(all="ignore"):
            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                mean = np.nanmean(ds[f"{v}_mean"].values[idx], axis=0, keepdims=True)
                q = np.nanmean(ds[f"{v}_quantile"].values[idx], axis=0, keepdims=True)
        forecasts[v] = Forecast(mean, q, levels)
    cols, dates = rolling_day_columns(issue, len(leads), time_zone)
    reg = load_variables()
    daily = daily_forecast(
        forecasts,
        issue,
        leads,
        time_zone,
        "interval_end",
        aqi_standards(family),
        reg["variables"],
        reg["reference_conditions"],
        days=tuple(range(1, cols.shape[1] + 1)),
        columns=cols,
        dates=dates,
    )
    D = cols.shape[1]
    return AreaOutlook(
        area=area.id,
        starts=[issue[0] + pd.Timedelta(hours=24 * d) for d in range(D)],
        quantiles=daily.quantiles["aqi"][0, 0],
        levels=levels,
        median=daily.point["aqi"][0, 0],
        primary=[str(p) for p in daily.primary[0, 0]],
        pollutants=sorted(forecasts),
    )


def area_station_ids(area: AreaSpec, net: Any) -> list[str]:
    """Station ids of an area (``all`` = every station of the network)."""
    return [s.id for s in net.stations] if area.stations == "all" else list(area.stations)


def decide_and_apply(
    store: WarningStore,
    scheme: WarningScheme,
    city: CitySettings,
    net: Any,
    area: AreaSpec,
    ds: xr.Dataset,
    issue: pd.Timestamp,
    provenance: dict[str, Any],
    subscribers: list[dict[str, Any]] | None = None,
) -> tuple[AreaOutlook, Decision, AppliedDecision]:
    """One area, one issue time: outlook, decision and the persisted lifecycle step.

    Shared by the operational job (:func:`run_warnings`) and the replay
    (:func:`pipelines.warnings.replay.replay`), so both follow exactly the same path.
    """
    outlook = area_outlook(ds, area, net.time_zone, scheme.aqi_family)
    decision = decide(scheme, issue, outlook.quantiles, outlook.levels, outlook.primary)
    by_id = {s.id: s for s in net.stations}
    ids = area_station_ids(area, net)
    circle = area_circle(
        np.array([by_id[s].lat for s in ids]), np.array([by_id[s].lon for s in ids])
    )
    std = aqi_standards(scheme.aqi_family)[-1]
    drivers = area_drivers(ds, idx_of(ds, ids), decision, issue)
    provenance = {**provenance, "top_drivers": drivers}

    def render(ctx: dict[str, Any]) -> tuple[str, str]:
        return render_message(ctx, scheme, city, area, std, net.time_zone, circle)

    applied = store.apply(
        scheme,
        city.name,
        area.id,
        issue,
        decision,
        {**provenance, "pollutants": outlook.pollutants},
        render,
        subscribers,
    )
    return outlook, decision, applied


def idx_of(ds: xr.Dataset, ids: list[str]) -> np.ndarray:
    """Positions of station ids in a forecast file."""
    stations = [str(s) for s in ds["station"].values]
    return np.array([stations.index(s) for s in ids if s in stations], int)


def area_drivers(
    ds: xr.Dataset, idx: np.ndarray, decision: Decision, issue: pd.Timestamp
) -> dict[str, Any] | None:
    """Driver shares of the primary pollutant's forecast over the episode (or the first 72 h).

    Averaged over the area's stations and the hours of the episode from the forecast file's
    ``<pollutant>_drivers`` (:mod:`models.forecast.drivers`); None when the model gave no attribution.
    """
    from models.forecast.drivers import summarise_drivers

    pollutant = decision.primary_pollutant or "pm25"
    var = f"{pollutant}_drivers" if f"{pollutant}_drivers" in ds else "pm25_drivers"
    if var not in ds or not len(idx):
        return None
    leads = ds["lead_time"].values.astype(int)
    if decision.start is not None and decision.end is not None:
        h0 = (decision.start - issue) / pd.Timedelta(hours=1)
        h1 = (decision.end - issue) / pd.Timedelta(hours=1)
        window = (leads > h0) & (leads <= h1)
        period = "episode"
    else:
        window = leads <= 72
        period = "first 72 h"
    vals = ds[var].values[idx, 0][:, window]
    return {
        "pollutant": var.removesuffix("_drivers"),
        "period": period,
        "model_uri": ds[var].attrs.get("model_uri", ""),
        "groups": summarise_drivers(vals),
    }


def _provenance(ds: xr.Dataset, path: Path) -> dict[str, Any]:
    return {
        "forecast_file": str(path),
        "model_uris": ds.attrs.get("model_uris", ""),
        "mlflow_run_ids": ds.attrs.get("mlflow_run_ids", ""),
        "data_cutoff": ds.attrs.get("data_cutoff", ""),
        "issue_time": ds.attrs.get("issue_time", ""),
    }


def run_warnings(
    city_name: str,
    outputs: Path,
    forecast_path: Path | None = None,
    now: pd.Timestamp | None = None,
    db: Path | None = None,
    deliver: bool = True,
    cap_status: str | None = None,
) -> WarnReport:
    """Run the warning decision for every area of a city and publish the result.

    Parameters
    ----------
    city_name : str
        City warning file (``configs/warnings/<city>.yml``).
    outputs : pathlib.Path
        Outputs root: forecasts are read from ``forecasts/<network>/``, warnings are written to
        ``warnings/<city>/`` and the database defaults to ``warnings/warnings.db``.
    forecast_path : pathlib.Path, optional
        A specific forecast file (default: the newest of the network).
    now : pandas.Timestamp, optional
        The present (UTC) for the age check; default: the wall clock.
    cap_status : str, optional
        Override of the city's CAP ``status`` (e.g. ``Exercise`` for drills and demo data).
    """
    scheme, city = load_warning_config(city_name)
    if city is None:
        raise ValueError(f"{city_name} is a scheme, not a city: it has no network and no areas")
    if cap_status:
        city = city.model_copy(update={"cap_status": cap_status})
    net = load_network(city.network)
    outputs = Path(outputs)
    store = WarningStore(db or outputs / "warnings" / "warnings.db")
    now = pd.Timestamp(now) if now is not None else pd.Timestamp.now("UTC").tz_localize(None)
    if now.tzinfo is not None:
        now = now.tz_convert("UTC").tz_localize(None)
    path = Path(forecast_path) if forecast_path else latest_forecast(outputs, net.name)
    report = WarnReport(city.name, None, str(path) if path else None)
    if path is None or not path.is_file():
        msg = f"no forecast file for {net.name} under {outputs / 'forecasts' / net.name}: no warning changed"
        store.record_ops_alert(city.name, "forecast_missing", msg)
        report.ops_alert = msg
        publish(store, scheme, city, report, outputs)
        return report
    problem = None
    try:
        with xr.open_dataset(path) as ds:
            ds = ds.load()
        missing = [v for v in ("issue_time", "lead_time", "quantile", "station") if v not in ds]
        if missing:
            problem = f"lacks {missing}"
        elif not [v for v in ds.data_vars if str(v).endswith("_quantile")]:
            problem = "holds no pollutant forecast (no <pollutant>_quantile variable)"
    except (OSError, ValueError) as exc:  # not netCDF, truncated, unreadable
        problem = f"cannot be read ({type(exc).__name__}: {exc})"
    if problem:
        msg = f"forecast file {path}: {problem}: no warning changed"
        store.record_ops_alert(city.name, "forecast_unreadable", msg)
        report.ops_alert = msg
        publish(store, scheme, city, report, outputs)
        return report
    issue = pd.Timestamp(ds["issue_time"].values[0])
    report.issue_time = issue
    age = (now - issue) / pd.Timedelta(hours=1)
    if age > city.max_forecast_age_hours:
        msg = (
            f"forecast {path.name} was issued {age:.0f} h ago (> {city.max_forecast_age_hours:g} h "
            "allowed): no warning changed"
        )
        store.record_ops_alert(city.name, "forecast_stale", msg, issue)
        report.ops_alert = msg
        publish(store, scheme, city, report, outputs)
        return report
    prov = _provenance(ds, path)
    subscribers = [s.model_dump() for s in city.subscribers]
    for area in city.areas:
        outlook, decision, applied = decide_and_apply(
            store, scheme, city, net, area, ds, issue, prov, subscribers
        )
        report.outlooks[area.id] = outlook
        report.decisions[area.id] = decision
        report.applied.append(applied)
    publish(store, scheme, city, report, outputs)
    if deliver:
        report.delivery = deliver_city(store.path, city)
    return report


def deliver_city(db: Path, city: CitySettings | None) -> dict[str, int]:
    """Deliver the due outbox rows with the city's retry settings (``outbox:`` block)."""
    opts = city.outbox if city else {}
    return deliver_due(
        db,
        max_attempts=int(opts.get("max_attempts", 8)),
        backoff_s=float(opts.get("backoff_s", 30)),
    )


def publish(
    store: WarningStore,
    scheme: WarningScheme,
    city: CitySettings,
    report: WarnReport,
    outputs: Path,
) -> None:
    """Write CAP files of new messages, the JSON feed and the bulletin under ``warnings/<city>/``."""
    from pipelines.warnings.bulletin import write_bulletin

    out = Path(outputs) / "warnings" / city.name
    (out / "cap").mkdir(parents=True, exist_ok=True)
    for m in store.messages(city.name, limit=1_000_000):  # every message has its CAP file
        f = out / "cap" / f"{m['identifier']}.xml"
        if not f.exists():
            tmp = f.with_suffix(".tmp")
            tmp.write_text(m["cap_xml"], encoding="utf-8")
            tmp.replace(f)
    messages = store.messages(city.name, limit=200)
    active = store.active(city.name)
    by_id = {m["identifier"]: json.loads(m["json"]) for m in messages}
    feed = {
        "city": city.name,
        "generated": dt.datetime.now(dt.UTC).isoformat(),
        "forecast_issue_time": str(report.issue_time) if report.issue_time is not None else None,
        "forecast_file": report.forecast_file,
        "ops_alerts": store.ops_alerts(city.name)[-20:],
        "active": [{**w, "message": by_id.get(w["last_identifier"])} for w in active],
        "decisions": [
            {
                "area": a.area,
                "action": a.action,
                "level": a.level,
                "identifier": a.identifier,
                "duplicate": a.duplicate,
                "why": a.why,
            }
            for a in report.applied
        ],
        "messages": [json.loads(m["json"]) for m in messages],
        "outbox": outbox_status(store.path),
    }
    feed_path = out / "feed.json"
    tmp = feed_path.with_suffix(".tmp")
    tmp.write_text(json.dumps(feed, ensure_ascii=False, indent=2, default=str), encoding="utf-8")
    tmp.replace(feed_path)
    latest = [a.identifier for a in report.applied if a.identifier]
    report.outputs = {
        "feed": str(feed_path),
        "cap_dir": str(out / "cap"),
        "new_cap": [str(out / "cap" / f"{i}.xml") for i in latest],  # type: ignore[dict-item]
        "bulletin": str(write_bulletin(out / "bulletin.html", scheme, city, report, active, by_id)),
        "database": str(store.path),
    }
