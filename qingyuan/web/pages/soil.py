"""The soil page: risk classes per analyte, hot spots, kriged maps and their cross-validation."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from pipelines import results as R
from qingyuan.web.accounts import Principal
from qingyuan.web.api.soil import soil_view
from qingyuan.web.deps import reader
from qingyuan.web.render import render

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

#: The risk classes of GB 15618 / GB 36600, lowest first (the assessment's names).
CLASSES = ("negligible", "risk possible", "risk high")


def _labels(network: str) -> dict[str, str]:
    """Registry variable -> the laboratory's analyte name of the network's YAML (``Cd``)."""
    from pipelines.config import load_network

    return {v: k for k, v in load_network(network).analytes.items()}


def _view(request: Request, who: Principal, network: str) -> dict[str, Any]:
    data = soil_view(request, who, network).data
    labels = _labels(network)
    summary = data["summary"] or {}
    shares = [
        {"variable": v, "analyte": labels.get(v, v), **s}
        for v, s in (summary.get("shares") or {}).items()
    ]
    cv = [{**c, "analyte": labels.get(c["variable"], c["variable"])} for c in data["cv"]]
    figures = []
    for f in data["figures"]:
        var = f.removeprefix(f"{network}_").removesuffix("_map.png")
        figures.append({"file": f, "analyte": labels.get(var, var)})
    return {
        **data,
        "shares": shares,
        "cv_rows": cv,
        "labels": labels,
        "s": summary,
        "figure_rows": figures,
    }


@router.get("/soil")
def soil_page(request: Request, who: Principal = Depends(reader("soil"))):
    """Every soil network: accounting, share per risk class, hot spots, maps, CV, assumptions."""
    nets = [
        _view(request, who, n["name"])
        for n in R.soil_networks(request.app.state.settings.workspace).data
    ]
    return render(request, "soil.html", {"nets": nets, "classes": CLASSES})
