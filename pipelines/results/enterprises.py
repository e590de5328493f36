"""Pollution sources of a ``kind: source`` network: enterprises, stacks / outfalls, limits, status.

A source network (``configs/networks/<name>.yml``, ``kind: source``) lists its enterprises and,
as stations, their stacks (medium air) and outfalls (medium water), each with its discharge
standard and class (``configs/standards/``, ``kind: discharge``). What is compared with the
limit is :func:`features.discharge.hourly_series` of the stored HJ 212 hourly values (flue gas:
the device's 折算 value, else corrected here to the class's reference O2), on the values whose
final flag is a valid status of ``configs/qc.yml``, as the supervision alerts
(:mod:`pipelines.warnings.supervision`) judge them. The supervision alerts in force come from
the warning lifecycle database (:func:`pipelines.results.warnings.warnings`).

MNs and data-logger passwords of the network file are never returned.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from features.discharge import CORRECTED_SUFFIX, DischargeStandard, hourly_series
from features.qc import FLAG_CODES
from pipelines.config import NetworkSpec
from pipelines.results import configs
from pipelines.results.cache import memo
from pipelines.results.jsonable import float32_decimal, iso_utc, jsonable
from pipelines.results.observations import _check_station, _files, _open, _stored_variables
from pipelines.results.workspace import NotFound, Read, Workspace
from pipelines.warnings.db import database_exists

__all__ = ["discharge_series", "enterprises", "source_standard"]

#: Hours of the newest data read for the latest status of every stack and outfall.
STATUS_HOURS = 48


def _source_network(name: str) -> NetworkSpec:
    net = configs.network(name)
    if net.kind != "source":
        others = [n for n in configs.network_names() if configs.network(n).kind == "source"]
        raise NotFound(
            f"network {name!r} is a {net.kind} network and has no enterprises; "
            f"source networks: {', '.join(others) or 'none'}"
        )
    return net


def source_standard(name: str) -> DischargeStandard:
    """Return a discharge standard (:func:`pipelines.config.registry.discharge_standard`), memoised."""
    from pipelines.config.locations import config_dir
    from pipelines.config.registry import discharge_standard

    files = sorted((config_dir() / "standards").glob("*.yml")) + [config_dir() / "variables.yml"]
    return memo(
        "discharge_standard", name, files=files, compute=lambda: discharge_standard(name)
    ).data


def _limit_record(std: DischargeStandard, class_id: str, overrides: dict[str, float]) -> dict:
    limits, overridden = std.limits_with(class_id, overrides)
    out = {}
    for var, lim in limits.items():
        out[var] = {
            "max": lim.max,
            "range": list(lim.range) if lim.range is not None else None,
            "cold_max": lim.cold_max,
            "cold_at_or_below_degC": lim.cold_at_or_below_degC,
            "units": std.units.get(var, ""),
            "permit": var in overridden,
        }
    return out


def _standard_record(st: Any) -> dict[str, Any] | None:
    if not st.standard:
        return None
    std = source_standard(st.standard)
    cls = std.get_class(st.standard_class) if st.standard_class else None
    return {
        "name": std.name,
        "title": std.title,
        "medium": std.medium,
        "period": std.period,
        "min_valid_hours": std.min_valid_hours,
        "class_id": st.standard_class,
        "class_title": cls.title if cls else None,
        "reference_o2": cls.reference_o2 if cls else None,
        "limits": _limit_record(std, st.standard_class, dict(st.limits)) if cls else {},
    }


def _station_record(st: Any) -> dict[str, Any]:
    return {
        "id": st.id,
        "name": st.name or st.id,
        "enterprise": st.enterprise,
        "medium": st.medium,
        "lat": st.lat,
        "lon": st.lon,
        "stack_height_m": st.stack_height_m,
        "standard": _standard_record(st),
    }


def _valid_codes(net: NetworkSpec) -> list[int]:
    statuses = list(configs.qc_settings(net)["valid_statuses"])
    return [FLAG_CODES[s] for s in statuses if s in FLAG_CODES]


def _frames(ds: Any, i: int, net: NetworkSpec) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Values, validity and flag codes of station ``i`` of a store dataset (UTC index)."""
    idx = pd.DatetimeIndex(ds["time"].values)
    ok_codes = _valid_codes(net)
    values, valid, flags = {}, {}, {}
    for v in ds.data_vars:
        v = str(v)
        if v.endswith(("_flag", "_qc", "_source_flag")) or f"{v}_flag" not in ds:
            continue
        if v in ("station_id", "station_name", "lat", "lon", "alt"):
            continue
        raw = ds[v].values[i]
        vals = float32_decimal(raw) if raw.dtype == np.float32 else raw.astype(float)
        codes = ds[f"{v}_flag"].fillna(FLAG_CODES["missing"]).values[i].astype(int)
        values[v], flags[v] = vals, codes
        valid[v] = np.isin(codes, ok_codes) & ~np.isnan(vals)
    return (
        pd.DataFrame(values, index=idx),
        pd.DataFrame(valid, index=idx),
        pd.DataFrame(flags, index=idx),
    )


def _series_of(st: Any, ds: Any, i: int, net: NetworkSpec) -> dict[str, pd.DataFrame]:
    """:func:`features.discharge.hourly_series` of one station with each hour's flag code."""
    if not st.standard or not st.standard_class:
        return {}
    values, valid, flags = _frames(ds, i, net)
    out = hourly_series(
        source_standard(st.standard),
        st.standard_class,
        values,
        valid=valid,
        overrides=dict(st.limits),
    )
    missing = FLAG_CODES["missing"]
    for var, frame in out.items():
        frame = frame.copy()
        base = flags[var] if var in flags else pd.Series(missing, index=flags.index)
        corr = var + CORRECTED_SUFFIX
        # the compared value is the device's 折算 value when valid: its flag, else the measured one
        if corr in flags:
            use_corr = frame["source"].to_numpy() == "device"
            code = np.where(use_corr, flags[corr].to_numpy(), base.to_numpy())
        else:
            code = base.to_numpy()
        frame["flag"] = code.astype("int64")
        frame.index = frame.index.tz_localize("UTC") if frame.index.tz is None else frame.index
        frame.index.name = "time"
        out[var] = frame
    return out


def _exceeds(value: float, limit: float, low: float, high: float) -> bool | None:
    if np.isnan(value):
        return None
    if not np.isnan(limit):
        return bool(value > limit)
    if not (np.isnan(low) or np.isnan(high)):
        return bool(value < low or value > high)
    return None


def _latest(series: dict[str, pd.DataFrame], units: dict[str, str]) -> dict[str, Any]:
    """Return the newest hour with a compared value, and each pollutant's value, limit and ratio there."""
    times = [f["value"].last_valid_index() for f in series.values()]
    times = [t for t in times if t is not None]
    if not times:
        return {"time": None, "pollutants": {}, "exceeds": None}
    at = max(times)
    pols = {}
    for var, f in series.items():
        if not f["measured"].notna().any() and not f["value"].notna().any():
            continue  # a pollutant the station does not report
        row = f.loc[at]
        value, limit = float(row["value"]), float(row["limit"])
        low, high = float(row["limit_low"]), float(row["limit_high"])
        pols[var] = {
            "value": jsonable(value),
            "limit": jsonable(limit),
            "limit_range": None if np.isnan(low) else [low, high],
            "ratio": jsonable(value / limit) if limit > 0 and not np.isnan(value) else None,
            "exceeds": _exceeds(value, limit, low, high),
            "flag": int(row["flag"]),
            "source": str(row["source"]) or None,
            "units": units.get(var, ""),
        }
    flags = [p["exceeds"] for p in pols.values() if p["exceeds"] is not None]
    return {"time": iso_utc(at), "pollutants": pols, "exceeds": any(flags) if flags else None}


def _alerts(ws: Workspace, network: str) -> dict[str, dict[str, Any]]:
    """Supervision alerts in force by enterprise (the most severe one per enterprise)."""
    from pipelines.results.warnings import cities, warnings

    names = {
        c["name"] for c in cities(ws).data if c["network"] == network and c["kind"] == "source"
    }
    if not names or not database_exists(ws.warnings_db):
        return {}
    ranks = {
        (c["name"], lv["name"]): lv["rank"]
        for c in cities(ws).data
        if c["name"] in names
        for lv in c["levels"]
    }
    out: dict[str, dict[str, Any]] = {}
    for w in warnings(ws, status="active").data:
        if w["city"] not in names:
            continue
        rank = ranks.get((w["city"], w["level"]), 99)
        if w["area"] in out and out[w["area"]]["rank"] <= rank:
            continue
        out[w["area"]] = {
            "warning_id": w["id"],
            "city": w["city"],
            "level": w["level"],
            "level_names": w.get("level_names") or {},
            "level_colour": w.get("level_colour"),
            "rank": rank,
            "condition": (w.get("message") or {}).get("condition"),
            "onset": w.get("onset"),
            "expires": w.get("expires"),
        }
    return out


def enterprises(ws: Workspace, network: str, *, status: bool = True) -> Read:
    """Enterprises of a source network with their stacks / outfalls, standards and latest status.

    Parameters
    ----------
    ws : Workspace
        The workspace.
    network : str
        A ``kind: source`` network.
    status : bool
        Also read the newest :data:`STATUS_HOURS` hours of the store for each station's latest
        compared values (False: configuration and alerts only).

    Returns
    -------
    Read
        ``data``: list of ``{id, name, name_en, industry, lat, lon, synthetic, stations [{id,
        name, enterprise, medium ("air" stack | "water" outfall), lat, lon, stack_height_m,
        standard {name, title, medium, period ("hour" | "day"), min_valid_hours, class_id,
        class_title, reference_o2, limits {variable: {max, range, cold_max,
        cold_at_or_below_degC, units, permit}}}, latest {time (the newest hour with a compared
        value, ISO-8601 UTC, interval end), exceeds, pollutants {variable: {value, limit,
        limit_range, ratio, exceeds, flag, source, units}}}}], alert (the most severe
        supervision alert in force: {warning_id, city, level, level_names, level_colour, rank,
        condition, onset, expires}, or None), exceeds (any stack's latest hour above its
        limit)}`` in configuration order. ``latest`` compares single hours: for daily-mean
        standards (wastewater) it is indicative only, the alert decides.

    Raises
    ------
    NotFound
        For an unknown network or one that is not ``kind: source``.
    """
    net = _source_network(network)
    from pipelines.results.stored import station_store
    from pipelines.results.warning_db import db_files

    store = station_store(ws, net)
    parts = store.partitions()
    files = [configs.network_file(net.name), *parts[-2:], *db_files(ws), *configs.warning_files()]

    def compute() -> list[dict[str, Any]]:
        latest: dict[str, dict[str, Any]] = {}
        if status and parts:
            stored = _stored_variables(ws, net)
            from pipelines.results.stored import partition_info

            last = max(
                pd.Timestamp(
                    partition_info(store, p)["last"] or partition_info(store, p)["grid_end"]
                )
                for p in parts[-2:]
            )
            last = last.tz_convert("UTC").tz_localize(None) if last.tzinfo else last
            start = last - pd.Timedelta(hours=STATUS_HOURS)
            ds = _open(ws, net, stored, start, last)
            ids = [str(s) for s in ds["station"].values]
            units = {v: str(ds[v].attrs.get("units", "")) for v in stored if v in ds}
            for st in net.stations:
                if st.id in ids:
                    series = _series_of(st, ds, ids.index(st.id), net)
                    latest[st.id] = _latest(series, units)
        alerts = _alerts(ws, net.name)
        out = []
        for e in net.enterprises:
            stations = []
            for st in net.stations:
                if st.enterprise != e.id:
                    continue
                rec = _station_record(st)
                rec["latest"] = latest.get(st.id, {"time": None, "pollutants": {}, "exceeds": None})
                stations.append(rec)
            ex = [s["latest"]["exceeds"] for s in stations if s["latest"]["exceeds"] is not None]
            out.append(
                {
                    "id": e.id,
                    "name": e.name,
                    "name_en": e.name_en,
                    "industry": e.industry,
                    "lat": e.lat,
                    "lon": e.lon,
                    "synthetic": bool(e.synthetic or net.synthetic),
                    "stations": stations,
                    "alert": alerts.get(e.id),
                    "exceeds": any(ex) if ex else None,
                }
            )
        return jsonable(out)

    key = (str(ws.store), str(ws.outputs), net.name, tuple(p.name for p in parts[-2:]), status)
    return memo("enterprises", key, files=files, compute=compute)


def discharge_series(ws: Workspace, network: str, station: str, *, start: Any, end: Any) -> Read:
    """Hourly compared values of one stack or outfall against its limits, with the data flags.

    Parameters
    ----------
    ws : Workspace
        The workspace.
    network, station : str
        A ``kind: source`` network and one of its stations (stack or outfall).
    start, end : str, datetime or pandas.Timestamp
        UTC time range, inclusive (interval-end times).

    Returns
    -------
    Read
        ``data``: ``{station (the record of :func:`enterprises` without ``latest``),
        enterprise {id, name, name_en, industry}, series {variable: pandas.DataFrame}}``; each
        frame (UTC interval-end index, tz-aware) is :func:`features.discharge.hourly_series`
        (``value``: the compared value, NaN where not valid; ``measured``, ``o2``,
        ``correction_factor``, ``source``, ``water_temperature``, ``limit``, ``limit_low``,
        ``limit_high``) plus ``flag`` (the stored HJ 212 / QC status code of the compared value).
        ``series`` is empty for a station without a standard.

    Raises
    ------
    NotFound
        Unknown or non-source network, unknown station, or no stored data.
    """
    net = _source_network(network)
    _check_station(net, station)
    from pipelines.results.observations import _range

    s, e = _range(start, end)
    files = [configs.network_file(net.name), *_files(ws, net, s, e)]
    st = next(x for x in net.stations if x.id == station)

    def compute() -> dict[str, Any]:
        stored = _stored_variables(ws, net)
        ds = _open(ws, net, stored, s, e)
        ids = [str(x) for x in ds["station"].values]
        series = _series_of(st, ds, ids.index(st.id), net) if st.id in ids else {}
        ent = next((x for x in net.enterprises if x.id == st.enterprise), None)
        return {
            "station": _station_record(st),
            "enterprise": None
            if ent is None
            else {"id": ent.id, "name": ent.name, "name_en": ent.name_en, "industry": ent.industry},
            "series": series,
        }

    key = (str(ws.store), net.name, station, iso_utc(s), iso_utc(e))
    return memo("discharge_series", key, files=files, compute=compute)
