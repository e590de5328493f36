"""Upstream tracing on stored water data: "this section shows an anomaly - where did it enter?".

Reads the river network (``configs/rivers/<name>.yml``) and its station network's store, resamples
every section's QC-valid readings of one variable to an hourly grid around the anomaly time,
turns them into robust anomaly z-scores and ranks the upstream reaches
(:func:`features.tracing.upstream.trace_anomaly`). Writes the ranking (CSV) and a figure of the
anomaly series along the flow path under ``outputs/water/tracing/``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from features.assessment import mask_invalid  # noqa: E402
from features.tracing.upstream import trace_anomaly  # noqa: E402
from pipelines.config import load_network, load_qc, load_variables  # noqa: E402
from pipelines.config.rivers import load_river_network  # noqa: E402
from pipelines.fonts import use_cjk_font  # noqa: E402
from pipelines.store import StationStore  # noqa: E402

use_cjk_font()  # hanzi in the figures without a system CJK font

__all__ = ["trace_job"]


def trace_job(
    river: str,
    store_root: Path,
    out_dir: Path,
    section: str,
    variable: str,
    at: str | None = None,
    days_before: float = 5.0,
    days_after: float = 1.0,
    sign: int = 1,
) -> dict[str, Any]:
    """Trace an anomaly of ``variable`` seen at ``section`` around ``at`` (UTC; default: its peak).

    Parameters
    ----------
    sign : int
        +1 for rises (turbidity, NH3-N, conductivity spikes), -1 for drops (dissolved oxygen).
    """
    rnet = load_river_network(river)
    if section not in rnet.sections:
        raise ValueError(
            f"river network {river} has no section {section!r} ({sorted(rnet.sections)})"
        )
    if not rnet.upstream_of(section):
        raise ValueError(f"section {section} has nothing upstream in {river}: nothing to trace")
    net = load_network(rnet_network(river))
    reg = load_variables()["variables"]
    ds = StationStore(Path(store_root), net, reg).open(variables=[variable])
    if variable not in ds:
        raise ValueError(f"network {net.name} stores no {variable}")
    valid = mask_invalid(ds, [variable], load_qc(net)["valid_statuses"])[variable]
    traced = trace_anomaly(
        rnet,
        valid.to_pandas().T,  # time x station
        section,
        at,
        days_before=days_before,
        days_after=days_after,
        sign=sign,
        variable=variable,
    )
    t_at, win, z, ranked = traced.detected, traced.window, traced.z, traced.ranking
    out = Path(out_dir) / "water" / "tracing"
    out.mkdir(parents=True, exist_ok=True)
    stem = f"{river}_{section}_{variable}_{t_at:%Y%m%dT%H}"
    ranked.to_csv(out / f"{stem}.csv", index=False)
    fig, ax = plt.subplots(figsize=(9, 0.6 * len(z) + 1.5))
    order = [s for s in rnet.sections if s in z]
    for k, s in enumerate(order):
        ax.plot(win.index, k * 6 + np.clip(z[s], 0, 5), lw=0.8)
        ax.text(win.index[0], k * 6 + 1, s, fontsize=7)
    ax.set_yticks([])
    ax.axvline(t_at, color="r", lw=0.6)
    top = ranked.iloc[0]
    ax.axvline(top["entry_time"], color="k", ls="--", lw=0.6)
    ax.set_title(
        f"{variable} anomaly z (clipped at 5), sections upstream first; red: detection at {section}; "
        f"dashed: estimated entry ({top['reach']})",
        fontsize=8,
    )
    fig.tight_layout()
    fig.savefig(out / f"{stem}.png", dpi=100)
    plt.close(fig)
    return {
        "river": river,
        "section": section,
        "variable": variable,
        "detected": str(t_at),
        "ranking": ranked.head(5).to_dict(orient="records"),
        "table": str(out / f"{stem}.csv"),
        "figure": str(out / f"{stem}.png"),
        "sections_with_data": sorted(z),
    }


def rnet_network(river: str) -> str:
    """Return the station network a river file is linked to."""
    from pipelines.config import load_yaml
    from pipelines.config.locations import config_dir

    raw = load_yaml(config_dir() / "rivers" / f"{river}.yml")
    if not raw.get("network"):
        raise ValueError(f"river network {river} is not linked to a station network (network:)")
    return str(raw["network"])
