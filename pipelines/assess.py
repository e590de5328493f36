"""Assess a stored network and write the results: daily AQI or water class, summary, grids.

Reads the store, calls the pure functions of :mod:`features`, writes netCDF/CSV/JSON/Markdown.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from features.assessment import daily_aqi, daily_statistics, mask_invalid
from features.gridding import interpolate, regular_grid
from features.qc import FLAG_MEANINGS
from features.qc.flags import FLAG_CODES
from features.times import to_local
from features.units import cf_unit_attrs, pollutants, running_means
from features.warnings.supervision import StationData
from features.water_class import CLASS_NAMES, section_class
from pipelines.config import aqi_standards, load_qc, load_variables, water_standard
from pipelines.config.locations import code_version
from pipelines.config.registry import discharge_standard
from pipelines.files import atomic_path
from pipelines.store import StationStore

__all__ = [
    "assess_air",
    "assess_sources",
    "assess_water",
    "network_summary",
    "source_station_data",
    "write_assessment",
    "write_grid",
]


def assess_air(store: StationStore, family: str = "hj633") -> xr.Dataset:
    """Daily AQI of every station and local day (edition chosen by date within the family)."""
    net, reg = store.network, load_variables()
    qc = load_qc(net)
    ds = store.open()
    measured = [p for p in (*pollutants(reg), *running_means(reg)) if p in ds]
    hourly = mask_invalid(ds, measured, qc["valid_statuses"])
    standards = aqi_standards(family)
    validity = next((s.validity for s in standards if s.validity), {})
    stats = daily_statistics(
        hourly, net.time_zone, net.time_label, validity, running_means=running_means(reg)
    )
    out = daily_aqi(stats, standards, reg["variables"], reg["reference_conditions"])
    out = xr.merge([out, stats])
    out["date"].attrs["long_name"] = f"local calendar day ({net.time_zone})"
    out.attrs = {
        "Conventions": "CF-1.8",
        "title": f"Daily AQI ({family}) of network {net.name}",
        "history": f"qingyuan {code_version()} assess",
        "network": net.name,
        "standard_family": family,
        "time_zone": net.time_zone,
        "validity_rules": json.dumps(validity),
    }
    return out


def write_assessment(ds: xr.Dataset, path: Path | str) -> Path:
    """Write a daily assessment (:func:`assess_air`, :func:`assess_water`) as CF netCDF, atomically.

    Dates are stored as 32-bit ``days since 1970-01-01`` (CF 2.2 has no 64-bit integers).
    """
    encoding = {"date": {"dtype": "int32", "units": "days since 1970-01-01"}}
    with atomic_path(path) as tmp:
        ds.to_netcdf(tmp, encoding=encoding)
    return Path(path)


def assess_water(store: StationStore, standard: str = "gb3838-2002") -> xr.Dataset:
    """Daily GB 3838 single-factor class of every station and local day."""
    net = store.network
    qc = load_qc(net)
    std = water_standard(standard)
    params = [p for p in std.evaluated(net.waterbody)]
    ds = store.open()
    have = [p for p in params if p in ds]
    valid = mask_invalid(ds, have, qc["valid_statuses"])
    times = pd.DatetimeIndex(valid["time"].values)
    local_day = to_local(times, net.time_zone).floor("D")
    daily = valid.assign_coords(date=("time", local_day)).groupby("date").mean("time")
    daily = daily.transpose("station", "date")
    cls, det = section_class({p: daily[p].values for p in have}, std, net.waterbody)
    reg = load_variables()["variables"]
    out = xr.Dataset(
        {
            "water_class": (
                ("station", "date"),
                np.asarray(cls).astype("int8"),
                {
                    "long_name": f"{std.name} single-factor water quality class "
                    "(0: not assessed, 1 = I .. 6 = worse than V)",
                    "flag_values": np.arange(7, dtype="int8"),
                    "flag_meanings": "not_assessed I II III IV V worse_than_V",
                },
            ),
            "determining": (
                ("station", "date"),
                det.astype(str),
                {"long_name": "parameter(s) determining the class"},
            ),
            **{
                f"{p}_daily_mean": (
                    ("station", "date"),
                    daily[p].values,
                    {"long_name": f"daily mean of {reg[p]['long_name']}", **cf_unit_attrs(reg[p])},
                )
                for p in have
            },
        },
        coords={"station": daily["station"].values, "date": daily["date"].values},
    )
    out["date"].attrs["long_name"] = f"local calendar day ({net.time_zone})"
    out.attrs = {
        "Conventions": "CF-1.8",
        "title": f"Daily {std.name} water class of network {net.name}",
        "history": f"qingyuan {code_version()} assess",
        "network": net.name,
        "standard": std.name,
        "waterbody": net.waterbody,
        "evaluated_parameters": ",".join(have),
        "not_available": ",".join(p for p in params if p not in have),
    }
    return out


_STATUS = np.array(sorted(FLAG_CODES, key=FLAG_CODES.get), dtype=object)


def source_station_data(ds: Any, net: Any, *, valid_statuses: list[str]) -> dict[str, StationData]:
    """Build the :class:`StationData` of every station of a source network's store dataset."""
    times = pd.DatetimeIndex(ds["time"].values)
    variables = [
        v
        for v in ds.data_vars
        if f"{v}_flag" in ds and not v.endswith(("_flag", "_source_flag", "_qc"))
    ]
    valid_codes = [FLAG_CODES[s] for s in valid_statuses if s in FLAG_CODES]
    ids = [str(s) for s in ds["station"].values]
    out = {}
    for st in net.stations:
        if st.id not in ids:
            continue
        i = ids.index(st.id)
        values, status, valid = {}, {}, {}
        for v in variables:
            codes = ds[f"{v}_flag"].values[i].astype(int)
            if (codes == FLAG_CODES["missing"]).all():
                continue  # a variable this station does not report
            values[v] = ds[v].values[i].astype(float)
            status[v] = _STATUS[np.clip(codes, 0, len(_STATUS) - 1)]
            valid[v] = np.isin(codes, valid_codes) & ~np.isnan(values[v])
        std = discharge_standard(st.standard) if st.standard else None
        out[st.id] = StationData(
            station=st.id,
            name=st.name or st.id,
            medium=st.medium or "air",
            times=times,
            values=values,
            status=status,
            valid=valid,
            standard=std,
            class_id=st.standard_class,
            overrides=dict(st.limits),
            time_zone=net.time_zone,
        )
    return out


def assess_sources(store: StationStore) -> pd.DataFrame:
    """Discharge compliance of a ``kind: source`` network: per station and limited variable.

    Every period of the station's standard (valid hourly means corrected to the reference O2 for
    flue gas, valid daily means for wastewater) compared with its limit
    (:func:`features.discharge.compare`).

    Returns
    -------
    pandas.DataFrame
        One row per station and variable: enterprise, standard, class, period, periods,
        periods_assessed, periods_exceeding, max_ratio, first_exceedance, last_exceedance (UTC).
    """
    from features.discharge import compare

    net = store.network
    data = source_station_data(store.open(), net, valid_statuses=load_qc(net)["valid_statuses"])
    rows = []
    by_id = {s.id: s for s in net.stations}
    for sid, st in data.items():
        if st.standard is None or not st.values:
            continue
        frame = pd.DataFrame(st.values, index=st.times)
        valid = pd.DataFrame(st.valid, index=st.times)
        for var, per in compare(
            st.standard,
            st.class_id,
            frame,
            valid=valid,
            time_zone=net.time_zone,
            overrides=st.overrides or None,
        ).items():
            ex = per[per["exceeds"].fillna(False).astype(bool)]
            rows.append(
                {
                    "station": sid,
                    "enterprise": by_id[sid].enterprise,
                    "standard": st.standard.name,
                    "class": st.class_id,
                    "variable": var,
                    "period": st.standard.period,
                    "periods": len(per),
                    "periods_assessed": int(per["assessed"].sum()),
                    "periods_exceeding": len(ex),
                    "max_ratio": round(float(per["ratio"].max()), 3)
                    if per["ratio"].notna().any()
                    else None,
                    "first_exceedance": str(ex.index[0]) if len(ex) else "",
                    "last_exceedance": str(ex.index[-1]) if len(ex) else "",
                }
            )
    return pd.DataFrame(rows)


def network_summary(store: StationStore, assessed: xr.Dataset | None) -> dict[str, Any]:
    """Stations, period, completeness, QC flag counts and days per category per station."""
    net = store.network
    ds = store.open()
    variables = [v for v in ds.data_vars if f"{v}_flag" in ds]
    times = pd.DatetimeIndex(ds["time"].values)
    present = np.zeros(times.shape, bool)
    for v in variables:
        present |= (~np.isnan(ds[v].values)).any(axis=0)
    first, last = times[present.argmax()], times[len(present) - 1 - present[::-1].argmax()]
    span = ds.sel(time=slice(first, last))
    qc = load_qc(net)
    valid_codes = [FLAG_MEANINGS.index(m) for m in _meanings(qc["valid_statuses"])]
    completeness, flags = {}, {}
    for v in variables:
        f = span[f"{v}_flag"].values
        completeness[v] = round(100.0 * float(np.isin(f, valid_codes).mean()), 2)
        codes, counts = np.unique(f, return_counts=True)
        flags[v] = {FLAG_MEANINGS[c]: int(n) for c, n in zip(codes, counts, strict=True)}
    summary: dict[str, Any] = {
        "network": net.name,
        "kind": net.kind,
        "stations": [s.id for s in net.stations],
        "period_utc": [str(first), str(last)],
        "time_zone": net.time_zone,
        "completeness_percent": completeness,
        "flag_counts": flags,
    }
    if assessed is not None and "category" in assessed:
        cats = {}
        names = {
            1: "excellent",
            2: "good",
            3: "light",
            4: "moderate",
            5: "heavy",
            6: "severe",
            0: "no_aqi",
        }
        for i, st in enumerate(assessed["station"].values):
            c = assessed["category"].values[i]
            cats[str(st)] = {names[k]: int((c == k).sum()) for k in range(7)}
        summary["days_per_aqi_category"] = cats
        summary["aqi_editions"] = sorted(set(assessed["edition"].values.tolist()) - {""})
    if assessed is not None and "water_class" in assessed:
        cls = {}
        for i, st in enumerate(assessed["station"].values):
            c = assessed["water_class"].values[i]
            cls[str(st)] = {CLASS_NAMES[k - 1]: int((c == k).sum()) for k in range(1, 7)} | {
                "no_class": int((c == 0).sum())
            }
        summary["days_per_water_class"] = cls
        summary["water_class_parameters"] = assessed.attrs.get("evaluated_parameters", "")
    return summary


def _meanings(statuses: list[str]) -> list[str]:
    from features.qc import FLAG_CODES

    return [FLAG_MEANINGS[FLAG_CODES[s]] for s in statuses]


def write_grid(
    store: StationStore,
    variable: str,
    out_path: Path,
    days: list[pd.Timestamp] | None = None,
    method: str = "ordinary_kriging",
    resolution: float = 0.02,
) -> Path:
    """Interpolate daily station means of ``variable`` to a CF lat/lon grid netCDF.

    Parameters
    ----------
    store : StationStore
        The network's store.
    variable : str
        Canonical variable.
    out_path : pathlib.Path
        Output file.
    days : list of pandas.Timestamp, optional
        Local days to grid (default: the last day with data).
    method : str
        Gridding method name (:data:`features.gridding.GRIDDERS`).
    resolution : float
        Grid spacing [degrees].
    """
    net, reg = store.network, load_variables()["variables"]
    qc = load_qc(net)
    ds = store.open(variables=[variable])
    valid = mask_invalid(ds, [variable], qc["valid_statuses"])
    times = pd.DatetimeIndex(valid["time"].values)
    start = times - net.freq if net.time_label == "interval_end" else times
    local_day = to_local(start, net.time_zone).floor("D")
    daily = valid[variable].assign_coords(date=("time", local_day)).groupby("date").mean("time")
    daily = daily.transpose("station", "date")
    if days is None:
        has = daily.notnull().any("station")
        days = [pd.Timestamp(daily["date"].values[has.values][-1])]
    lat = np.array([s.lat for s in net.stations])
    lon = np.array([s.lon for s in net.stations])
    order = [str(s) for s in daily["station"].values]
    by_id = {s.id: (s.lat, s.lon) for s in net.stations}
    lat = np.array([by_id[s][0] for s in order])
    lon = np.array([by_id[s][1] for s in order])
    glat, glon = regular_grid(lat, lon, resolution)
    fields = np.stack(
        [interpolate(lat, lon, daily.sel(date=d).values, glat, glon, method) for d in days]
    )
    meta = reg[variable]
    attrs = {
        "long_name": f"daily mean {meta['long_name']} interpolated from stations ({method})",
        **cf_unit_attrs(meta),
        "cell_methods": "time: mean",
    }
    if meta.get("standard_name"):
        attrs["standard_name"] = meta["standard_name"]
    out = xr.Dataset(
        {variable: (("time", "lat", "lon"), fields.astype("float32"), attrs)},
        coords={
            "time": (
                "time",
                pd.DatetimeIndex(days).values,
                {"standard_name": "time", "long_name": "local day"},
            ),
            "lat": (
                "lat",
                glat,
                {"standard_name": "latitude", "units": "degrees_north", "axis": "Y"},
            ),
            "lon": (
                "lon",
                glon,
                {"standard_name": "longitude", "units": "degrees_east", "axis": "X"},
            ),
        },
    )
    out.attrs = {
        "Conventions": "CF-1.8",
        "title": f"Gridded {variable} for network {net.name}",
        "source": f"station store of {net.name}; method {method}",
        "network": net.name,
        "time_note": f"time is the local day in {net.time_zone}",
    }
    out.attrs["history"] = f"gridded by qingyuan from the {net.name} station store"
    with atomic_path(out_path) as tmp:
        out.to_netcdf(
            tmp,
            encoding={
                variable: {"zlib": True, "_FillValue": np.float32(np.nan)},
                "time": {"units": "days since 1970-01-01", "dtype": "int32"},
                "lat": {"_FillValue": None},
                "lon": {"_FillValue": None},
            },
        )
    return out_path


def water_compliance(
    store: StationStore, river: Any, standard: str = "gb3838-2002", period: str = "W-SUN"
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Class per section and week, compliance with the target class, whole-river rating per week.

    The week's class is the single-factor class of the week's mean concentrations (QC-valid
    readings only); a section complies when its class is not worse than its target class
    (``configs/rivers/<name>.yml``). The river rating (:func:`features.water_class.river_rating`)
    is computed over every section of the network each week.

    Returns
    -------
    weekly : pandas.DataFrame
        ``week, section, class, determining, target_class, complies``.
    rating : pandas.DataFrame
        ``week, sections, share_I_III, share_worse_than_V, rating``.
    """
    from features.water_class import river_rating

    net = store.network
    std = water_standard(standard)
    params = [p for p in std.evaluated(net.waterbody)]
    ds = store.open()
    have = [p for p in params if p in ds]
    valid = mask_invalid(ds, have, load_qc(net)["valid_statuses"])
    times = pd.DatetimeIndex(valid["time"].values)
    local = to_local(times, net.time_zone)
    week = local.to_period(period).start_time
    means = valid.assign_coords(week=("time", week)).groupby("week").mean("time")
    means = means.transpose("station", "week")
    cls, det = section_class({p: means[p].values for p in have}, std, net.waterbody)
    rows = []
    targets = {s.id: s.target_class for s in river.sections.values()} if river else {}
    for i, sid in enumerate(means["station"].values):
        for j, w in enumerate(pd.DatetimeIndex(means["week"].values)):
            c = int(cls[i, j])
            tgt = targets.get(str(sid))
            rows.append(
                {
                    "week": str(w.date()),
                    "section": str(sid),
                    "class": CLASS_NAMES[c - 1] if c else None,
                    "determining": str(det[i, j]),
                    "target_class": tgt,
                    "complies": (c <= CLASS_NAMES.index(tgt) + 1) if (c and tgt) else None,
                }
            )
    weekly = pd.DataFrame(rows)
    rating = pd.DataFrame(
        [
            {"week": str(w.date()), **river_rating(cls[:, j])}
            for j, w in enumerate(pd.DatetimeIndex(means["week"].values))
        ]
    )
    return weekly, rating
