"""The station store as the readers see it: partitions, what each holds, a range of them.

Reading goes through :class:`pipelines.store.StationStore` (its ``open`` and ``partitions``);
what is kept here is which partition files a read touches (for the cache key) and a summary of
one partition (stored variables, first and last time with a value), memoised per file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipelines.config import NetworkSpec
from pipelines.results.cache import memo
from pipelines.results.configs import registry
from pipelines.results.workspace import NotFound, Workspace
from pipelines.store import StationStore

__all__ = ["month_of", "partition_info", "partitions_between", "station_store"]


def station_store(ws: Workspace, net: NetworkSpec) -> StationStore:
    """Return the :class:`~pipelines.store.StationStore` of a network in the workspace.

    Parameters
    ----------
    ws : Workspace
        The workspace (its ``store`` root).
    net : NetworkSpec
        The network.

    Returns
    -------
    StationStore
        For reading only.
    """
    return StationStore(ws.store, net, registry()["variables"])


def month_of(path: Path) -> pd.Timestamp:
    """Return the first day of the month a partition file ``<network>_YYYY-MM.nc`` covers.

    Parameters
    ----------
    path : pathlib.Path
        A partition file.

    Returns
    -------
    pandas.Timestamp
        Midnight (UTC) of the month's first day.
    """
    return pd.Timestamp(Path(path).stem.rsplit("_", 1)[1] + "-01")


def partitions_between(
    store: StationStore, *, start: pd.Timestamp | None, end: pd.Timestamp | None
) -> list[Path]:
    """Return the partition files a read of ``[start, end]`` opens, oldest first.

    The same selection as :meth:`pipelines.store.StationStore.open`.

    Parameters
    ----------
    store : StationStore
        The network's store.
    start, end : pandas.Timestamp or None
        The range (naive UTC; None: open-ended).

    Returns
    -------
    list of pathlib.Path
        The files (empty when the range lies outside the stored months).

    Raises
    ------
    NotFound
        When the network has no stored data at all.
    """
    files = store.partitions()
    if not files:
        raise NotFound(
            f"network {store.network.name!r} has no stored data (no partition in {store.dir})"
        )
    if start is not None:
        files = [f for f in files if month_of(f) + pd.offsets.MonthBegin(1) > start]
    if end is not None:
        files = [f for f in files if month_of(f) <= end]
    return files


def _info(store: StationStore, path: Path) -> dict[str, Any]:
    reg = registry()["variables"]
    with store.open_partition(path) as ds:
        variables = [str(v) for v in ds.data_vars if v in reg]
        times = pd.DatetimeIndex(ds["time"].values)
        has = np.zeros(len(times), dtype=bool)
        for v in variables:
            has |= ds[v].notnull().any("station").values
        stations = [str(s) for s in ds["station_id"].values.astype(str)]
        units = {v: str(ds[v].attrs.get("units", "")) for v in variables}
    first = times[has.argmax()] if has.any() else None
    last = times[len(has) - 1 - has[::-1].argmax()] if has.any() else None
    return {
        "variables": variables,
        "stations": stations,
        "units": units,
        "first": first,
        "last": last,
        "grid_start": times[0] if len(times) else None,
        "grid_end": times[-1] if len(times) else None,
    }


def partition_info(store: StationStore, path: Path) -> dict[str, Any]:
    """Return what one partition holds: variables, stations, units, first and last time.

    The partition is checked against its recorded checksum before it is read
    (:meth:`pipelines.store.StationStore.open_partition`), like every other read of the store.

    Parameters
    ----------
    store : StationStore
        The network's store (its checksum manifest).
    path : pathlib.Path
        A partition file of that store.

    Returns
    -------
    dict
        ``variables`` (registry names), ``stations``, ``units``, ``first`` / ``last`` (naive
        UTC timestamps of the first and last time any variable has a value; None if none) and
        ``grid_start`` / ``grid_end``. Memoised per file (read-only).

    Raises
    ------
    pipelines.errors.StoreCorrupted
        If the file does not match its recorded checksum or is not readable netCDF.
    """
    return memo(
        "partition_info", str(path), files=[path], compute=lambda: _info(store, Path(path))
    ).data
