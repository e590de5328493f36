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

A city with ``confirmation: required`` holds every step that would send a message for decision
staff (:mod:`pipelines.warnings.confirm` releases or rejects it); held steps are internal and
appear in neither the feed nor the bulletin.
"""

from __future__ import annotations

import json
from collections.abc import Callable
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
from pipelines.warnings.cap import area_circle, message_dict, render_cap
from pipelines.warnings.publish import deliver_city, publish
from pipelines.warnings.reports import WarnReport
from pipelines.warnings.store import MESSAGE_ACTIONS, AppliedDecision, WarningStore

__all__ = [
    "AreaOutlook",
    "WarnReport",
    "area_outlook",
    "area_station_ids",
    "decide_and_apply",
    "deliver_city",
    "held_decision",
    "latest_forecast",
    "message_renderer",
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


def message_renderer(
    scheme: WarningScheme,
    city: CitySettings,
    net: Any,
    area: AreaSpec,
) -> Callable[[dict[str, Any]], tuple[str, str]]:
    """Return the ``render(context) -> (cap_xml, json_text)`` of an area's air-warning messages.

    The one renderer of the air job, used by :func:`decide_and_apply` and by
    :func:`pipelines.warnings.confirm.confirm_pending` (a confirmed step is rendered exactly as
    it would have been without confirmation). The CAP area circle covers the area's stations,
    the expected AQI category comes from the newest standard of the scheme's AQI family, times are
    local (the network's time zone). A message released on confirmation (``confirmed_by`` in the
    context's provenance) names who released it in a CAP ``confirmed_by`` parameter; its JSON has
    it in the provenance.

    Parameters
    ----------
    scheme : WarningScheme
        Levels, measures and AQI family.
    city : CitySettings
        Sender, sender name and CAP status.
    net : NetworkSpec
        The city's network (stations with lat / lon [degrees], time zone).
    area : AreaSpec
        The area of the messages.

    Returns
    -------
    callable
        For :meth:`pipelines.warnings.store.WarningStore.apply`.
    """
    by_id = {s.id: s for s in net.stations}
    ids = area_station_ids(area, net)
    circle = area_circle(
        np.array([by_id[s].lat for s in ids]), np.array([by_id[s].lon for s in ids])
    )
    std = aqi_standards(scheme.aqi_family)[-1]

    def render(ctx: dict[str, Any]) -> tuple[str, str]:
        # render_message, plus the CAP parameter of who released a confirmed message
        msg = message_dict(ctx, scheme, city, area, std, net.time_zone)
        released_by = (ctx.get("provenance") or {}).get("confirmed_by")
        if released_by:
            msg["cap"]["parameters"].append(("confirmed_by", released_by))
        msg["sender_name"] = city.sender_name
        return render_cap(msg, circle), json.dumps(msg, ensure_ascii=False, indent=2, default=str)

    return render


def held_decision(item: dict[str, Any], duplicate: bool = False) -> AppliedDecision:
    """Return the outcome of a decision held for confirmation (action ``held``, nothing sent).

    Parameters
    ----------
    item : dict
        The pending row (:meth:`~pipelines.warnings.store.WarningStore.pending_item`).
    duplicate : bool
        True when the issue time had been held before (nothing changed).

    Returns
    -------
    AppliedDecision
        ``level`` is the proposed level; ``warning_id`` and ``identifier`` are None; ``why``
        names the pending id and the proposed step.
    """
    proposed = f"{item['proposed_action']} {item['proposed_level'] or ''}".rstrip()
    if duplicate:
        why = f"already held as pending #{item['id']} ({item['status']}): proposed {proposed}"
    elif item["status"] == "pending":
        why = f"held for confirmation as pending #{item['id']}: proposed {proposed}"
    else:  # held behind a newer pending decision of the area
        why = f"held as pending #{item['id']}, {item['note']}: proposed {proposed}"
    return AppliedDecision(
        item["city"],
        item["area"],
        pd.Timestamp(item["issue_time"]),
        "held",
        item["proposed_level"],
        None,
        None,
        duplicate,
        why,
    )


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
    *,
    confirm: bool | None = None,
) -> tuple[AreaOutlook, Decision, AppliedDecision]:
    """One area, one issue time: outlook, decision and the persisted lifecycle step.

    Shared by the operational job (:func:`run_warnings`) and the replay
    (:func:`pipelines.warnings.replay.replay`), so both follow exactly the same path.

    Parameters
    ----------
    store : WarningStore
        The lifecycle database.
    scheme, city : WarningScheme, CitySettings
        The loaded city warning file.
    net : NetworkSpec
        The city's network.
    area : AreaSpec
        The area decided.
    ds : xarray.Dataset
        The forecast (layout of the forecast files).
    issue : pandas.Timestamp
        Issue time of the forecast (UTC).
    provenance : dict
        Provenance of the forecast (file, models, runs, data cut-off).
    subscribers : list of dict, optional
        Webhook subscribers of the messages.
    confirm : bool, optional
        Hold a step that would send a message (issue, upgrade, downgrade, extend, lift) for
        confirmation instead of applying it (:meth:`WarningStore.hold`); default: the city's
        ``confirmation == "required"``. Steps that send nothing are applied as always. A replay
        passes False.

    Returns
    -------
    outlook : AreaOutlook
    decision : Decision
    applied : AppliedDecision
        The step applied, or one with action ``held`` (:func:`held_decision`).
    """
    outlook = area_outlook(ds, area, net.time_zone, scheme.aqi_family)
    decision = decide(scheme, issue, outlook.quantiles, outlook.levels, outlook.primary)
    ids = area_station_ids(area, net)
    drivers = area_drivers(ds, idx_of(ds, ids), decision, issue)
    provenance = {**provenance, "top_drivers": drivers, "pollutants": outlook.pollutants}
    if confirm is None:
        confirm = city.confirmation == "required"
    # an issue time already applied goes to apply, which returns the stored outcome
    if confirm and store.decision_at(city.name, area.id, issue) is None:
        before = store.pending_at(city.name, area.id, issue)
        if before is not None:
            return outlook, decision, held_decision(before, duplicate=True)
        step = store.preview(scheme, city.name, area.id, issue, decision)
        if step.action in MESSAGE_ACTIONS:
            pid = store.hold(
                city.name, area.id, issue, decision, provenance, step, cap_status=city.cap_status
            )
            return outlook, decision, held_decision(store.pending_item(pid))
    applied = store.apply(
        scheme,
        city.name,
        area.id,
        issue,
        decision,
        provenance,
        message_renderer(scheme, city, net, area),
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
