"""Networks and their stations: what is configured and what the store holds."""

from __future__ import annotations

from typing import Any

from pipelines.errors import StoreCorrupted
from pipelines.results import configs
from pipelines.results.cache import memo
from pipelines.results.jsonable import iso_utc
from pipelines.results.stored import partition_info, station_store
from pipelines.results.workspace import Read, Workspace

__all__ = ["intact", "networks", "stations"]


def _network_record(ws: Workspace, name: str) -> dict[str, Any]:
    net = configs.network(name)
    store = station_store(ws, net)
    parts = store.partitions()
    damaged = None
    try:
        first = partition_info(store, parts[0]) if parts else None
        last = partition_info(store, parts[-1]) if parts else None
    except StoreCorrupted as exc:  # listed with the damage, so that other networks still list
        first = last = None
        damaged = {"file": exc.path.rsplit("/", 1)[-1], "reason": exc.reason.split(":")[0]}
    return {
        "name": net.name,
        "kind": net.kind,
        "title": net.title or net.name,
        "time_zone": net.time_zone,
        "time_label": net.time_label,
        "frequency": net.frequency,
        "n_stations": len(net.stations),
        "n_enterprises": len(net.enterprises),
        "synthetic": bool(net.synthetic),
        "variables": list(last["variables"]) if last else [],
        "has_store": bool(parts),
        "n_partitions": len(parts),
        "first_time": iso_utc(first["first"] or first["grid_start"]) if first else None,
        "last_time": iso_utc(last["last"] or last["grid_end"]) if last else None,
        "damaged": damaged,
    }


def _source_fields(s: Any) -> dict[str, Any]:
    """Return a stack's or outfall's own fields (never its data logger's MN or password)."""
    return {
        "enterprise": s.enterprise,
        "medium": s.medium,
        "stack_height_m": s.stack_height_m,
        "standard": s.standard,
        "standard_class": s.standard_class,
    }


def intact(record: dict[str, Any]) -> dict[str, Any]:
    """Return a :func:`networks` record, or raise for a network whose store is damaged.

    Raises
    ------
    StoreCorrupted
        Naming the partition file that failed its checksum, so that a read needing the
        network's stored times answers with the damage rather than "no data stored yet".
    """
    damaged = record.get("damaged")
    if damaged:
        raise StoreCorrupted(damaged["file"], damaged["reason"])
    return record


def networks(ws: Workspace) -> Read:
    """Every configured network, with what its store holds.

    Parameters
    ----------
    ws : Workspace
        The workspace.

    Returns
    -------
    Read
        ``data``: list of ``{name, kind ("air" | "water" | "source"), title, time_zone,
        time_label, frequency, n_stations, n_enterprises, synthetic, variables (registry names stored, from the newest partition),
        has_store, n_partitions, first_time, last_time, damaged}``; ``first_time`` /
        ``last_time`` are the first and last times with a stored value (ISO-8601 UTC; None
        without a store); ``damaged`` is None, or ``{file, reason}`` when the first or newest
        partition fails its checksum (then ``variables`` is empty and the times are None: the
        network's reads answer :class:`~pipelines.errors.StoreCorrupted`).
    """
    names = configs.network_names()
    files: list[Any] = []
    listing = []
    for name in names:
        files.append(configs.network_file(name))
        parts = station_store(ws, configs.network(name)).partitions()
        listing.append(tuple(p.name for p in parts))
        if parts:
            files += [parts[0], parts[-1]]
    key = (str(ws.store), tuple(names), tuple(listing))
    return memo(
        "networks", key, files=files, compute=lambda: [_network_record(ws, n) for n in names]
    )


def stations(ws: Workspace, network: str) -> Read:
    """Return the stations (air) or sections (water) of a network, from its configuration.

    Parameters
    ----------
    ws : Workspace
        The workspace.
    network : str
        The network.

    Returns
    -------
    Read
        ``data``: list of ``{id, name, code, lat, lon, alt, kind, network}`` in configuration
        order (``kind`` is the network's, ``air``, ``water`` or ``source``); a source network's
        stacks and outfalls add ``enterprise, medium, stack_height_m, standard,
        standard_class``.

    Raises
    ------
    NotFound
        For an unknown network.
    """
    net = configs.network(network)

    def compute() -> list[dict[str, Any]]:
        return [
            {
                "id": s.id,
                "name": s.name or s.id,
                "code": s.code,
                "lat": s.lat,
                "lon": s.lon,
                "alt": s.altitude,
                "kind": net.kind,
                "network": net.name,
                **(_source_fields(s) if net.kind == "source" else {}),
            }
            for s in net.stations
        ]

    return memo("stations", net.name, files=[configs.network_file(net.name)], compute=compute)
