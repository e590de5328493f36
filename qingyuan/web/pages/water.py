"""The water page: sections with their current class, the weekly record, upstream tracing."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from pipelines import results as R
from qingyuan.web.accounts import Principal
from qingyuan.web.deps import reader, reveal
from qingyuan.web.pages.map import map_view
from qingyuan.web.render import render

__all__ = ["router"]

router = APIRouter(include_in_schema=False)


@router.get("/water")
def water_page(request: Request, who: Principal = Depends(reader("water_class"))):
    """Every water network: its map, the sections' current class and the tracing results."""
    ws = request.app.state.settings.workspace

    nets = []
    for n in R.networks(ws).data:
        if n["kind"] != "water" or not n["has_store"]:
            continue
        view = map_view(request, who, n["name"])
        trace = R.water_trace(ws, n["name"]).data if reveal(request, who, "sources") else None
        nets.append({**view, "trace": trace})
    return render(request, "water.html", {"nets": nets})
