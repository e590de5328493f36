"""Jobs an analyst may run from the API: the warning decision of a city on the newest forecast."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from qingyuan.web.accounts import Principal
from qingyuan.web.deps import actor, audit, respond
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
