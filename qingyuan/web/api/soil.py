"""Soil results (issue #18): risk classes per analyte, hot spots, kriged maps and their CV."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from pipelines import results as R
from qingyuan.web.accounts import Principal
from qingyuan.web.deps import Page, file_response, page_of, reader, require, respond, reveal
from qingyuan.web.params import Ident

__all__ = ["router", "soil_view"]

router = APIRouter(tags=["soil"])


def soil_view(request: Request, who: Principal, network: str) -> R.Read:
    """Return a soil network's results as ``who`` may see them.

    The hot spots (plots with their coordinates) and the per-sample tables are kept only for a
    role that may read ``soil_samples``.
    """
    r = R.soil(request.app.state.settings.workspace, network)
    if reveal(request, who, "soil_samples"):
        return r
    data: dict[str, Any] = dict(r.data)
    if data.get("summary"):
        data["summary"] = {k: v for k, v in data["summary"].items() if k != "hot_spots"}
    data["tables"] = [n for n in data["tables"] if not R.is_sample_table(n)]
    return R.Read(data, r.modified, r.sources)


@router.get("/soil", summary="Soil networks")
def soil_networks(
    request: Request, page: Page = Depends(), who: Principal = Depends(reader("soil"))
):
    """List every ``kind: soil`` network with what was stored, assessed and mapped."""
    r = R.soil_networks(request.app.state.settings.workspace)
    return respond(request, page_of(r.data, page), modified=r.modified, dataset="soil")


@router.get("/soil/{network}", summary="A soil network's assessment, maps and cross-validation")
def soil_network(request: Request, network: Ident, who: Principal = Depends(reader("soil"))):
    """Return the assessment, maps and cross-validation of a soil network.

    Samples, share per risk class (GB 15618 / GB 36600) and analyte, the change between
    campaigns, the kriging cross-validation (vs IDW), the figures and grid, the assumptions.

    Hot spots (plot, Nemerow index, worst class, controlling analyte, coordinates) are
    included for roles that may read ``soil_samples``.
    """
    r = soil_view(request, who, network)
    return respond(request, r.data, modified=r.modified, dataset="soil")


@router.get("/soil/{network}/files/{name}", summary="A soil map, table or grid")
def soil_file(
    request: Request, network: Ident, name: Ident, who: Principal = Depends(reader("soil"))
):
    """Return a figure (PNG), table (CSV) or the CF grid (netCDF) listed by the results.

    The per-sample tables need ``soil_samples``.
    """
    if R.is_sample_table(name):
        require(request, who, "soil_samples")
    return file_response(R.soil_file(request.app.state.settings.workspace, network, name))
