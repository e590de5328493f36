"""Forecasts: the archive of issued forecast files, and one forecast with quantiles and drivers."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Depends, Query, Request

from pipelines import results as R
from qingyuan.web.accounts import Principal
from qingyuan.web.deps import Page, page_of, reader, respond
from qingyuan.web.params import IDENT, Ident, utc

__all__ = ["router"]

router = APIRouter(tags=["forecasts"])


@router.get("/networks/{network}/forecasts", summary="Forecast archive")
def index(
    request: Request,
    network: Ident,
    page: Page = Depends(),
    who: Principal = Depends(reader("forecasts")),
):
    """Issued forecasts, newest first, with data cut-off, model URIs, MLflow run ids and NWP run."""
    r = R.forecast_index(request.app.state.settings.workspace, network)
    return respond(request, page_of(r.data, page), modified=r.modified, dataset="forecasts")


@router.get("/networks/{network}/forecasts/latest", summary="The newest forecast")
def latest(
    request: Request,
    network: Ident,
    station: str | None = Query(None, pattern=IDENT),
    variable: str | None = Query(None, pattern=r"^[A-Za-z0-9_]{1,64}$"),
    who: Principal = Depends(reader("forecasts")),
):
    """Mean, P10/P50/P90 (the file's quantiles) and driver contributions per station and lead."""
    return _one(request, network, None, station, variable)


@router.get("/networks/{network}/forecasts/{issue_time}", summary="One archived forecast")
def archived(
    request: Request,
    network: Ident,
    issue_time: dt.datetime,
    station: str | None = Query(None, pattern=IDENT),
    variable: str | None = Query(None, pattern=r"^[A-Za-z0-9_]{1,64}$"),
    who: Principal = Depends(reader("forecasts")),
):
    """Return the forecast issued at ``issue_time`` (ISO 8601, UTC)."""
    return _one(request, network, utc(issue_time, "issue_time"), station, variable)


def _one(request: Request, network: str, issue, station, variable):  # noqa: ANN001, ANN202
    r = R.forecast(
        request.app.state.settings.workspace,
        network,
        issue_time=issue,
        station=station,
        variable=variable,
    )
    return respond(request, r.data, modified=r.modified, dataset="forecasts")
