"""Source tracing pages: polar plots and CPF, PSCF/CWT maps, PMF profiles and contributions."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from pipelines import results as R
from qingyuan.web.accounts import Principal
from qingyuan.web.deps import reader
from qingyuan.web.params import Ident
from qingyuan.web.render import render

__all__ = ["router"]

router = APIRouter(include_in_schema=False)


def _safe(fn, *args):  # noqa: ANN001, ANN202
    """Return a result that the main job may not have produced: None when absent (shown as such)."""
    try:
        return fn(*args).data
    except R.NotFound:
        return None


@router.get("/sources")
def sources_page(request: Request, who: Principal = Depends(reader("sources"))):
    """Per network: polar / CPF figures and PSCF / CWT grids; the PMF runs."""
    from qingyuan.web.charts import grid_map

    ws = request.app.state.settings.workspace
    nets = []
    for n in R.networks(ws).data:
        if n["kind"] != "air":
            continue
        polar = _safe(R.polar, ws, n["name"])
        traj = _safe(R.trajectory, ws, n["name"])
        grids = []
        if traj:
            st = [(s["lat"], s["lon"], s["name"]) for s in R.stations(ws, n["name"]).data]
            for key in ("pscf", "cwt"):
                g = traj.get(key) or {}
                cells = g.get("cells") or g.get("records") or []
                if cells:
                    grids.append(
                        grid_map(
                            [c["lat"] for c in cells],
                            [c["lon"] for c in cells],
                            [c["value"] for c in cells],
                            cell_deg=float(g.get("cell_deg") or traj.get("cell_deg") or 0.25),
                            title=f"{key.upper()} · {g.get('variable', '')}",
                            points=[{"lat": a, "lon": b, "name": c} for a, b, c in st],
                            colour_scale="viridis",
                        )
                    )
        if polar or traj:
            nets.append(
                {
                    "name": n["name"],
                    "title": n["title"],
                    "polar": polar,
                    "grids": grids,
                    "trajectory": traj,
                }
            )
    pmf = _safe(R.pmf_runs, ws) or []
    return render(request, "sources.html", {"nets": nets, "pmf": pmf})


@router.get("/pmf/{run}")
def pmf_page(request: Request, run: Ident, who: Principal = Depends(reader("sources"))):
    """One PMF run: factor profiles, shares of the total, contributions."""
    from qingyuan.web.charts import bar_chart

    ws = request.app.state.settings.workspace
    r = R.pmf_run(ws, run).data
    charts = []
    share = r.get("factor_share") or []
    if share:
        charts.append(
            bar_chart(
                [s["factor"] for s in share],
                [{"name": "share [%]", "values": [s["percent"] for s in share]}],
                title="Share of the total",
                y_label="%",
            )
        )
    return render(request, "pmf.html", {"run": r, "name": run, "charts": charts})
