"""Source tracing results: polar plots and CPF, PSCF/CWT, PMF runs, river upstream tracing."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from pipelines import results as R
from qingyuan.web.accounts import Principal
from qingyuan.web.deps import Page, file_response, page_of, reader, respond
from qingyuan.web.errors import ApiError
from qingyuan.web.params import Ident

__all__ = ["router"]

router = APIRouter(tags=["source tracing"])


def _ws(request: Request) -> R.Workspace:
    return request.app.state.settings.workspace


@router.get("/networks/{network}/sources/polar", summary="Polar plots and CPF per station")
def polar(request: Request, network: Ident, who: Principal = Depends(reader("sources"))):
    """Bivariate polar concentration and conditional probability function results."""
    r = R.polar(_ws(request), network)
    return respond(request, r.data, modified=r.modified, dataset="sources")


@router.get("/networks/{network}/sources/trajectory", summary="PSCF and CWT grids")
def trajectory(request: Request, network: Ident, who: Principal = Depends(reader("sources"))):
    """Back-trajectory source maps: potential source contribution and concentration-weighted trajectory."""
    r = R.trajectory(_ws(request), network)
    return respond(request, r.data, modified=r.modified, dataset="sources")


@router.get("/networks/{network}/sources/files/{name}", summary="A source-tracing figure or table")
def source_file(
    request: Request, network: Ident, name: Ident, who: Principal = Depends(reader("sources"))
):
    """Return a file listed by the polar or trajectory results (SVG, PNG, CSV)."""
    return file_response(_checked(request, "network", network, name))


@router.get("/pmf", summary="PMF runs")
def pmf_runs(request: Request, page: Page = Depends(), who: Principal = Depends(reader("sources"))):
    """Positive matrix factorisation runs with their summary (factors, Q, bootstrap mapping)."""
    r = R.pmf_runs(_ws(request))
    return respond(request, page_of(r.data, page), modified=r.modified, dataset="sources")


@router.get("/pmf/{run}", summary="One PMF run")
def pmf_run(request: Request, run: Ident, who: Principal = Depends(reader("sources"))):
    """Factor profiles (concentration and % of species), shares of the total, contributions."""
    r = R.pmf_run(_ws(request), run)
    return respond(request, r.data, modified=r.modified, dataset="sources")


@router.get("/pmf/{run}/files/{name}", summary="A PMF figure or table")
def pmf_file(
    request: Request, run: Ident, name: Ident, who: Principal = Depends(reader("sources"))
):
    """Return a figure or table of a PMF run."""
    return file_response(_checked(request, "PMF run", run, name))


@router.get("/networks/{network}/water/trace", summary="River upstream tracing results")
def water_trace(request: Request, network: Ident, who: Principal = Depends(reader("sources"))):
    """Upstream tracing of a water section's exceedances (lags, candidate reaches)."""
    r = R.water_trace(_ws(request), network)
    return respond(request, r.data, modified=r.modified, dataset="sources")


@router.get(
    "/networks/{network}/attribution/enterprises",
    summary="Enterprise rankings for the anomalies of an air or water network",
)
def enterprise_attributions(
    request: Request,
    network: Ident,
    page: Page = Depends(),
    who: Principal = Depends(reader("enterprise")),
):
    """Every analysed anomaly (station, variable, hour, excess) with its three best-ranked enterprises.

    Rankings name enterprises, so they need the ``enterprise`` dataset. They are written by
    ``qingyuan attribute enterprises``, the main run and ``POST /jobs/attribution/{network}``.
    """
    r = R.attributions(_ws(request), network)
    body = page_of(r.data, page)
    body["network"] = network
    return respond(request, body, modified=r.modified, dataset="enterprise")


@router.get(
    "/networks/{network}/attribution/enterprises/{result}",
    summary="One enterprise ranking with its evidence and provenance",
)
def enterprise_attribution(
    request: Request,
    network: Ident,
    result: Ident,
    who: Principal = Depends(reader("enterprise")),
):
    """Return one ranking with its notes and provenance.

    Every enterprise in range with its score, share, distance, bearing, lag, status and
    evidence hours; the provenance gives the data cut-off, wind field and parameters.
    """
    r = R.attribution(_ws(request), network, result)
    return respond(request, r.data, modified=r.modified, dataset="enterprise")


#: What the file routes serve: figures and tables (not JSON summaries that hold server paths).
_SERVED = (".svg", ".png", ".csv", ".csv.gz")


def _checked(request: Request, kind: str, owner: str, name: str):  # noqa: ANN202
    """Resolve the file ``name`` of a network's tracing or a PMF run (only ``_SERVED`` kinds)."""
    ws = _ws(request)
    if not name.lower().endswith(_SERVED):
        raise ApiError(404, f"only figures and tables are served ({', '.join(_SERVED)})")
    owners = (
        [n["name"] for n in R.networks(ws).data]
        if kind == "network"
        else [r["name"] for r in R.pmf_runs(ws).data]
    )
    if owner not in owners:
        raise ApiError(404, f"unknown {kind} {owner!r}")
    return R.artifact_path(ws, owner, name)
