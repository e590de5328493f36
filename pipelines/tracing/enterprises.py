"""Which enterprise explains this anomaly? The job behind ``qingyuan attribute enterprises``.

For an air station or a river section of an ambient network and an hour ``T`` (UTC), reads the
station's QC-valid readings of the pollutant from the network's store and the reported emissions
of the mapped emission variable (``configs/source.yml``, ``enterprise_attribution.pollutants``)
from the stores of the ``kind: source`` networks (every one with an enterprise within
``radius_km`` of the station, or with an outfall on the section's river; or the one named), and
ranks the enterprises (:mod:`features.tracing.enterprises`): air on a wind field from the
ambient network's station winds (IDW, as :func:`pipelines.tracing.air.trajectory_job`), water on
the river network (``configs/rivers/``: the file named like the network or linked to it).

A stack's emission rate is its valid ``_mass`` [kg per hour], else concentration x flow; a stack
flagged stopped (HJ 212 ``F``) emits nothing; an enterprise's rate is the sum over its stacks of
the medium (an hour is missing when one of its reporting stacks is). Nothing after ``T`` is read.
Writes ``<station>_<variable>_<T>.csv`` (the ranking), ``..._series.csv`` (observed, excess and
fitted contributions by hour) and ``....json`` (the result with its provenance) under
``outputs/tracing/<network>/enterprises/``.
"""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from features.assessment import mask_invalid
from features.geo import haversine_km
from features.qc import FLAG_CODES
from features.river_network import RiverNetwork
from features.tracing.enterprises import (
    AttributionParams,
    Emitter,
    EnterpriseAttribution,
    attribute_air,
    attribute_water,
    emission_rate,
)
from features.tracing.trajectory import WindField, map_grid
from features.tracing.upstream import anomaly_z
from features.warnings.supervision import FLOW
from features.wind import wind_components
from pipelines.config import (
    NetworkSpec,
    code_version,
    list_networks,
    load_network,
    load_qc,
    load_variables,
    source_config,
)
from pipelines.store import StationStore

__all__ = ["attribution_params", "enterprise_job", "river_of"]

_WIND = ["wind_speed", "wind_from_direction"]


def _utc_hour(at: str | pd.Timestamp) -> pd.Timestamp:
    """Return the hour (interval end, UTC, naive) containing ``at``; zone-less means UTC."""
    try:
        t = pd.Timestamp(at)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"--at {at!r}: not a time (write e.g. 2017-01-05T08:00)") from exc
    if t is pd.NaT:
        raise ValueError(f"--at {at!r}: not a time")
    if t.tzinfo is not None:
        t = t.tz_convert("UTC").tz_localize(None)
    return t.ceil("h")


def attribution_params(cfg: dict[str, Any] | None = None) -> AttributionParams:
    """Return the method parameters: the defaults with ``enterprise_attribution.parameters`` applied."""
    cfg = cfg or source_config()["enterprise_attribution"]
    given = {k: tuple(v) if isinstance(v, list) else v for k, v in cfg["parameters"].items()}
    return replace(AttributionParams(), **given)


def river_of(net: NetworkSpec, river: str | None = None) -> RiverNetwork:
    """Load the river network of a water network: ``river``, else the file named or linked so.

    Raises
    ------
    ValueError
        When no river file belongs to the network.
    """
    from pipelines.config.rivers import list_rivers, load_river_network
    from pipelines.tracing.water import rnet_network

    if river:
        return load_river_network(river)
    if net.name in list_rivers():
        return load_river_network(net.name)
    for name in list_rivers():
        try:
            if rnet_network(name) == net.name:
                return load_river_network(name)
        except ValueError:  # a river file not linked to a station network
            continue
    raise ValueError(
        f"water network {net.name} has no river file (configs/rivers/{net.name}.yml or one with "
        f"network: {net.name}); give --river"
    )


def _hourly(da: xr.DataArray, times: pd.DatetimeIndex) -> np.ndarray:
    """Put a (time) series on the hourly grid ``times`` (interval ends): hourly means."""
    s = da.to_series()
    s.index = pd.DatetimeIndex(s.index)
    if len(s.index) > 1 and (s.index[1] - s.index[0]) != pd.Timedelta(hours=1):
        s = s.resample("1h", closed="right", label="right").mean()
    return s.reindex(times).to_numpy(float)


def _source_networks(
    net: NetworkSpec,
    station: Any,
    sources: str | None,
    medium: str,
    radius_km: float,
    river: RiverNetwork | None,
) -> list[NetworkSpec]:
    """Find the ``kind: source`` networks whose enterprises may explain the anomaly."""
    if sources:
        src = load_network(sources)
        if src.kind != "source":
            raise ValueError(
                f"--sources {sources}: network {src.name} is not a kind: source network"
            )
        return [src]
    out = []
    for name in list_networks():
        cand = load_network(name)
        if cand.kind != "source":
            continue
        stacks = [s for s in cand.stations if s.medium == medium]
        if medium == "water":
            ok = any(river is not None and s.river == river.name for s in stacks)
        else:
            d = haversine_km(
                station.lat, station.lon, [s.lat for s in stacks], [s.lon for s in stacks]
            )
            ok = bool(len(stacks)) and bool((np.asarray(d) <= radius_km).any())
        if ok:
            out.append(cand)
    if not out:
        where = (
            f"with an outfall on river {river.name}"
            if medium == "water" and river is not None
            else f"with an air stack within {radius_km:g} km of {station.id}"
        )
        raise ValueError(f"no kind: source network {where} (name one with --sources)")
    return out


def _stack_rates(
    ds: xr.Dataset | None, src: NetworkSpec, emission: str, medium: str, times: pd.DatetimeIndex
) -> dict[str, np.ndarray]:
    """Station -> valid emission rate [kg h-1] on ``times`` (stopped: 0; NaN where unknown)."""
    if ds is None:
        return {}
    flow = FLOW[medium]
    names = [v for v in (f"{emission}_mass", emission, flow) if v in ds]
    if not names:
        return {}
    valid = mask_invalid(ds, names, load_qc(src)["valid_statuses"])
    period_h = src.freq / pd.Timedelta(hours=1)
    ids = [str(s) for s in ds["station"].values]
    out = {}
    for st in src.stations:
        if st.medium != medium or st.id not in ids:
            continue
        sel = {"station": st.id}

        def get(v: str, sel: dict = sel) -> np.ndarray | None:
            return _hourly(valid[v].sel(sel), times) if v in valid else None

        rate = emission_rate(get(f"{emission}_mass"), get(emission), get(flow), period_h=period_h)
        stopped = np.zeros(len(times), bool)
        for v in names:
            flag = ds[f"{v}_flag"].sel(sel) if f"{v}_flag" in ds else None
            if flag is not None:
                stopped |= _hourly(flag == FLAG_CODES["F"], times) > 0.5
        out[st.id] = np.where(stopped, 0.0, rate)
    return out


def _emitters(
    src: NetworkSpec,
    rates: dict[str, np.ndarray],
    medium: str,
    n: int,
    river: RiverNetwork | None,
    keep: set[str] | None,
) -> list[Emitter]:
    """One emitter per enterprise with stacks (outfalls) of the medium; rates summed."""
    out = []
    for ent in src.enterprises:
        stacks = [s for s in src.stations if s.enterprise == ent.id and s.medium == medium]
        if medium == "water":
            stacks = [s for s in stacks if river is not None and s.river == river.name]
        if not stacks or (keep is not None and ent.id not in keep):
            continue
        series = [rates[s.id] for s in stacks if s.id in rates and np.isfinite(rates[s.id]).any()]
        # a stack that reports nothing of it (no such monitor) does not count; one that does
        # and misses an hour makes the hour unknown
        rate = np.sum(series, axis=0) if series else np.full(n, np.nan)
        first = stacks[0]
        out.append(
            Emitter(
                ent.id,
                ent.name,
                ent.lat,
                ent.lon,
                rate,
                first.reach if medium == "water" else None,
                first.reach_fraction,
            )
        )
    return out


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    """JSON-safe rows (NaN and NA as None)."""
    rows = df.astype(object).where(df.notna(), None).to_dict(orient="records")
    for r in rows:
        for k, v in r.items():
            if isinstance(v, np.generic):
                r[k] = v.item()
    return rows


def enterprise_job(
    network: str,
    store_root: Path,
    out_dir: Path,
    station: str,
    at: str | pd.Timestamp,
    *,
    variable: str | None = None,
    sources: str | None = None,
    river: str | None = None,
    source_data: dict[str, xr.Dataset] | None = None,
) -> dict[str, Any]:
    """Rank the enterprises as the explanation of an anomaly at a station and hour.

    Parameters
    ----------
    network : str
        Ambient network (``kind: air`` or ``water``), name or YAML path.
    store_root : pathlib.Path
        Store root of the ambient and source networks.
    out_dir : pathlib.Path
        Outputs root (files under ``tracing/<network>/enterprises/``).
    station : str
        Station (air) or section (water) id.
    at : str or pandas.Timestamp
        The anomaly time (UTC unless it carries a zone); the hour containing it is analysed.
    variable : str, optional
        Ambient variable (one of ``enterprise_attribution.pollutants``); default: the mapped
        variable of the network's medium with the largest anomaly z at ``at``.
    sources : str, optional
        The ``kind: source`` network to use (default: every one in range).
    river : str, optional
        River file of a water network (default: named like the network, or linked to it).
    source_data : dict, optional
        Source network name -> already opened store dataset (instead of reading its store).

    Returns
    -------
    dict
        ``network, station, medium, variable, emission_variable, units, at, observed, excess,
        anomaly_z, ranking`` (records, best first), ``source_networks, river, notes, files``
        and ``provenance`` (``data_cutoff``, the stores, the wind field, QC statuses, the
        method parameters, code version, ``synthetic``).

    Raises
    ------
    ValueError
        Unknown station or variable, a time outside the data, no valid reading at that hour,
        no wind (air) or no river file (water), no source network in range.
    FileNotFoundError
        When the ambient network has no stored data.
    """
    net = load_network(network)
    if net.kind not in ("air", "water"):
        raise ValueError(
            f"network {net.name} is a {net.kind} network: give an air or water network"
        )
    medium = net.kind
    stations = {s.id: s for s in net.stations}
    if station not in stations:
        raise ValueError(
            f"network {net.name} has no station {station!r} (have: {sorted(stations)})"
        )
    cfg = source_config()["enterprise_attribution"]
    params = attribution_params(cfg)
    reg = load_variables()["variables"]
    mapped = {
        a: e
        for a, e in cfg["pollutants"].items()
        if e.startswith("stack_" if medium == "air" else "effluent_")
    }
    if variable is not None and variable not in mapped:
        raise ValueError(
            f"no emission variable for {variable!r} on an ambient {medium} network "
            f"(enterprise_attribution.pollutants maps: {sorted(mapped)})"
        )
    t_at = _utc_hour(at)
    rnet = river_of(net, river) if medium == "water" else None
    if rnet is not None and station not in rnet.sections:
        raise ValueError(f"river network {rnet.name} has no section {station!r}")
    srcs = _source_networks(net, stations[station], sources, medium, float(cfg["radius_km"]), rnet)
    # how far back the data must go
    travel = 0.0
    if rnet is not None:
        for src in srcs:
            for s in src.stations:
                if s.medium == "water" and s.river == rnet.name and s.reach in rnet.sections:
                    down = rnet.sections[s.reach].downstream
                    rest = rnet.travel_time(down, station) if down else None
                    if rest is not None:
                        travel = max(travel, rest + rnet.sections[s.reach].travel_time_h)
    history = params.history_hours(travel if medium == "water" else None)
    times = pd.date_range(t_at - pd.Timedelta(hours=history), t_at, freq="h")
    # ambient readings
    amb_vars = [variable] if variable else sorted(mapped)
    store = StationStore(Path(store_root), net, reg)
    parts = store.partitions()
    if not parts:
        raise FileNotFoundError(f"no stored data for network {net.name!r} in {store.dir}")
    first = store._month_of(parts[0])
    last = store._month_of(parts[-1]) + pd.offsets.MonthBegin(1) - net.freq
    if not first <= t_at <= last:
        raise ValueError(f"{t_at} UTC is outside the data of {net.name} ({first} .. {last})")
    try:
        ds = store.open(
            variables=amb_vars + (_WIND if medium == "air" else []), start=times[0], end=t_at
        )
    except FileNotFoundError as exc:
        raise ValueError(f"network {net.name} has no data in {times[0]} .. {t_at} UTC") from exc
    have = [v for v in amb_vars if v in ds]
    if not have:
        raise ValueError(f"network {net.name} stores no {' / '.join(amb_vars)}")
    valid = mask_invalid(
        ds, have + (_WIND if medium == "air" else []), load_qc(net)["valid_statuses"]
    )
    series = {v: _hourly(valid[v].sel(station=station), times) for v in have}
    zs = {
        v: float(anomaly_z(pd.Series(s).interpolate(limit=3).to_numpy(), params.baseline_hours)[-1])
        for v, s in series.items()
        if np.isfinite(s[-1])
    }
    if variable is None:
        if not zs:
            raise ValueError(f"{station} has no valid {' / '.join(have)} reading at {t_at} UTC")
        variable = max(zs, key=zs.get)
    elif not np.isfinite(series[variable][-1]):
        raise ValueError(f"{station} has no valid {variable} reading at {t_at} UTC")
    emission = mapped[variable]
    notes: list[str] = []
    # reported emissions
    emitters: list[Emitter] = []
    source_stores = {}
    for src in srcs:
        sds = (source_data or {}).get(src.name)
        if sds is None:
            sstore = StationStore(Path(store_root), src, reg)
            try:
                sds = sstore.open(
                    variables=[emission, f"{emission}_mass", FLOW[medium]], start=times[0], end=t_at
                )
                source_stores[src.name] = str(sstore.dir)
            except FileNotFoundError:
                notes.append(f"no stored data of source network {src.name} in {times[0]} .. {t_at}")
                source_stores[src.name] = f"{sstore.dir} (no data)"
        else:
            source_stores[src.name] = "dataset given by the caller"
            sds = sds.sel(time=slice(times[0], t_at))
        keep = None
        if medium == "air":
            keep = {
                e.id
                for e in src.enterprises
                if haversine_km(stations[station].lat, stations[station].lon, e.lat, e.lon)
                <= float(cfg["radius_km"])
            }
        rates = _stack_rates(sds, src, emission, medium, times)
        emitters += _emitters(src, rates, medium, len(times), rnet, keep)
    if zs.get(variable, 0.0) < 3.0:
        notes.append(
            f"the {variable} reading at {t_at} UTC is hardly anomalous (robust z "
            f"{zs.get(variable, 0.0):.1f} < 3): the ranking explains little"
        )
    if medium == "air":
        res, wind = _air(
            net, valid, times, series[variable], t_at, emitters, stations[station], params
        )
    else:
        res = attribute_water(
            times, series[variable], t_at, emitters, net=rnet, section=station, params=params
        )
        wind = None
    return _write(
        res,
        out_dir,
        net,
        station,
        variable,
        emission,
        reg,
        srcs,
        source_stores,
        store,
        rnet,
        wind,
        notes,
    )


def _air(
    net, valid, times, ambient, t_at, emitters, st, params
) -> tuple[EnterpriseAttribution, str]:
    """Rank for an air station, on a wind field from the network's station winds."""
    if not all(v in valid for v in _WIND):
        raise ValueError(
            f"network {net.name} stores no wind_speed / wind_from_direction: no air attribution"
        )
    lat = np.array([s.lat for s in net.stations])
    lon = np.array([s.lon for s in net.stations])
    ids = [str(s) for s in valid["station"].values]
    ws = np.stack(
        [
            _hourly(valid["wind_speed"].sel(station=s), times)
            if s in ids
            else np.full(len(times), np.nan)
            for s in net.station_ids()
        ]
    )
    wd = np.stack(
        [
            _hourly(valid["wind_from_direction"].sel(station=s), times)
            if s in ids
            else np.full(len(times), np.nan)
            for s in net.station_ids()
        ]
    )
    u, v = wind_components(ws, wd)
    glat, glon = map_grid(lat, lon, params.transport_hours, 0.1)
    try:
        field = WindField.from_stations(times, lat, lon, u, v, glat, glon)
    except ValueError as exc:
        raise ValueError(f"network {net.name}: no valid wind in {times[0]} .. {t_at}") from exc
    res = attribute_air(
        times, ambient, t_at, emitters, field=field, lat=st.lat, lon=st.lon, params=params
    )
    return res, f"station winds of {net.name} (IDW, 0.1 degree); beyond the network extrapolated"


def _write(
    res,
    out_dir,
    net,
    station,
    variable,
    emission,
    reg,
    srcs,
    source_stores,
    store,
    rnet,
    wind,
    notes,
) -> dict[str, Any]:
    out = Path(out_dir) / "tracing" / net.name / "enterprises"
    out.mkdir(parents=True, exist_ok=True)
    stem = f"{station}_{variable}_{res.at:%Y%m%dT%H}"
    table = res.ranking.assign(evidence_hours=res.ranking["evidence_hours"].map(";".join))
    table.insert(3, "pollutant", emission)
    table.to_csv(out / f"{stem}.csv", index=False)
    res.series().to_csv(out / f"{stem}_series.csv")
    result = {
        "network": net.name,
        "station": station,
        "medium": res.medium,
        "variable": variable,
        "emission_variable": emission,
        "units": reg[variable]["units"],
        "at": str(res.at),
        "observed": float(res.observed[-1]),
        "excess": float(res.excess[-1]) if math.isfinite(res.excess[-1]) else None,
        "anomaly_z": res.anomaly_z,
        "ranking": _records(table),
        "source_networks": [s.name for s in srcs],
        "river": rnet.name if rnet is not None else None,
        "notes": notes + res.notes,
        "provenance": {
            "data_cutoff": str(res.at),
            "window": [str(res.times[0]), str(res.times[-1])],
            "ambient_store": str(store.dir),
            "source_stores": source_stores,
            "wind_field": wind,
            "qc_valid_statuses": ",".join(load_qc(net)["valid_statuses"]),
            "parameters": res.parameters(),
            "method": "features.tracing.enterprises",
            "qingyuan_version": code_version(),
            "synthetic": any(s.synthetic for s in [net, *srcs]),
        },
        "files": {
            "table": str(out / f"{stem}.csv"),
            "series": str(out / f"{stem}_series.csv"),
            "json": str(out / f"{stem}.json"),
        },
    }
    (out / f"{stem}.json").write_text(
        json.dumps(result, indent=2, ensure_ascii=False, default=str), encoding="utf-8"
    )
    return result
