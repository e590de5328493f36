"""Soil results (issue #18): what ``qingyuan soil ingest|assess|map`` and the main run wrote.

* :func:`pipelines.soil.jobs.ingest_job`: ``<store>/soil/<network>/<network>_<campaign>.nc``
  and ``reports/<network>_ingest.json`` (row accounting);
* :func:`pipelines.soil.jobs.assess_job`: ``outputs/soil/<network>_soil_summary.json``
  (samples, shares per risk class and analyte, hot spots, assumptions),
  ``<network>_soil_assessment.csv`` and, with two campaigns, ``<network>_soil_change.csv``;
* :func:`pipelines.soil.jobs.map_job`: ``outputs/soil/<network>_soil_maps.nc`` (kriged median,
  log variance, probability of exceeding the screening value), ``<network>_<var>_map.png`` and
  ``<network>_kriging_cv.csv``.

:func:`soil` hands out file names only; :func:`soil_file` resolves them and never leaves
``outputs/soil/``. The per-sample tables (plot coordinates and values) are told apart by
:func:`is_sample_table` so that a reader can classify them apart from the summary and maps.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from pipelines.results.cache import memo
from pipelines.results.jsonable import records
from pipelines.results.workspace import NotFound, Read, Workspace, inside, safe_name, unknown

__all__ = ["is_sample_table", "soil", "soil_file", "soil_networks"]

#: Suffixes of the files :func:`soil_file` serves (figures, tables, the CF grid).
SERVED = (".png", ".csv", ".nc")
#: Suffixes of the tables that hold one row per sample (plot ids, coordinates, values).
_SAMPLE_TABLES = ("_soil_assessment.csv", "_soil_change.csv")
_ACCOUNTING = ("rows_in", "rows_stored", "rows_merged", "rows_quarantined", "balanced")


def _names() -> list[str]:
    from pipelines.config.soil import soil_network_names

    return soil_network_names()


def _net(network: str) -> Any:
    from pipelines.config import load_network
    from pipelines.config.locations import config_dir

    names = _names()
    if network not in names:
        raise unknown("soil network", network, known=names)
    path = config_dir() / "networks" / f"{network}.yml"
    return path, memo("soil_network", network, files=[path], compute=lambda: load_network(network))


def _outputs(ws: Workspace, network: str) -> list[Path]:
    d = ws.outputs / "soil"
    if not d.is_dir():
        return []
    return sorted(p for p in d.iterdir() if p.is_file() and p.name.startswith(f"{network}_"))


def _store_files(ws: Workspace, network: str) -> tuple[list[Path], Path]:
    d = ws.store / "soil" / network
    parts = sorted(d.glob(f"{network}_*.nc")) if d.is_dir() else []
    return parts, d / "reports" / f"{network}_ingest.json"


def soil_networks(ws: Workspace) -> Read:
    """Every configured ``kind: soil`` network, with what was stored and mapped.

    Returns
    -------
    Read
        ``data``: list of ``{name, title, area, crs, campaigns_stored (file count),
        has_results (an assessment summary exists), has_maps}``.
    """
    names = _names()
    files: list[Path] = []
    listing = []
    for n in names:
        parts, _ = _store_files(ws, n)
        outs = _outputs(ws, n)
        files += parts + outs
        listing.append((tuple(p.name for p in parts), tuple(p.name for p in outs)))

    def compute() -> list[dict[str, Any]]:
        out = []
        for n, (parts, outs) in zip(names, listing, strict=True):
            _, read = _net(n)
            net = read.data
            out.append(
                {
                    "name": n,
                    "title": net.title or n,
                    "area": net.area,
                    "crs": net.crs,
                    "campaigns_stored": len(parts),
                    "has_results": f"{n}_soil_summary.json" in outs,
                    "has_maps": f"{n}_soil_maps.nc" in outs,
                }
            )
        return out

    return memo(
        "soil_networks",
        (str(ws.store), str(ws.outputs), tuple(listing)),
        files=files,
        compute=compute,
    )


def is_sample_table(name: str) -> bool:
    """Whether ``name`` is a per-sample table (plot ids, coordinates and values)."""
    return name.endswith(_SAMPLE_TABLES)


def soil(ws: Workspace, network: str) -> Read:
    """Assessment summary, maps and kriging cross-validation of one soil network.

    Parameters
    ----------
    ws : Workspace
        The workspace.
    network : str
        A ``kind: soil`` network.

    Returns
    -------
    Read
        ``data``: ``{name, title, area, crs, standards, assumptions, ingest (row accounting or
        None), summary (the assessment summary: selection, samples, analytes, shares per
        analyte and class, hot spots, change, below_dl_rule; None before ``soil assess``),
        cv (per analyte: the kriging and IDW cross-validation; empty before ``soil map``),
        figures, grid, tables (file names for :func:`soil_file`)}``.

    Raises
    ------
    NotFound
        For a name that is not a configured soil network.
    """
    path, read = _net(network)
    outs = _outputs(ws, network)
    parts, report = _store_files(ws, network)
    files = [path, report, *outs]
    key = (
        str(ws.store),
        str(ws.outputs),
        network,
        tuple(p.name for p in outs),
        tuple(p.name for p in parts),
    )

    def compute() -> dict[str, Any]:
        net = read.data
        by = {p.name: p for p in outs}
        summary = by.get(f"{network}_soil_summary.json")
        cv = by.get(f"{network}_kriging_cv.csv")
        grid = by.get(f"{network}_soil_maps.nc")
        ingest = None
        if report.is_file():
            rep = json.loads(report.read_text(encoding="utf-8"))
            ingest = {k: rep.get(k) for k in _ACCOUNTING}
        data = json.loads(summary.read_text(encoding="utf-8")) if summary else None
        return {
            "name": network,
            "title": net.title or network,
            "area": net.area,
            "crs": net.crs,
            "standards": dict(net.standards),
            "assumptions": list(net.assumptions),
            "campaigns_stored": len(parts),
            "ingest": ingest,
            "summary": data,
            "cv": records(pd.read_csv(cv)) if cv else [],
            "figures": [n for n in by if n.endswith(".png")],
            "grid": grid.name if grid else None,
            "tables": [n for n in by if n.endswith(".csv")],
        }

    return memo("soil", key, files=files, compute=compute)


def soil_file(ws: Workspace, network: str, name: str) -> Path:
    """Resolve a figure, table or grid name listed by :func:`soil`, safely.

    Raises
    ------
    NotFound
        For an unknown network, a name that is not served (``SERVED``), has a path separator or
        ``..``, or leads outside ``outputs/soil/`` (the message lists what exists).
    """
    _net(network)
    safe_name("file", name)
    served = [p.name for p in _outputs(ws, network) if p.name.endswith(SERVED)]
    if name in served:
        hit = inside(ws.outputs / "soil", ws.outputs / "soil" / name)
        if hit is not None:
            return hit
    if not served:
        raise NotFound(f"no soil outputs for {network!r}: run `qingyuan soil assess` and `map`")
    raise unknown("file", name, known=served, where=f"of soil network {network!r}")
