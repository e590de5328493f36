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

#: Sequential colour scale of the PSCF / CWT maps (light to dark).
_SCALE = ("#fff7ec", "#fee8c8", "#fdd49e", "#fdbb84", "#fc8d59", "#ef6548", "#d7301f", "#990000")


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
        grids, traj_figures = [], []
        if traj:
            st = [
                {"lat": x["lat"], "lon": x["lon"], "name": x["name"]}
                for x in R.stations(ws, n["name"]).data
            ]
            for var, res in (traj.get("results") or {}).items():
                traj_figures += [f for f in res.get("figures", []) if f.endswith(".svg")]
                for key, label in (("pscf", "PSCF"), ("cwt", "CWT")):
                    cells = [c for c in res.get(key) or [] if c.get("value") is not None]
                    if not cells:
                        continue
                    lats = sorted({c["lat"] for c in cells})
                    step = min((b - a for a, b in zip(lats, lats[1:], strict=False)), default=0.25)
                    grids.append(
                        grid_map(
                            [c["lat"] for c in cells],
                            [c["lon"] for c in cells],
                            [c["value"] for c in cells],
                            cell_deg=float(step),
                            title=f"{label} · {var}",
                            points=st,
                            colour_scale=_SCALE,
                            value_label=label,
                        )
                    )
        if polar or traj:
            nets.append(
                {
                    "name": n["name"],
                    "title": n["title"],
                    "polar": polar,
                    "grids": grids,
                    "traj_figures": traj_figures,
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
                [x["factor"] for x in share],
                [{"name": "share of the total [%]", "values": [x["percent"] for x in share]}],
                title=f"{run} · share of the total ({share[0].get('total', '')})",
                y_label="%",
            )
        )
    pct = (r.get("profiles") or {}).get("percent_of_species") or []
    if pct:
        factors = [k for k in pct[0] if k != "species"]
        charts.append(
            bar_chart(
                [row["species"] for row in pct],
                [{"name": f, "values": [row[f] for row in pct]} for f in factors],
                title=f"{run} · factor fingerprints (% of each species)",
                y_label="% of species",
                stacked=True,
                horizontal=True,
            )
        )
    contrib = r.get("contributions") or []
    if contrib and "time" in contrib[0]:
        import pandas as pd

        from qingyuan.web.charts import time_series

        factors = [k for k in contrib[0] if k != "time"]
        charts.append(
            time_series(
                [pd.Timestamp(x["time"]) for x in contrib],
                [{"name": f, "values": [x[f] for x in contrib]} for f in factors],
                title=f"{run} · factor contributions",
                y_label="contribution",
            )
        )
    estimates = _error_estimates(r.get("summary") or {})
    return render(
        request, "pmf.html", {"run": r, "name": run, "charts": charts, "estimates": estimates}
    )


def _error_estimates(s: dict) -> list[str]:
    """One line per error estimate or rotational tool the run has (from its summary)."""
    lines = []
    if b := s.get("bootstrap"):
        lines.append(
            f"Bootstrap ({b.get('replicates')} replicates, contribution r >= "
            f"{b.get('threshold_r')}): mapped % per factor {b.get('mapped_percent')}"
        )
    if d := s.get("disp"):
        ok = "no swap at dQmax 4" if d.get("well_defined") else "swaps at dQmax 4: not well defined"
        lines.append(f"DISP: {ok}; largest dQ decrease {d.get('largest_dq_decrease', 0):.1f}")
    if b := s.get("bsdisp"):
        acc = ", ".join(f"{k}: {v:.0f} %" for k, v in (b.get("accepted_percent") or {}).items())
        lines.append(f"BS-DISP ({b.get('replicates')} replicates): accepted per dQmax {acc}")
    if f := s.get("fpeak"):
        runs = ", ".join(
            f"{r['strength']:+g}: {r['dq_robust_percent']:.2f} %" for r in f.get("runs", [])
        )
        lines.append(f"Fpeak dQ(robust) per strength: {runs}")
    if c := s.get("constrained"):
        lines.append(f"Constrained run: {c.get('guidance')}")
    return lines
