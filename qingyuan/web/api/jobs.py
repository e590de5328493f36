"""Jobs an analyst may run from the API.

The warning decision of a city on the newest forecast, and the enterprise ranking for an
ambient anomaly.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from qingyuan.web.accounts import Principal
from qingyuan.web.deps import actor, audit, require, respond
from qingyuan.web.errors import ApiError
from qingyuan.web.params import Ident, utc

__all__ = ["router"]

router = APIRouter(tags=["jobs"])


class WarnJob(BaseModel):
    """Options of a warning run."""

    model_config = ConfigDict(extra="forbid")
    as_of: dt.datetime | None = Field(
        None, description="The present for the forecast-age check (default: now); ISO 8601."
    )
    deliver: bool = Field(True, description="Deliver the outbox after deciding.")


@router.post("/jobs/warnings/{city}", summary="Run a city's warning decision now")
def run_warning_job(
    request: Request,
    city: Ident,
    body: WarnJob | None = None,
    who: Principal = Depends(actor("job.run")),
):
    """Decide every area of ``city`` from the newest forecast (the same job as ``qingyuan warn``).

    A missing, unreadable or stale forecast changes no warning and is reported as an operational
    alert; a city with ``confirmation: required`` holds its messages for confirmation.
    """
    from pipelines import results as R
    from pipelines.errors import ConfigError
    from pipelines.warnings.job import run_warnings

    body = body or WarnJob()
    ws = request.app.state.settings.workspace
    kinds = {n["name"]: n["kind"] for n in R.networks(ws).data}
    cities = {c["name"]: kinds.get(c["network"]) for c in R.cities(ws).data}
    if city not in cities:
        raise ApiError(404, f"unknown city {city!r}; known: {', '.join(cities)}")
    if cities[city] != "air":
        what = "a supervision alert" if cities[city] == "source" else "a water alert"
        raise ApiError(
            422,
            f"{city!r} is {what} file: run `qingyuan warn --city {city}` (needs the store)",
        )
    try:
        report = run_warnings(city, ws.outputs, now=utc(body.as_of), deliver=body.deliver)
    except (ConfigError, ValueError) as exc:
        raise ApiError(422, str(exc)) from None
    out = {
        "city": report.city,
        "issue_time": None
        if report.issue_time is None
        else f"{report.issue_time:%Y-%m-%dT%H:%M:%SZ}",
        "ops_alert": report.ops_alert,
        "applied": [
            {
                "area": a.area,
                "action": a.action,
                "level": a.level,
                "identifier": a.identifier,
                "why": a.why,
            }
            for a in report.applied
        ],
        "delivery": report.delivery,
    }
    audit(
        request,
        who,
        "job.run",
        dataset="warnings",
        detail={"job": "warnings", "city": city, "ops_alert": report.ops_alert},
    )
    return respond(request, out)


class AttributionJob(BaseModel):
    """Which anomaly to explain (the options of ``qingyuan attribute enterprises``)."""

    model_config = ConfigDict(extra="forbid")
    station: str = Field(..., min_length=1, max_length=100, description="Air station or section.")
    at: dt.datetime = Field(..., description="Time of the anomaly; ISO 8601 (UTC without zone).")
    variable: str | None = Field(
        None, max_length=50, description="Ambient pollutant (default: the most anomalous one)."
    )
    sources: str | None = Field(
        None, max_length=100, description="The kind: source network (default: every one)."
    )


@router.post(
    "/jobs/attribution/{network}", summary="Rank the enterprises for an anomaly of a network"
)
def run_attribution_job(
    request: Request,
    network: Ident,
    body: AttributionJob,
    who: Principal = Depends(actor("job.run")),
):
    """Rank the enterprises for the anomaly at ``station`` and ``at``.

    The same job as ``qingyuan attribute enterprises``: enterprises ranked by how well their
    reported emissions explain the anomaly. The result is stored and
    then listed by ``GET /networks/{network}/attribution/enterprises``. Needs the ``enterprise``
    dataset as well as the right to run jobs.
    """
    from pipelines import results as R
    from pipelines.tracing.enterprises import enterprise_job

    require(request, who, "enterprise")
    ws = request.app.state.settings.workspace
    kinds = {n["name"]: n["kind"] for n in R.networks(ws).data}
    if network not in kinds:
        raise ApiError(404, f"unknown network {network!r}; known: {', '.join(kinds)}")
    if kinds[network] not in ("air", "water"):
        raise ApiError(422, f"{network!r} is a {kinds[network]} network, not air or water")
    try:
        res = enterprise_job(
            network,
            ws.store,
            ws.outputs,
            body.station,
            utc(body.at, "at"),
            variable=body.variable,
            sources=body.sources,
        )
    except (KeyError, ValueError, FileNotFoundError) as exc:
        raise ApiError(422, str(exc).strip("'\"")) from None
    stem = Path(res["files"]["json"]).name.removesuffix(".json")
    audit(
        request,
        who,
        "job.run",
        dataset="enterprise",
        detail={"job": "attribution", "network": network, "result": stem},
    )
    return respond(request, R.attribution(ws, network, stem).data)
