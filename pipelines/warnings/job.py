"""The warning job: forecast file -> area daily AQI -> decision -> lifecycle -> publish -> deliver.

For every area of a city (``configs/warnings/<city>.yml``) the station forecasts of the newest
forecast file are averaged over the area's stations (the area's daily AQI comes from area-mean
concentrations), cut into consecutive 24-h windows from the issue time, turned into daily-AQI
quantiles (HJ 633 by date; :mod:`features.warnings.outlook`) and handed to
:func:`features.warnings.rules.decide`; the lifecycle store persists the step and queues messages;
CAP files, the JSON feed and the bulletin are written; the outbox is delivered. The run itself is
the alert-job skeleton shared with the water alerts (:mod:`pipelines.warnings.alert_job`).

A missing, unreadable or empty forecast file, or one older than ``max_forecast_age_hours``,
changes no warning: an operational alert is recorded and shown in the feed and the bulletin.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from features.warnings.outlook import AreaOutlook, area_station_ids, station_index
from features.warnings.rules import Decision, WarningScheme, decide
from models.forecast.outlook import area_daily_outlook, episode_drivers
from pipelines.config import aqi_standards, load_variables
from pipelines.config.warnings import AreaSpec, CitySettings
from pipelines.forecast.files import ForecastFileError, open_forecast
from pipelines.warnings.alert_job import (
    AlertJob,
    AreaResult,
    OpsAlert,
    load_city,
    open_alert_job,
    run_alert_job,
)
from pipelines.warnings.cap import area_circle, render_message
from pipelines.warnings.publish import deliver_city, publish
from pipelines.warnings.reports import WarnReport
from pipelines.warnings.store import AppliedDecision, WarningStore

__all__ = [
    "AreaOutlook",
    "WarnReport",
    "area_outlook",
    "area_station_ids",
    "decide_and_apply",
    "deliver_city",
    "latest_forecast",
    "publish",
    "run_warnings",
]


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
    """Daily-AQI outlook of an area from a forecast dataset, with the configured AQI tables.

    Loads the family's tables and the variable registry and calls
    :func:`models.forecast.outlook.area_daily_outlook`.
    """
    idx = station_index(ds["station"].values, area.stations)
    if len(idx) == 0:
        raise ValueError(f"area {area.id}: none of its stations is in the forecast file")
    return area_daily_outlook(
        ds,
        idx,
        area_id=area.id,
        time_zone=time_zone,
        standards=aqi_standards(family),
        registry=load_variables(),
    )


#: Driver shares of an area's episode (:func:`models.forecast.outlook.episode_drivers`).
area_drivers = episode_drivers


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
    return station_index(ds["station"].values, ids)


def _provenance(ds: xr.Dataset, path: Path) -> dict[str, Any]:
    return {
        "forecast_file": str(path),
        "model_uris": ds.attrs.get("model_uris", ""),
        "mlflow_run_ids": ds.attrs.get("mlflow_run_ids", ""),
        "data_cutoff": ds.attrs.get("data_cutoff", ""),
        "issue_time": ds.attrs.get("issue_time", ""),
        **(
            {"weather_forecast": ds.attrs["weather_forecast"]}
            if "weather_forecast" in ds.attrs
            else {}
        ),
    }


def _forecast_step(path: Path | None):
    """Return the air kind of the alert job: read the forecast file, decide area by area."""

    def prepare(job: AlertJob, report: WarnReport):
        outputs, net, city = job.outputs, job.net, job.city
        if path is None or not path.is_file():
            msg = f"no forecast file for {net.name} under {outputs / 'forecasts' / net.name}: no warning changed"
            return OpsAlert("forecast_missing", msg)
        try:
            ds = open_forecast(path)
        except ForecastFileError as exc:  # not netCDF, truncated, unreadable, layout incomplete
            return OpsAlert("forecast_unreadable", f"{exc}: no warning changed")
        issue = pd.Timestamp(ds["issue_time"].values[0])
        report.issue_time = issue
        age = (job.now - issue) / pd.Timedelta(hours=1)
        if age > city.max_forecast_age_hours:
            msg = (
                f"forecast {path.name} was issued {age:.0f} h ago (> {city.max_forecast_age_hours:g} h "
                "allowed): no warning changed"
            )
            return OpsAlert("forecast_stale", msg, issue)
        prov = _provenance(ds, path)
        subscribers = [s.model_dump() for s in city.subscribers]

        def decide_area(area: AreaSpec) -> AreaResult:
            outlook, decision, applied = decide_and_apply(
                job.store, job.scheme, city, net, area, ds, issue, prov, subscribers
            )
            return AreaResult(decision, applied, outlook=outlook)

        return decide_area

    return prepare


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
    scheme, city = load_city(city_name)
    job = open_alert_job(scheme, city, outputs, db=db, now=now, cap_status=cap_status)
    path = Path(forecast_path) if forecast_path else latest_forecast(job.outputs, job.net.name)
    report = WarnReport(job.city.name, None, str(path) if path else None)
    return run_alert_job(job, report, _forecast_step(path), deliver=deliver)
