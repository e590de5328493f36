"""Networks, stations, the map status, published AQI (hourly, daily) and water class."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request

from pipelines import results as R
from qingyuan.web.accounts import Principal
from qingyuan.web.deps import (
    Page,
    kind_dataset,
    network_reader,
    page_of,
    readable_kind,
    reader,
    respond,
)
from qingyuan.web.errors import ApiError
from qingyuan.web.params import IDENT, Ident, TimeRange, utc

__all__ = ["router"]

_READ_STATIONS = network_reader("stations")  # by the network's kind (access.yml by_kind)
_READ_STATUS = network_reader("status")  # by the network's kind (access.yml by_kind)

router = APIRouter(tags=["networks, stations, AQI, water class and pollution sources"])


def _ws(request: Request) -> R.Workspace:
    return request.app.state.settings.workspace


def _network(request: Request, network: str) -> dict:
    for n in R.networks(_ws(request)).data:
        if n["name"] == network:
            return n
    known = ", ".join(n["name"] for n in R.networks(_ws(request)).data)
    raise ApiError(404, f"unknown network {network!r}; known: {known}")


@router.get("/networks", summary="Monitoring networks")
def networks(
    request: Request, page: Page = Depends(), who: Principal = Depends(reader("networks"))
):
    """Every configured network: kind, time zone, stations, stored variables and period.

    A network whose kind requires a dataset the caller may not read (``by_kind`` of
    ``configs/access.yml``: pollution-source networks need ``enterprise``) is left out.
    """
    r = R.networks(_ws(request))
    shown = [n for n in r.data if readable_kind(request, who, "networks", n["kind"])]
    return respond(request, page_of(shown, page), modified=r.modified, dataset="networks")


@router.get("/networks/{network}/stations", summary="Stations of a network")
def stations(
    request: Request,
    network: Ident,
    page: Page = Depends(),
    who: Principal = Depends(_READ_STATIONS),
):
    """Stations (air), sections (water) or stacks and outfalls (source) with coordinates.

    A source network's stations require the ``enterprise`` dataset (they name enterprises).
    """
    r = R.stations(_ws(request), network)
    ds = kind_dataset(request, "stations", _network(request, network)["kind"])
    return respond(request, page_of(r.data, page), modified=r.modified, dataset=ds)


@router.get(
    "/networks/{network}/status",
    summary="Current AQI category, water class or discharge status per station",
)
def status(request: Request, network: Ident, who: Principal = Depends(_READ_STATUS)):
    """Return the map's data: the latest state of every station.

    Air: the latest published AQI (dataset ``aqi``); water: the water class (``water_class``);
    source: each stack's or outfall's latest compared values against its discharge limits and
    its enterprise's supervision alert in force (``enterprise``). The dataset per kind is
    ``by_kind`` of ``configs/access.yml``.
    """
    kind = _network(request, network)["kind"]
    dataset = kind_dataset(request, "status", kind)
    r = R.current_status(_ws(request), network)
    return respond(
        request,
        {"network": network, "kind": kind, "stations": r.data},
        modified=r.modified,
        dataset=dataset,
    )


@router.get("/networks/{network}/enterprises", summary="Enterprises of a pollution-source network")
def enterprises(
    request: Request,
    network: Ident,
    page: Page = Depends(),
    who: Principal = Depends(reader("enterprise")),
):
    """Enterprises with their stacks and outfalls, discharge standards and latest status.

    Per enterprise: id, names, industry, position, ``synthetic``, ``alert`` (the most severe
    supervision alert in force) and ``stations``: medium (air stack / water outfall), stack
    height, standard and class with the limits (permit overrides marked), and ``latest``: the
    newest hour's compared value per pollutant (flue gas corrected to the reference O2), its
    limit, ratio, exceedance and HJ 212 flag. Single hours are compared: for daily-mean
    (wastewater) standards ``latest`` is indicative, the alert decides. MNs and data-logger
    passwords are never returned. Only ``kind: source`` networks have enterprises (404
    otherwise).
    """
    r = R.enterprises(_ws(request), network)
    body = page_of(r.data, page)
    body["network"] = network
    return respond(request, body, modified=r.modified, dataset="enterprise")


def _records(df) -> list[dict]:  # noqa: ANN001 - DataFrame
    out = df.reset_index()
    for c in out.columns:
        if str(out[c].dtype).startswith("datetime64"):
            out[c] = out[c].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    return out.astype(object).where(out.notna(), None).to_dict(orient="records")


@router.get("/networks/{network}/stations/{station}/aqi/hourly", summary="Hourly AQI of a station")
def hourly_aqi(
    request: Request,
    network: Ident,
    station: Ident,
    span: TimeRange = Depends(),
    page: Page = Depends(),
    who: Principal = Depends(reader("aqi")),
):
    """Hourly IAQI per pollutant, AQI, primary pollutant and category (HJ 633 by date).

    Default range: the last 7 days of the record.
    """
    last = _last_time(request, network)
    start, end = span.resolve(last, default_days=7)
    r = R.hourly_aqi(_ws(request), network, station, start=start, end=end)
    return respond(request, page_of(_records(r.data), page), modified=r.modified, dataset="aqi")


@router.get("/networks/{network}/aqi/daily", summary="Daily AQI")
def daily_aqi(
    request: Request,
    network: Ident,
    station: str | None = Query(None, pattern=IDENT),
    span: TimeRange = Depends(),
    page: Page = Depends(),
    who: Principal = Depends(reader("aqi")),
):
    """Daily AQI records (station, local date, AQI, category, primary pollutant)."""
    r = R.daily_aqi(_ws(request), network, station=station, start=span.start, end=span.end)
    return respond(request, page_of(_as_list(r.data), page), modified=r.modified, dataset="aqi")


@router.get("/networks/{network}/water-class", summary="Daily water quality class")
def water_class(
    request: Request,
    network: Ident,
    station: str | None = Query(None, pattern=IDENT),
    span: TimeRange = Depends(),
    page: Page = Depends(),
    who: Principal = Depends(reader("water_class")),
):
    """Daily GB 3838 class per section (and the limiting parameter where known)."""
    r = R.water_class(_ws(request), network, station=station, start=span.start, end=span.end)
    return respond(
        request, page_of(_as_list(r.data), page), modified=r.modified, dataset="water_class"
    )


def _as_list(data) -> list:  # noqa: ANN001
    return _records(data) if hasattr(data, "reset_index") else list(data)


def _last_time(request: Request, network: str):  # noqa: ANN202
    import pandas as pd

    n = R.intact(_network(request, network))
    return utc(pd.Timestamp(n["last_time"])) if n.get("last_time") else None
