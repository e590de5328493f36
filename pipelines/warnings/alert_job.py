"""The one skeleton of an alert job, shared by the air warnings and the water alerts.

Both jobs do the same around their own decision: load the warning file and its network, open the
lifecycle store, read their input (a forecast file for air, station readings for water), decide
every area and apply the lifecycle step in the store, write the CAP files, feed and bulletin,
deliver the outbox and report. An input that is missing, unreadable or too old changes nothing:
an operational alert is recorded and published instead.

A job kind supplies one function, ``prepare(job, report)``, which reads its input and returns
either an :class:`OpsAlert` or the per-area step ``decide(area) -> AreaResult``;
:func:`run_alert_job` does the rest.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from features.times import naive_utc, utc_now
from features.warnings.outlook import AreaOutlook
from features.warnings.rules import Decision, WarningScheme
from pipelines.config import load_network
from pipelines.config.warnings import AreaSpec, CitySettings, load_warning_config
from pipelines.warnings.publish import deliver_city, publish
from pipelines.warnings.reports import WarnReport
from pipelines.warnings.store import AppliedDecision, WarningStore

__all__ = [
    "AlertJob",
    "AreaResult",
    "OpsAlert",
    "load_city",
    "open_alert_job",
    "run_alert_job",
]


@dataclass
class AlertJob:
    """Everything one run of an alert job works with."""

    scheme: WarningScheme
    city: CitySettings
    net: Any  # NetworkSpec
    store: WarningStore
    outputs: Path
    now: pd.Timestamp  # naive UTC


@dataclass
class OpsAlert:
    """Why a run changes no warning (``kind`` as stored, e.g. ``forecast_stale``)."""

    kind: str
    message: str
    issue_time: pd.Timestamp | None = None


@dataclass
class AreaResult:
    """One area's decision and the lifecycle step applied in the store."""

    decision: Decision
    applied: AppliedDecision
    outlook: AreaOutlook | None = None
    chart: str | None = None  # inline PNG (base64)


AreaStep = Callable[[AreaSpec], AreaResult]


def load_city(city_name: str) -> tuple[WarningScheme, CitySettings]:
    """Load a city (or water) warning file; a scheme file without areas is refused."""
    scheme, city = load_warning_config(city_name)
    if city is None:
        raise ValueError(f"{city_name} is a scheme, not a city: it has no network and no areas")
    return scheme, city


def open_alert_job(
    scheme: WarningScheme,
    city: CitySettings,
    outputs: Path,
    *,
    db: Path | None = None,
    now: pd.Timestamp | None = None,
    cap_status: str | None = None,
) -> AlertJob:
    """Resolve the network, open the lifecycle store and fix the present of one run.

    Parameters
    ----------
    scheme, city : WarningScheme, CitySettings
        The loaded warning file (:func:`load_city`).
    outputs : pathlib.Path
        Outputs root; the database defaults to ``warnings/warnings.db`` under it.
    db : pathlib.Path, optional
        Lifecycle database.
    now : pandas.Timestamp, optional
        The present (UTC, naive or aware); default: the wall clock.
    cap_status : str, optional
        Override of the city's CAP ``status`` (e.g. ``Exercise``).
    """
    if cap_status:
        city = city.model_copy(update={"cap_status": cap_status})
    outputs = Path(outputs)
    return AlertJob(
        scheme=scheme,
        city=city,
        net=load_network(city.network),
        store=WarningStore(db or outputs / "warnings" / "warnings.db"),
        outputs=outputs,
        now=naive_utc(pd.Timestamp(now)) if now is not None else utc_now(),
    )


def run_alert_job(
    job: AlertJob,
    report: WarnReport,
    prepare: Callable[[AlertJob, WarnReport], OpsAlert | AreaStep],
    *,
    deliver: bool = True,
    write_outputs: bool = True,
) -> WarnReport:
    """Run one alert job: input, per-area decision and lifecycle, publishing, delivery.

    Parameters
    ----------
    job : AlertJob
        From :func:`open_alert_job`.
    report : WarnReport
        The report to fill (its ``forecast_file`` names the input).
    prepare : callable
        ``prepare(job, report)`` reads the input (and may set ``report.issue_time``); it returns
        an :class:`OpsAlert` when nothing may change, else the per-area step.
    deliver : bool
        Deliver the due outbox rows after a run that decided.
    write_outputs : bool
        Write the CAP files, feed and bulletin.

    Returns
    -------
    WarnReport
        ``report``, filled.
    """
    step = prepare(job, report)
    if isinstance(step, OpsAlert):
        job.store.record_ops_alert(job.city.name, step.kind, step.message, step.issue_time)
        report.ops_alert = step.message
        if write_outputs:
            publish(job.store, job.scheme, job.city, report, job.outputs)
        return report
    for area in job.city.areas:
        res = step(area)
        if res.outlook is not None:
            report.outlooks[area.id] = res.outlook
        report.decisions[area.id] = res.decision
        report.applied.append(res.applied)
        if res.chart is not None:
            report.charts[area.id] = res.chart
    if write_outputs:
        publish(job.store, job.scheme, job.city, report, job.outputs)
    if deliver:
        report.delivery = deliver_city(job.store.path, job.city)
    return report
