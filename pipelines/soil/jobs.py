"""Soil jobs: ``ingest``, ``assess``, ``map`` (the CLI and the flow call these) and all three."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from pipelines.config import load_network, load_variables
from pipelines.config.soil import SoilNetworkSpec
from pipelines.files import atomic_write
from pipelines.soil.assess import assess_rows, change_between, select_campaign_layer, summary
from pipelines.soil.ingest import check_rows
from pipelines.soil.maps import make_maps
from pipelines.soil.sources import read_sources
from pipelines.soil.store import SoilStore

__all__ = ["assess_job", "ingest_job", "map_job", "soil_job"]


def _network(network: str) -> SoilNetworkSpec:
    from pipelines.config.locations import config_dir
    from pipelines.config.soil import soil_network_names
    from pipelines.errors import ConfigError

    names = soil_network_names()
    is_path = network.endswith((".yml", ".yaml")) or "/" in network
    if (
        not is_path
        and network not in names
        and not (config_dir() / "networks" / f"{network}.yml").is_file()
    ):  # the hint lists the soil networks, not the station ones
        raise ConfigError(
            str(config_dir() / "networks" / f"{network}.yml"),
            None,
            "",
            f"no such soil network (known: {', '.join(names) or 'none'})",
        )
    net = load_network(network)
    if getattr(net, "kind", None) != "soil":
        raise ValueError(f"{network}: not a kind: soil network")
    return net  # type: ignore[return-value]


def _store(net: SoilNetworkSpec, store_root: str | Path | None) -> SoilStore:
    from pipelines.flows.paths import default_store

    return SoilStore(Path(default_store(store_root)), net, load_variables()["variables"])


def _log_revisions(path: Path, superseded: pd.DataFrame, revised: pd.DataFrame) -> Path:
    """Append the replaced results to the network's revision log (kept across ingests).

    A superseded row that the log already holds (a re-ingest of the same files) is not added
    again; each entry says where it was found (``input``: beside its correction in the files
    read, ``store``: a stored result replaced).
    """
    from pipelines.soil.ingest import REVISION_COLUMNS

    cols = ["recorded_at", "found_in", *REVISION_COLUMNS]
    now = pd.Timestamp.now(tz="UTC").strftime("%Y-%m-%dT%H:%M:%SZ")
    parts = [
        d.assign(found_in=where, recorded_at=now)
        for d, where in ((superseded, "input"), (revised, "store"))
        if len(d)
    ]
    new = (pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()).reindex(columns=cols)
    old = pd.read_csv(path, dtype=str, keep_default_na=False) if path.is_file() else None
    if old is not None and len(new):
        ident = ["found_in", *REVISION_COLUMNS]
        seen = set(map(tuple, old[ident].to_numpy()))
        fresh = [tuple(str(v) for v in row) not in seen for row in new[ident].to_numpy()]
        new = new[fresh]
    if old is None or len(new):
        table = new if old is None else pd.concat([old, new.astype(str)], ignore_index=True)
        atomic_write(path, table.to_csv(index=False))
    return path


def ingest_job(network: str, store_root: str | Path | None = None) -> dict[str, Any]:
    """Read, check and store a soil network; write the quarantine report.

    Returns the row accounting (``rows_in`` = ``rows_stored`` + ``rows_merged`` +
    ``rows_quarantined``, ``balanced``), the stored files and the quarantine CSV (file, line,
    field, reason) under ``<store>/soil/<network>/reports/``.
    """
    net = _network(network)
    st = _store(net, store_root)
    registry = st.registry
    rows = read_sources(net)
    good, quarantined, merged, superseded = check_rows(rows, net, registry)
    files, refused, new, same, revised = st.write(good)
    quarantined = quarantined + refused
    report_dir = st.dir / "reports"
    qfile = report_dir / f"{net.name}_quarantine.csv"
    table = pd.DataFrame(
        [q.to_dict() for q in quarantined],
        columns=["file", "line", "field", "reason", "raw", "kind"],
    )
    atomic_write(qfile, table.to_csv(index=False))
    rfile = _log_revisions(report_dir / f"{net.name}_revisions.csv", superseded, revised)
    out = {
        "network": net.name,
        "rows_in": len(rows),
        "rows_stored": new,
        "rows_merged": merged + same,
        "rows_quarantined": len(quarantined),
        "files": {k: str(v) for k, v in files.items()},
        "quarantine_file": str(qfile),
        # results replaced by a laboratory correction (higher revision): superseded in this
        # input (counted in rows_merged) and stored values replaced; both listed in the log
        "rows_superseded": len(superseded),
        "values_revised": len(revised),
        "revisions_file": str(rfile),
        "quarantine_reasons": table["field"].value_counts().to_dict() if len(table) else {},
        "assumptions": list(net.assumptions),
    }
    out["balanced"] = out["rows_in"] == out["rows_stored"] + out["rows_merged"] + len(quarantined)
    atomic_write(report_dir / f"{net.name}_ingest.json", json.dumps(out, indent=1, default=str))
    return out


def assess_job(
    network: str,
    store_root: str | Path | None = None,
    out_dir: str | Path | None = None,
    *,
    top: int = 5,
    campaign: str | None = None,
    depth_top_cm: float | None = None,
) -> dict[str, Any]:
    """Assess the stored samples; write ``<network>_soil_assessment.csv``, plots and summary.

    Every stored row is assessed (the CSV); shares and hot spots are of one campaign and layer
    (default: the newest campaign's topsoil), and with an earlier campaign the change per plot
    and analyte is written to ``<network>_soil_change.csv``.
    """
    from pipelines.flows.paths import default_outputs

    net = _network(network)
    rows = _store(net, store_root).read()
    if rows.empty:
        raise FileNotFoundError(f"{net.name}: nothing stored; run `qingyuan soil ingest` first")
    out = Path(default_outputs(out_dir)) / "soil"
    out.mkdir(parents=True, exist_ok=True)
    assessed = assess_rows(rows, net)
    part, info = select_campaign_layer(assessed, campaign=campaign, depth_top_cm=depth_top_cm)
    change = change_between(assessed, info)
    res = summary(part, net, top=top, selection=info, change=change)
    files = {
        "assessment": out / f"{net.name}_soil_assessment.csv",
        "summary": out / f"{net.name}_soil_summary.json",
    }
    assessed.drop(columns=["file"]).to_csv(files["assessment"], index=False)
    if change is not None:
        files["change"] = out / f"{net.name}_soil_change.csv"
        change.to_csv(files["change"], index=False)
    atomic_write(files["summary"], json.dumps(res, indent=1, ensure_ascii=False, default=str))
    res["files"] = {k: str(v) for k, v in files.items()}
    res["assessed"] = assessed
    return res


def map_job(
    network: str,
    store_root: str | Path | None = None,
    out_dir: str | Path | None = None,
    *,
    resolution: float | None = None,
    figures: bool = True,
    campaign: str | None = None,
    depth_top_cm: float | None = None,
) -> dict[str, Any]:
    """Kriged maps and exceedance probability of the stored samples (grid netCDF, PNG, CV CSV).

    Of one campaign and layer (default: the newest campaign's topsoil); ``selection`` in the
    result says which.
    """
    from pipelines.flows.paths import default_outputs

    net = _network(network)
    rows = _store(net, store_root).read()
    if rows.empty:
        raise FileNotFoundError(f"{net.name}: nothing stored; run `qingyuan soil ingest` first")
    out = Path(default_outputs(out_dir)) / "soil"
    part, info = select_campaign_layer(
        assess_rows(rows, net), campaign=campaign, depth_top_cm=depth_top_cm
    )
    res = make_maps(part, net, out, resolution=resolution, figures=figures, selection=info)
    res["selection"] = info
    res["assumptions"] = list(net.assumptions)
    return res


def soil_job(
    network: str, store_root: str | Path | None = None, out_dir: str | Path | None = None
) -> dict[str, Any]:
    """Ingest, assess and map one soil network (the ``qingyuan run`` step)."""
    ing = ingest_job(network, store_root)
    ass = assess_job(network, store_root, out_dir)
    ass.pop("assessed")
    maps = map_job(network, store_root, out_dir)
    cv = maps["cv"]
    res = {
        "ingest": {
            k: ing[k]
            for k in (
                "rows_in",
                "rows_stored",
                "rows_merged",
                "rows_quarantined",
                "balanced",
                "quarantine_file",
            )
        },
        **ass,
        "maps": {
            "grid": str(maps["grid"]),
            "figures": {k: str(v) for k, v in maps["figures"].items()},
            "neighbourhood": maps["neighbourhood"],
            "cv": cv.to_dict(orient="records"),
        },
    }
    from pipelines.soil.report import render_soil

    md = Path(maps["grid"]).parent / f"{network}_soil_summary.md"
    atomic_write(md, render_soil(network, res))
    res["files"]["markdown"] = str(md)
    return res
