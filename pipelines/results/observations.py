"""Observations with their QC flags, hourly and daily AQI, water class and the map's current status.

Observations come from the station store (:meth:`pipelines.store.StationStore.open`); the hourly
AQI is :func:`features.assessment.hourly_aqi` on the QC-valid values
(:func:`features.assessment.mask_invalid`, the statuses of ``configs/qc.yml`` as in the daily
assessment of :mod:`pipelines.assess`); the daily AQI and water class are the tables that
assessment wrote (``outputs/<network>_daily_aqi.nc``, ``_daily_class.nc``,
``_weekly_class.csv``); the water class of the current status is
:func:`features.water_class.section_class` of the latest valid readings.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from features.assessment import hourly_aqi as _features_hourly_aqi
from features.assessment import mask_invalid
from features.qc import FLAG_CODES
from features.times import to_local
from features.units import pollutants
from features.water_class import CLASS_NAMES, section_class
from pipelines.config import NetworkSpec
from pipelines.results import configs
from pipelines.results.cache import memo
from pipelines.results.jsonable import float32_decimal, iso_utc, jsonable, utc_naive
from pipelines.results.stored import month_of, partition_info, partitions_between, station_store
from pipelines.results.workspace import NotFound, Read, Workspace, unknown

__all__ = [
    "AQI_FAMILY",
    "current_status",
    "daily_aqi",
    "hourly_aqi",
    "observations",
    "observations_dataset",
    "water_class",
]

#: The AQI family of the hourly AQI and of the daily assessment (:func:`pipelines.assess.assess_air`).
AQI_FAMILY = "hj633"

# hours before ``start`` read for the 24-h moving means of the hourly AQI (SO2 above its 1-h table)
_HISTORY = pd.Timedelta("23h")
_COORDS = ("station_id", "station_name", "lat", "lon", "alt")


# --------------------------------------------------------------------------- checks
def _network_of_kind(name: str, kind: str, what: str) -> NetworkSpec:
    net = configs.network(name)
    if net.kind != kind:
        others = [n for n in configs.network_names() if configs.network(n).kind == kind]
        article = "an" if net.kind == "air" else "a"
        raise NotFound(
            f"network {name!r} is {article} {net.kind} network and has no {what}; "
            f"{kind} networks: {', '.join(others) or 'none'}"
        )
    return net


def _check_station(net: NetworkSpec, station: str) -> None:
    ids = net.station_ids()
    if station not in ids:
        raise unknown("station", station, known=ids, where=f"in network {net.name!r}")


def _stored_variables(ws: Workspace, net: NetworkSpec) -> list[str]:
    parts = station_store(ws, net).partitions()
    if not parts:
        raise NotFound(
            f"network {net.name!r} has no stored data (no partition in {ws.store / net.name})"
        )
    return list(partition_info(station_store(ws, net), parts[-1])["variables"])


def _variables(ws: Workspace, net: NetworkSpec, variables: Sequence[str] | str | None) -> list[str]:
    stored = _stored_variables(ws, net)
    if variables is None:
        return stored
    asked = [variables] if isinstance(variables, str) else list(variables)
    for v in asked:
        if v not in stored:
            raise unknown(
                "variable", v, known=stored, where=f"in the store of network {net.name!r}"
            )
    return list(dict.fromkeys(asked))


def _range(start: Any, end: Any) -> tuple[pd.Timestamp | None, pd.Timestamp | None]:
    s, e = utc_naive(start), utc_naive(end)
    if s is not None and e is not None and s > e:
        raise ValueError(f"start {iso_utc(s)} is after end {iso_utc(e)}")
    return s, e


# --------------------------------------------------------------------------- store reads
def _open(
    ws: Workspace,
    net: NetworkSpec,
    variables: list[str],
    start: pd.Timestamp | None,
    end: pd.Timestamp | None,
) -> xr.Dataset:
    """All stations of ``[start, end]`` (an empty time axis when no partition covers it)."""
    st = station_store(ws, net)
    files = partitions_between(st, start=start, end=end)
    if files:
        ds = st.open(variables=variables, start=start, end=end)
    else:  # outside the stored months: the layout of the newest partition, no times
        last = month_of(st.partitions()[-1])
        ds = st.open(variables=variables, start=last).isel(time=slice(0, 0))
    keep = [
        n
        for v in variables
        for n in (v, f"{v}_flag", f"{v}_qc", f"{v}_source_flag")
        if n in ds.data_vars
    ]
    keep += [n for n in _COORDS if n in ds.data_vars]
    return ds[keep]


def _files(ws: Workspace, net: NetworkSpec, start: Any, end: Any) -> list[Path]:
    st = station_store(ws, net)
    files = partitions_between(st, start=start, end=end)
    return files or st.partitions()[-1:]


def _one_station(ds: xr.Dataset, net: NetworkSpec, station: str) -> xr.Dataset:
    have = [str(s) for s in ds["station"].values]
    if station not in have:
        raise NotFound(
            f"station {station!r} of network {net.name!r} has no stored data; stored: {', '.join(have)}"
        )
    return ds.sel(station=[station])


def _flag_meanings(ds: xr.Dataset, variables: list[str], valid: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {"flag": {}, "hj212": {}, "qc": {}}
    for v in variables:
        fa = ds[f"{v}_flag"].attrs if f"{v}_flag" in ds else {}
        if "flag_values" in fa and "flag_meanings" in fa:
            values = [int(c) for c in np.atleast_1d(fa["flag_values"])]
            out["flag"] = dict(
                zip(map(str, values), str(fa["flag_meanings"]).split(), strict=False)
            )
            codes = str(fa.get("hj212_codes", "")).split()
            out["hj212"] = dict(zip(map(str, values), codes, strict=False))
        qa = ds[f"{v}_qc"].attrs if f"{v}_qc" in ds else {}
        if "flag_masks" in qa and "flag_meanings" in qa:
            masks = [int(m) for m in np.atleast_1d(qa["flag_masks"])]
            out["qc"] = dict(zip(map(str, masks), str(qa["flag_meanings"]).split(), strict=False))
        if out["flag"]:
            break
    out["valid_flags"] = [FLAG_CODES[s] for s in valid if s in FLAG_CODES]
    return out


def _utc_index(times: Any) -> pd.DatetimeIndex:
    idx = pd.DatetimeIndex(times).tz_localize("UTC")
    idx.name = "time"
    return idx


def observations(
    ws: Workspace,
    network: str,
    station: str,
    *,
    start: Any,
    end: Any,
    variables: Sequence[str] | str | None = None,
) -> Read:
    """Return the stored values of one station with their data flags and QC bits.

    Parameters
    ----------
    ws : Workspace
        The workspace.
    network, station : str
        The network and one of its stations.
    start, end : str, datetime or pandas.Timestamp
        UTC time range, inclusive (naive times are UTC).
    variables : sequence of str, optional
        Registry names (default: every stored variable).

    Returns
    -------
    Read
        ``data``: pandas DataFrame indexed by UTC time (tz-aware; the store's time label, e.g. the
        END of the averaging hour for ``interval_end`` networks) with, per variable, ``<var>``
        (float, canonical units), ``<var>_flag`` (final HJ 212 / QC status code as stored, int)
        and ``<var>_qc`` (QC bit mask, int). ``df.attrs``: ``units`` ``{var: unit}``,
        ``flag_meanings`` ``{"flag": {code: meaning}, "hj212": {code: letter}, "qc": {bit:
        check}, "valid_flags": [codes entering statistics]}`` (from the store's flag variable
        attributes and ``configs/qc.yml``), ``time_label``, ``network``, ``station``.

    Raises
    ------
    NotFound
        Unknown network, station or variable, or a network without stored data.
    """
    net = configs.network(network)
    _check_station(net, station)
    names = _variables(ws, net, variables)
    s, e = _range(start, end)
    files = _files(ws, net, s, e)

    def compute() -> pd.DataFrame:
        ds = _one_station(_open(ws, net, names, s, e), net, station).isel(station=0)
        cols: dict[str, np.ndarray] = {}
        for v in names:
            cols[v] = (
                float32_decimal(ds[v].values)
                if ds[v].dtype == np.float32
                else ds[v].values.astype("float64")
            )
            if f"{v}_flag" in ds:
                flag = ds[f"{v}_flag"].fillna(FLAG_CODES["missing"]).values
                cols[f"{v}_flag"] = flag.astype("int64")
            if f"{v}_qc" in ds:
                cols[f"{v}_qc"] = ds[f"{v}_qc"].fillna(0).values.astype("int64")
        df = pd.DataFrame(cols, index=_utc_index(ds["time"].values))
        df.attrs = {
            "network": net.name,
            "station": station,
            "time_label": net.time_label,
            "units": {v: str(ds[v].attrs.get("units", "")) for v in names},
            "flag_meanings": _flag_meanings(
                ds, names, list(configs.qc_settings(net)["valid_statuses"])
            ),
        }
        return df

    key = (str(ws.store), net.name, station, iso_utc(s), iso_utc(e), tuple(names))
    return memo("observations", key, files=files, compute=compute)


def observations_dataset(
    ws: Workspace,
    network: str,
    station: str,
    *,
    start: Any,
    end: Any,
    variables: Sequence[str] | str | None = None,
) -> Read:
    """Return the CF-1.8 ``timeSeries`` dataset of one station and time range, as stored.

    Parameters
    ----------
    ws : Workspace
        The workspace.
    network, station : str
        The network and one of its stations.
    start, end : str, datetime or pandas.Timestamp
        UTC time range, inclusive.
    variables : sequence of str, optional
        Registry names (default: every stored variable); their ``_flag``, ``_qc`` and
        ``_source_flag`` come along.

    Returns
    -------
    Read
        ``data``: xarray Dataset from :meth:`pipelines.store.StationStore.open` with the one
        station kept as a length-1 ``station`` dimension (station id, name, lat, lon, alt and the
        store's global attributes included), ready for ``to_netcdf``.

    Raises
    ------
    NotFound
        Unknown network, station or variable, or a network without stored data.
    """
    net = configs.network(network)
    _check_station(net, station)
    names = _variables(ws, net, variables)
    s, e = _range(start, end)
    files = _files(ws, net, s, e)

    def compute() -> xr.Dataset:
        ds = _one_station(_open(ws, net, names, s, e), net, station)
        for v in ds.variables.values():  # the source files' string lengths do not apply
            v.encoding.pop("char_dim_name", None)
        ds.attrs = dict(ds.attrs)
        ds.attrs["summary"] = (
            f"Quality-controlled observations of station {station!r} of network {net.name!r}, "
            f"{iso_utc(s) or 'start'} to {iso_utc(e) or 'end'} (UTC)."
        )
        return ds

    key = (str(ws.store), net.name, station, iso_utc(s), iso_utc(e), tuple(names))
    return memo("observations_dataset", key, files=files, compute=compute)


# --------------------------------------------------------------------------- AQI
def _editions(times: pd.DatetimeIndex, tz: str, standards: list[Any]) -> np.ndarray:
    """Edition in force at each time (by local date, as :func:`features.assessment.hourly_aqi`)."""
    dates = to_local(times, tz).date if len(times) else np.array([], dtype=object)
    names: dict[dt.date, str] = {}
    out = []
    for d in dates:
        if d not in names:
            names[d] = next((s.name for s in standards if s.applies_to(d)), "")
        out.append(names[d])
    return np.array(out, dtype=object)


def _hourly_aqi_dataset(ds: xr.Dataset, net: NetworkSpec) -> xr.Dataset:
    """Hourly AQI, category, primary pollutant, edition and IAQI per pollutant of every station."""
    reg = configs.registry()
    standards = configs.aqi_family(AQI_FAMILY)
    valid_statuses = list(configs.qc_settings(net)["valid_statuses"])
    pols = [p for p in pollutants(reg) if p in ds]
    valid = mask_invalid(ds, pols, valid_statuses)
    args = (standards, reg["variables"], net.time_zone, reg["reference_conditions"])
    out = _features_hourly_aqi(valid, *args)
    for p in pols:  # one pollutant alone: its AQI is its IAQI on the real-time table
        out[f"iaqi_{p}"] = _features_hourly_aqi(valid[[p]], *args)["aqi"]
    times = pd.DatetimeIndex(out["time"].values)
    out["edition"] = ("time", _editions(times, net.time_zone, standards).astype(str))
    return out


def hourly_aqi(ws: Workspace, network: str, station: str, *, start: Any, end: Any) -> Read:
    """Real-time (hourly) AQI of one station, HJ 633 edition by date, invalid QC flags excluded.

    Parameters
    ----------
    ws : Workspace
        The workspace.
    network, station : str
        An air network and one of its stations.
    start, end : str, datetime or pandas.Timestamp
        UTC time range, inclusive (23 h before ``start`` are read for 24-h moving means).

    Returns
    -------
    Read
        ``data``: pandas DataFrame indexed by UTC time (tz-aware) with ``iaqi_<pollutant>``
        (IAQI on the real-time table of the edition in force; NaN without a valid value),
        ``aqi``, ``category`` (level 1-6, 0 without AQI), ``primary`` (primary pollutants,
        comma-separated, None when AQI <= 50 or missing) and ``edition`` (e.g. ``hj633-2012``);
        computed by :func:`features.assessment.hourly_aqi` on the values whose final flag is a
        valid status of ``configs/qc.yml``.

    Raises
    ------
    NotFound
        Unknown network or station, a water network, or a network without stored data.
    """
    net = _network_of_kind(network, "air", "AQI")
    _check_station(net, station)
    s, e = _range(start, end)
    stored = _stored_variables(ws, net)
    pols = [p for p in pollutants(configs.registry()) if p in stored]
    read_from = s - _HISTORY if s is not None else None
    files = _files(ws, net, read_from, e)

    def compute() -> pd.DataFrame:
        ds = _one_station(_open(ws, net, pols, read_from, e), net, station)
        aqi = _hourly_aqi_dataset(ds, net).isel(station=0)
        cols = {f"iaqi_{p}": aqi[f"iaqi_{p}"].values for p in pols if f"iaqi_{p}" in aqi}
        cols["aqi"] = aqi["aqi"].values
        cols["category"] = aqi["category"].values.astype("int64")
        primary = aqi["primary_pollutant"].values.astype(object)
        cols["primary"] = np.where(primary == "", None, primary)
        cols["edition"] = aqi["edition"].values.astype(object)
        df = pd.DataFrame(cols, index=_utc_index(aqi["time"].values))
        if s is not None:
            df = df[df.index >= pd.Timestamp(s, tz="UTC")]
        df.attrs = {
            "network": net.name,
            "station": station,
            "standard_family": AQI_FAMILY,
            "time_zone": net.time_zone,
            "time_label": net.time_label,
        }
        return df

    key = (str(ws.store), net.name, station, iso_utc(s), iso_utc(e))
    return memo("hourly_aqi", key, files=files, compute=compute)


# --------------------------------------------------------------------------- assessed tables
def _local_date(t: Any, tz: str) -> str | None:
    """Return the local calendar date ``YYYY-MM-DD`` of a date, date text or (UTC) time."""
    if t is None:
        return None
    if isinstance(t, dt.date) and not isinstance(t, dt.datetime):
        return t.isoformat()
    if isinstance(t, str) and len(t) == 10:
        return dt.date.fromisoformat(t).isoformat()
    ts = pd.Timestamp(t)
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts
    return ts.tz_convert(tz).strftime("%Y-%m-%d")


def _select(
    rows: list[dict[str, Any]],
    *,
    station: str | None,
    start: str | None,
    end: str | None,
    station_key: str = "station",
    date_key: str = "date",
) -> list[dict[str, Any]]:
    return [
        r
        for r in rows
        if (station is None or r[station_key] == station)
        and (start is None or r[date_key] >= start)
        and (end is None or r[date_key] <= end)
    ]


def _table_rows(path: Path, columns: list[str], empty: list[str]) -> list[dict[str, Any]]:
    """Station-day records of a daily table; days with no data at all (``empty``) are left out."""
    with xr.open_dataset(path) as ds:
        ds = ds.load()
    have = [c for c in columns if c in ds]
    df = ds[have].to_dataframe().reset_index()
    blank = [c for c in empty if c in df]
    if blank:
        nothing = np.ones(len(df), dtype=bool)
        for c in blank:
            empty_c = df[c].isna().to_numpy()
            if df[c].dtype.kind in "iu":  # valid-hour counts
                empty_c |= df[c].to_numpy() == 0
            nothing &= empty_c
        df = df[~nothing]
    df["date"] = pd.DatetimeIndex(df["date"]).strftime("%Y-%m-%d")
    df["station"] = df["station"].astype(str)
    return [{k: jsonable(v) for k, v in row.items()} for row in df.to_dict(orient="records")]


def _daily_aqi_rows(path: Path) -> list[dict[str, Any]]:
    with xr.open_dataset(path) as ds:
        iaqi = [str(v) for v in ds.data_vars if str(v).startswith("iaqi_")]
        hours = [str(v) for v in ds.data_vars if str(v).endswith("_hours")]
    cols = ["aqi", "category", "primary_pollutant", "over_standard", "edition", *iaqi, *hours]
    rows = _table_rows(path, cols, ["aqi", *hours])
    out = []
    for r in rows:
        rec = {
            "station": r["station"],
            "date": r["date"],
            "aqi": r.get("aqi"),
            "category": r.get("category"),
            "primary": r.get("primary_pollutant") or None,
            "over_standard": r.get("over_standard") or None,
            "edition": r.get("edition") or None,
        }
        rec.update({k: r[k] for k in iaqi if k in r})
        out.append(rec)
    return out


def daily_aqi(
    ws: Workspace,
    network: str,
    *,
    station: str | None = None,
    start: Any = None,
    end: Any = None,
) -> Read:
    """Daily AQI per station and local day, as assessed (``outputs/<network>_daily_aqi.nc``).

    Parameters
    ----------
    ws : Workspace
        The workspace.
    network : str
        An air network.
    station : str, optional
        One station (default: all).
    start, end : date, str or datetime, optional
        Local days, inclusive (a date or ``YYYY-MM-DD``; a time is taken in UTC and converted to
        the network's local date).

    Returns
    -------
    Read
        ``data``: list of ``{station, date (local, YYYY-MM-DD), aqi, category (1-6; 0: no valid
        AQI), primary, over_standard, edition, iaqi_<key> ...}`` by station then date; days
        without any data are left out.

    Raises
    ------
    NotFound
        Unknown network or station, a water network, or no daily AQI table yet.
    """
    net = _network_of_kind(network, "air", "AQI")
    if station is not None:
        _check_station(net, station)
    path = ws.outputs / f"{net.name}_daily_aqi.nc"
    if not path.is_file():
        raise NotFound(
            f"no daily AQI of network {net.name!r} yet ({path.name} missing; run `qingyuan assess`)"
        )
    lo, hi = _local_date(start, net.time_zone), _local_date(end, net.time_zone)

    def compute() -> list[dict[str, Any]]:
        rows = memo(
            "daily_aqi_rows", str(path), files=[path], compute=lambda: _daily_aqi_rows(path)
        ).data
        return _select(rows, station=station, start=lo, end=hi)

    return memo("daily_aqi", (str(path), station, lo, hi), files=[path], compute=compute)


def _daily_class_rows(path: Path) -> list[dict[str, Any]]:
    with xr.open_dataset(path) as ds:
        means = [str(v) for v in ds.data_vars if str(v).endswith("_daily_mean")]
    rows = _table_rows(path, ["water_class", "determining", *means], means)
    out = []
    for r in rows:
        code = int(r.get("water_class") or 0)
        rec = {
            "station": r["station"],
            "date": r["date"],
            "class": CLASS_NAMES[code - 1] if code else None,
            "class_code": code,
            "limiting": r.get("determining") or None,
        }
        rec.update({k: r[k] for k in means if k in r})
        out.append(rec)
    return out


def _weekly_class_rows(path: Path) -> list[dict[str, Any]]:
    df = pd.read_csv(path, dtype={"week": str, "section": str, "class": str, "determining": str})
    out = []
    for r in df.to_dict(orient="records"):
        r = jsonable(r)
        out.append(
            {
                "station": r["section"],
                "week": r["week"],
                "class": r.get("class"),
                "limiting": r.get("determining") or None,
                "target_class": r.get("target_class"),
                "complies": None if r.get("complies") is None else bool(r["complies"]),
            }
        )
    return out


def water_class(
    ws: Workspace,
    network: str,
    *,
    station: str | None = None,
    start: Any = None,
    end: Any = None,
    period: str = "daily",
) -> Read:
    """GB 3838 class per section and local day (or week), as assessed.

    Parameters
    ----------
    ws : Workspace
        The workspace.
    network : str
        A water network.
    station : str, optional
        One section (default: all).
    start, end : date, str or datetime, optional
        Local days, inclusive (weeks: their first day).
    period : {"daily", "weekly"}
        ``daily``: ``outputs/<network>_daily_class.nc``; ``weekly``:
        ``outputs/<network>_weekly_class.csv`` (with the target class and compliance).

    Returns
    -------
    Read
        ``data``: list of ``{station, date, class ("I".."V", "劣V" or None), class_code (1-6, 0
        without class), limiting (the parameters at the worst class), <parameter>_daily_mean
        ...}``; weekly: ``{station, week, class, limiting, target_class, complies}``. Days
        without any data are left out.

    Raises
    ------
    NotFound
        Unknown network or section, an air network, or no class table yet.
    """
    net = _network_of_kind(network, "water", "water class")
    if station is not None:
        _check_station(net, station)
    if period not in ("daily", "weekly"):
        raise ValueError(f"period must be 'daily' or 'weekly', not {period!r}")
    name = f"{net.name}_daily_class.nc" if period == "daily" else f"{net.name}_weekly_class.csv"
    path = ws.outputs / name
    if not path.is_file():
        raise NotFound(
            f"no {period} water class of network {net.name!r} yet ({name} missing; run `qingyuan assess`)"
        )
    lo, hi = _local_date(start, net.time_zone), _local_date(end, net.time_zone)
    reader = _daily_class_rows if period == "daily" else _weekly_class_rows

    def compute() -> list[dict[str, Any]]:
        rows = memo(
            f"{period}_class_rows", str(path), files=[path], compute=lambda: reader(path)
        ).data
        date_key = "date" if period == "daily" else "week"
        return _select(rows, station=station, start=lo, end=hi, date_key=date_key)

    return memo("water_class", (str(path), station, lo, hi), files=[path], compute=compute)


# --------------------------------------------------------------------------- the map
def _air_status(ds: xr.Dataset, net: NetworkSpec) -> dict[str, dict[str, Any]]:
    aqi = _hourly_aqi_dataset(ds, net)
    times = pd.DatetimeIndex(aqi["time"].values)
    iaqi = [str(v) for v in aqi.data_vars if str(v).startswith("iaqi_")]
    out = {}
    for i, sid in enumerate(str(s) for s in aqi["station"].values):
        a = aqi["aqi"].values[i]
        ok = np.flatnonzero(~np.isnan(a))
        if not len(ok):
            continue
        k = ok[-1]
        out[sid] = {
            "time": iso_utc(times[k]),
            "aqi": jsonable(a[k]),
            "category": int(aqi["category"].values[i, k]),
            "primary": str(aqi["primary_pollutant"].values[i, k]) or None,
            "edition": str(aqi["edition"].values[k]) or None,
            "iaqi": {v.removeprefix("iaqi_"): jsonable(aqi[v].values[i, k]) for v in iaqi},
        }
    return out


def _water_status(ds: xr.Dataset, net: NetworkSpec) -> dict[str, dict[str, Any]]:
    std = configs.water_std()
    params = [p for p in std.evaluated(net.waterbody) if p in ds]
    if not params:
        return {}
    valid = mask_invalid(ds, params, list(configs.qc_settings(net)["valid_statuses"]))
    times = pd.DatetimeIndex(valid["time"].values)
    stack = np.stack([valid[p].transpose("station", "time").values for p in params])
    out = {}
    for i, sid in enumerate(str(s) for s in valid["station"].values):
        ok = np.flatnonzero((~np.isnan(stack[:, i, :])).any(axis=0))
        if not len(ok):
            continue
        k = ok[-1]
        at = float32_decimal(stack[:, i, k])
        values = {p: float(at[j]) for j, p in enumerate(params) if not np.isnan(at[j])}
        cls, det = section_class({p: np.array([v]) for p, v in values.items()}, std, net.waterbody)
        code = int(cls[0])
        out[sid] = {
            "time": iso_utc(times[k]),
            "class": CLASS_NAMES[code - 1] if code else None,
            "class_code": code,
            "limiting": str(det[0]) or None,
            "values": values,
        }
    return out


def _source_status(ws: Workspace, net: NetworkSpec) -> list[dict[str, Any]]:
    """Latest compared values of every stack and outfall, and its enterprise's alert in force."""
    from pipelines.results.enterprises import enterprises

    by_station = {s["id"]: (e, s) for e in enterprises(ws, net.name).data for s in e["stations"]}
    out = []
    for st in net.stations:
        e, s = by_station.get(st.id, (None, None))
        latest = (s or {}).get("latest") or {}
        out.append(
            {
                "id": st.id,
                "name": st.name or st.id,
                "lat": st.lat,
                "lon": st.lon,
                "time": latest.get("time"),
                "enterprise": st.enterprise,
                "enterprise_name": (e or {}).get("name"),
                "medium": st.medium,
                "exceeds": latest.get("exceeds"),
                "pollutants": latest.get("pollutants", {}),
                "alert": (e or {}).get("alert"),
            }
        )
    return out


def _status_records(ws: Workspace, net: NetworkSpec, parts: list[Path]) -> list[dict[str, Any]]:
    if net.kind == "source":  # no AQI, no water class: the discharge limits
        return _source_status(ws, net)
    st = station_store(ws, net)
    stored = partition_info(st, parts[-1])["variables"] if parts else []
    if net.kind == "air":
        need, status_of = [p for p in pollutants(configs.registry()) if p in stored], _air_status
    else:
        need = [p for p in configs.water_std().evaluated(net.waterbody) if p in stored]
        status_of = _water_status
    found: dict[str, dict[str, Any]] = {}
    if parts and need:
        found = status_of(st.open(variables=need, start=month_of(parts[-1])), net)
        missing = [s for s in net.station_ids() if s not in found]
        if missing and len(parts) > 1:  # a station silent this month: look one month back
            found = status_of(st.open(variables=need, start=month_of(parts[-2])), net) | found
    blank = (
        {"aqi": None, "category": 0, "primary": None, "edition": None, "iaqi": {}}
        if net.kind == "air"
        else {"class": None, "class_code": 0, "limiting": None, "values": {}}
    )
    return [
        {
            "id": s.id,
            "name": s.name or s.id,
            "lat": s.lat,
            "lon": s.lon,
            **({"time": None} | blank | found.get(s.id, {})),
        }
        for s in net.stations
    ]


def current_status(ws: Workspace, network: str) -> Read:
    """Return the latest value of every station for the map: hourly AQI or water class.

    Reads the newest partition (and the one before for a station without a valid value in it).

    Parameters
    ----------
    ws : Workspace
        The workspace.
    network : str
        The network.

    Returns
    -------
    Read
        ``data``: one record per configured station, ``{id, name, lat, lon, time}`` (``time``:
        the latest hour with a valid value, ISO-8601 UTC; None without one) plus, for an air
        network, ``aqi``, ``category`` (1-6; 0 without AQI), ``primary``, ``edition`` and
        ``iaqi`` ``{pollutant: IAQI}`` of that hour (:func:`hourly_aqi`'s computation), for a
        water network ``class`` ("I".."V", "劣V"), ``class_code`` (1-6), ``limiting`` (the
        parameters at the worst class) and ``values`` ``{parameter: value}``: the GB 3838
        single-factor class (:func:`features.water_class.section_class`) of the latest valid
        readings; for a ``kind: source`` network ``enterprise``, ``enterprise_name``, ``medium``,
        ``exceeds``, ``pollutants`` ``{variable: {value, limit, limit_range, ratio, exceeds,
        flag, source, units}}`` of the newest hour with a compared value and ``alert`` (the
        enterprise's supervision alert in force, or None), from
        :func:`pipelines.results.enterprises.enterprises`.

    Raises
    ------
    NotFound
        For an unknown network.
    """
    net = configs.network(network)
    parts = station_store(ws, net).partitions()
    files = [configs.network_file(net.name), *parts[-2:]]
    if net.kind == "source":  # the alerts in force are part of the status
        from pipelines.results.warning_db import db_files

        files += [*db_files(ws), *configs.warning_files()]
    key = (str(ws.store), net.name, tuple(p.name for p in parts[-2:]))
    return memo("current_status", key, files=files, compute=lambda: _status_records(ws, net, parts))
