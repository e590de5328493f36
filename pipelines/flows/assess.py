"""Flow ``assess``: daily AQI (air) or water class (water), weekly compliance, network summary."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
from prefect import flow, task

from features.water_compliance import compliance_shares, rating_summary
from pipelines import assess as assess_mod
from pipelines.config import load_network, load_variables
from pipelines.flows.paths import default_outputs, default_store
from pipelines.store import StationStore

__all__ = [
    "assess_flow",
    "assess_task",
    "grid_job",
    "water_assess_job",
    "write_water_compliance",
]


def write_water_compliance(
    store: StationStore, river: Any, out: Path
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Path]]:
    """Weekly class, compliance and river rating of a water network, written as CSV tables.

    Returns the weekly table, the rating table and the files (``weekly``, ``rating``) in ``out``:
    ``<network>_weekly_class.csv`` and ``<network>_river_rating.csv``.
    """
    name = store.network.name
    weekly, rating = assess_mod.water_compliance(store, river)
    files = {
        "weekly": out / f"{name}_weekly_class.csv",
        "rating": out / f"{name}_river_rating.csv",
    }
    weekly.to_csv(files["weekly"], index=False)
    rating.to_csv(files["rating"], index=False)
    return weekly, rating, files


def water_assess_job(
    network: str,
    river: str | None = None,
    store_root: str | None = None,
    out_dir: str | None = None,
) -> dict[str, Any]:
    """Weekly GB 3838 class per section, compliance with the target, whole-river rating.

    ``river`` names the river file with the target classes (default: the network's name when
    such a file exists, else no targets). Returns the compliance shares per section, the rating
    table and the two CSV files written to ``out_dir``.
    """
    from pipelines.config.rivers import list_rivers, load_river_network

    net = load_network(network)
    name = river or (network if network in list_rivers() else None)
    rn = load_river_network(name) if name else None
    st = StationStore(Path(default_store(store_root)), net, load_variables()["variables"])
    out = Path(default_outputs(out_dir))
    out.mkdir(parents=True, exist_ok=True)
    weekly, rating, files = write_water_compliance(st, rn, out)
    return {"shares": compliance_shares(weekly), "rating": rating, "files": files}


@task(name="assess")
def assess_task(network: str, store_root: str, out_dir: str) -> dict[str, Any]:
    """Assess a network and write its daily table, a grid and its summary."""
    net = load_network(network)
    store = StationStore(Path(store_root), net, load_variables()["variables"])
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if net.kind == "air":
        assessed = assess_mod.assess_air(store)
        table = assessed[["aqi", "category", "primary_pollutant", "over_standard"]].to_dataframe()
        table.to_csv(out / f"{net.name}_daily_aqi.csv")
        assess_mod.write_assessment(assessed, out / f"{net.name}_daily_aqi.nc")
        grid = assess_mod.write_grid(store, "pm25", out / f"{net.name}_grid_pm25.nc")
    elif net.kind == "source":
        table = assess_mod.assess_sources(store)
        table.to_csv(out / f"{net.name}_discharge_compliance.csv", index=False)
        assessed, grid = None, None
    else:
        assessed = assess_mod.assess_water(store)
        assessed[["water_class", "determining"]].to_dataframe().to_csv(
            out / f"{net.name}_daily_class.csv"
        )
        assess_mod.write_assessment(assessed, out / f"{net.name}_daily_class.nc")
        grid = None
    summary = assess_mod.network_summary(store, assessed)
    if net.kind == "water":
        from pipelines.config.rivers import list_rivers, load_river_network

        river = load_river_network(net.name) if net.name in list_rivers() else None
        weekly, rating, files = write_water_compliance(store, river, out)
        summary["weekly_compliance_percent"] = {
            s: round(100.0 * c["share"], 1) for s, c in compliance_shares(weekly).items()
        }
        summary["river_rating"] = rating_summary(rating) | {"file": str(files["rating"])}
        summary["weekly_class_file"] = str(files["weekly"])
    if grid:
        summary["grid_file"] = str(grid)
    return summary


@flow(name="assess")
def assess_flow(
    network: str, store_root: str | None = None, out_dir: str | None = None
) -> dict[str, Any]:
    """Assess a stored network (daily AQI or water class) and write outputs."""
    return assess_task(network, default_store(store_root), default_outputs(out_dir))


def grid_job(
    network: str,
    variable: str = "pm25",
    out: str | Path | None = None,
    dates: list[str] | None = None,
    method: str = "ordinary_kriging",
    resolution: float = 0.02,
    store_root: str | None = None,
) -> Path:
    """Interpolate daily station means of a stored network to a CF lat/lon grid netCDF.

    ``dates`` are local days (default: the last day); ``resolution`` is the grid spacing
    [degree]; ``out`` defaults to ``<outputs>/<network>_grid_<variable>.nc``. Returns the file.
    """
    net = load_network(network)
    st = StationStore(Path(default_store(store_root)), net, load_variables()["variables"])
    return assess_mod.write_grid(
        st,
        variable,
        Path(out) if out else Path(default_outputs()) / f"{net.name}_grid_{variable}.nc",
        [pd.Timestamp(d) for d in dates or ()] or None,
        method,
        resolution,
    )
