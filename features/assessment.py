"""Assessment of hourly station data: GB 3095 validity rules, daily statistics and AQI.

Inputs are xarray objects on a regular ``(station, time)`` grid in canonical units, with values
that are not valid for statistics already masked to NaN (see :func:`mask_invalid`). Days are local
calendar days of the network's time zone; with hour-ending labels the hour labelled 01:00 is the
first hour of the day and 00:00 the last hour of the previous day.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from features.aqi import AqiStandard, aqi_from_subindices, category_of, sub_index
from features.qc.flags import FLAG_CODES
from features.times import to_local
from features.units import convert

__all__ = [
    "DAILY_SUFFIX",
    "daily_aqi",
    "daily_statistics",
    "day_statistic",
    "hourly_aqi",
    "local_hour_grid",
    "mask_invalid",
    "moving_mean",
]


def mask_invalid(ds: xr.Dataset, variables: list[str], valid_statuses: list[str]) -> xr.Dataset:
    """Return the data variables with every value whose final flag is not valid set to NaN.

    Parameters
    ----------
    ds : xarray.Dataset
        Store dataset with ``<var>`` and ``<var>_flag``.
    variables : list of str
        Variables to keep.
    valid_statuses : list of str
        Status names that enter statistics (``configs/qc.yml: valid_statuses``).
    """
    codes = [FLAG_CODES[s] for s in valid_statuses]
    out = {}
    for v in variables:
        if v not in ds:
            continue
        flag = ds.get(f"{v}_flag")
        da = ds[v].astype("float64")
        out[v] = da.where(flag.isin(codes)) if flag is not None else da
    return xr.Dataset(out, coords={k: c for k, c in ds.coords.items() if k in ("station", "time")})


def local_hour_grid(
    da: xr.DataArray, time_zone: str, time_label: str
) -> tuple[np.ndarray, pd.DatetimeIndex]:
    """Lay hourly values on a full local-day grid.

    Returns
    -------
    values : numpy.ndarray
        ``S x D x 24`` array; element ``[s, d, h]`` is the hour starting at local ``h:00`` of day
        ``d`` (NaN where there is no value).
    days : pandas.DatetimeIndex
        The ``D`` local days.
    """
    times = pd.DatetimeIndex(da["time"].values)
    start = times - pd.Timedelta("1h") if time_label == "interval_end" else times
    local = to_local(start, time_zone).floor("h")
    first, last = local.min().floor("D"), local.max().floor("D")
    days = pd.date_range(first, last, freq="D")
    pos = ((local - first) / pd.Timedelta("1h")).astype(int)
    grid = np.full((da.sizes["station"], len(days) * 24), np.nan)
    grid[:, pos] = da.transpose("station", "time").values
    return grid.reshape(da.sizes["station"], len(days), 24), days


def moving_mean(flat: np.ndarray, window: int, min_count: int) -> np.ndarray:
    """Trailing moving mean over the last axis, valid only with ``min_count`` values.

    Element ``t`` is the mean of ``t-window+1 .. t``.
    """
    ok = ~np.isnan(flat)
    vals = np.where(ok, flat, 0.0)
    csum = np.cumsum(vals, axis=-1)
    ccnt = np.cumsum(ok, axis=-1)
    pad = [(0, 0)] * (flat.ndim - 1) + [(1, 0)]
    csum, ccnt = np.pad(csum, pad), np.pad(ccnt, pad)
    n = flat.shape[-1]
    hi = np.arange(1, n + 1)
    lo = np.maximum(hi - window, 0)
    total = csum[..., hi] - csum[..., lo]
    count = ccnt[..., hi] - ccnt[..., lo]
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = total / count
    return np.where(count >= min_count, mean, np.nan)


#: Suffix of each averaging's daily statistic: ``pm25_24h``, ``o3_8h_max``, ``o3_1h_max``.
DAILY_SUFFIX = {"24h": "_24h", "8h": "_8h_max", "1h": "_1h_max"}


def day_statistic(grid: np.ndarray, averaging: str, validity: dict[str, Any]) -> np.ndarray:
    """One daily statistic of hourly values laid out by local day, with the GB 3095 validity rules.

    The one implementation of the daily statistics: observed days (:func:`daily_statistics`)
    and forecast days (:mod:`models.forecast.daily`) both go through it.

    Parameters
    ----------
    grid : numpy.ndarray
        ``... x D x 24`` hourly values; ``[..., d, h]`` is the hour starting at local ``h:00``
        of day ``d`` (NaN where missing or invalid) [any units].
    averaging : str
        ``24h``: mean of >= ``min_hours_24h`` hours; ``1h``: maximum of >= ``min_hours_1h_max``
        hours; ``8h``: maximum of the 8-h moving means (each needing >= ``min_hours_8h`` hours)
        ending 08:00..24:00, valid with >= ``mda8_min_windows`` such means, or with fewer when
        the maximum exceeds ``mda8_limit_override``; ``8h_published``: the same maximum of 8-h
        running means the network published itself (each hour's value is the mean of the 8 h
        ending at it).
    validity : dict
        The ``validity`` block of the standard.

    Returns
    -------
    numpy.ndarray
        ``... x D`` daily values [units of ``grid``], NaN where not valid.
    """
    import warnings

    hours = np.sum(~np.isnan(grid), axis=-1)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        if averaging == "24h":
            min24 = int(validity.get("min_hours_24h", 20))
            return np.where(hours >= min24, np.nanmean(grid, axis=-1), np.nan)
        if averaging == "1h":
            min1 = int(validity.get("min_hours_1h_max", 20))
            return np.where(hours >= min1, np.nanmax(grid, axis=-1), np.nan)
        if averaging in ("8h", "8h_published"):
            min8 = int(validity.get("min_hours_8h", 6))
            min_win = int(validity.get("mda8_min_windows", 14))
            override = float(validity.get("mda8_limit_override", np.inf))
            if averaging == "8h":
                flat = grid.reshape(*grid.shape[:-2], -1)  # consecutive days of each series
                m8 = moving_mean(flat, 8, min8).reshape(grid.shape)
            else:  # the hourly values are already the published 8-h running means
                m8 = grid
            windows = m8[..., 7:24]  # last hour starting 07:00..23:00 = ending 08:00..24:00
            nwin = np.sum(~np.isnan(windows), axis=-1)
            max8 = np.nanmax(windows, axis=-1)
            return np.where((nwin >= min_win) | (max8 > override), max8, np.nan)
    raise ValueError(f"unknown averaging {averaging!r}; expected one of {sorted(DAILY_SUFFIX)}")


def daily_statistics(
    ds: xr.Dataset,
    time_zone: str,
    time_label: str,
    validity: dict[str, Any],
    *,
    running_means: dict[str, tuple[str, str]] | None = None,
) -> xr.Dataset:
    """Daily statistics with the GB 3095 / HJ 663 validity rules.

    For every variable ``v``: ``v_24h``, ``v_1h_max`` and ``v_8h_max`` (see
    :func:`day_statistic`) and ``v_hours`` (valid hours).

    Parameters
    ----------
    ds : xarray.Dataset
        Hourly ``(station, time)`` values with invalid values already NaN.
    time_zone : str
        Zone defining local days.
    time_label : str
        ``interval_end`` or ``interval_start``.
    validity : dict
        The ``validity`` block of the standard.
    running_means : dict, optional
        Published running-mean variables (:func:`features.units.running_means`, e.g.
        ``{"o3_8h": ("o3", "8h")}``): when the averaged variable is absent, its daily statistic
        (``o3_8h_max``) comes from the published means (``8h_published`` of
        :func:`day_statistic`); when it is present, it is computed from the hourly values and
        the published means are not used.

    Returns
    -------
    xarray.Dataset
        ``(station, date)`` statistics.
    """
    out: dict[str, xr.DataArray] = {}
    days = None
    dims = ("station", "date")
    running = running_means or {}
    for v in ds.data_vars:
        if v in running:
            base, averaging = running[v]
            if base in ds:
                continue
            grid, days = local_hour_grid(ds[v], time_zone, time_label)
            units = {k: ds[v].attrs[k] for k in ("units", "units_metadata") if k in ds[v].attrs}
            out[f"{base}{DAILY_SUFFIX[averaging]}"] = (
                dims,
                day_statistic(grid, f"{averaging}_published", validity),
                {"long_name": f"{_STAT_WORDS[averaging]} {base} (published {v})", **units},
            )
            continue
        grid, days = local_hour_grid(ds[v], time_zone, time_label)
        name = ds[v].attrs.get("long_name", v)
        units = {k: ds[v].attrs[k] for k in ("units", "units_metadata") if k in ds[v].attrs}
        for averaging in ("24h", "1h", "8h"):
            attrs = {"long_name": f"{_STAT_WORDS[averaging]} {name}", **units}
            out[f"{v}{DAILY_SUFFIX[averaging]}"] = (
                dims,
                day_statistic(grid, averaging, validity),
                attrs,
            )
        out[f"{v}_hours"] = (
            dims,
            np.sum(~np.isnan(grid), axis=2).astype("int16"),
            {"long_name": f"valid hours of {name} in the local day", "units": "1"},
        )
    coords = {"station": ds["station"].values, "date": days.values if days is not None else []}
    out_ds = xr.Dataset(out, coords=coords)
    out_ds["date"].attrs["long_name"] = f"local calendar day ({time_zone})"
    return out_ds


_STAT_WORDS = {
    "24h": "daily (24-h) mean of",
    "1h": "daily maximum 1-h value of",
    "8h": "daily maximum 8-h running mean of",
}


def _in_units(
    values: np.ndarray, var: str, units: str, registry: dict[str, dict[str, Any]], ref: dict
) -> np.ndarray:
    meta = registry[var]
    return convert(
        values,
        meta["units"],
        units,
        molar_mass=meta.get("molar_mass"),
        temperature_K=ref.get("temperature_K", 298.15),
        pressure_Pa=ref.get("pressure_Pa", 101325.0),
    )


def daily_aqi(
    stats: xr.Dataset,
    standards: list[AqiStandard],
    registry: dict[str, dict[str, Any]],
    reference_conditions: dict[str, float] | None = None,
) -> xr.Dataset:
    """Daily AQI per station and day, each day scored by the edition in force on it.

    Parameters
    ----------
    stats : xarray.Dataset
        Output of :func:`daily_statistics`.
    standards : list of AqiStandard
        Editions of one family (e.g. HJ 633-2012 and -2026); each day uses the one in force.
    registry : dict
        Variable registry (units, molar masses).
    reference_conditions : dict, optional
        Reference temperature/pressure for gas unit conversion.

    Returns
    -------
    xarray.Dataset
        ``aqi``, ``category`` (1..6, 0 = no AQI), ``primary_pollutant``, ``over_standard``,
        ``edition`` and ``iaqi_<key>`` for every pollutant key of the daily report.
    """
    ref = reference_conditions or {}
    dates = pd.DatetimeIndex(stats["date"].values)
    shape = (stats.sizes["station"], len(dates))
    aqi = np.full(shape, np.nan)
    category = np.zeros(shape, dtype=int)
    primary = np.full(shape, "", dtype=object)
    over = np.full(shape, "", dtype=object)
    edition = np.full(len(dates), "", dtype=object)
    sub_out: dict[str, np.ndarray] = {}
    for std in standards:
        in_force = np.array([std.applies_to(d.date()) for d in dates])
        if not in_force.any():
            continue
        subs: dict[str, np.ndarray] = {}
        above: dict[str, np.ndarray] = {}
        for key in std.daily_report:
            scale = std.pollutants[key]
            name = f"{scale.variable}{DAILY_SUFFIX[scale.averaging]}"
            if name not in stats:
                continue
            conc = _in_units(stats[name].values, scale.variable, scale.units, registry, ref)
            subs[key], above[key] = sub_index(conc, scale, std)
        _substitute_above(subs, above, std)
        if not subs:
            continue
        a, p, o = aqi_from_subindices(subs)
        cols = in_force[None, :].repeat(shape[0], axis=0)
        aqi[cols], primary[cols], over[cols] = a[cols], p[cols], o[cols]
        category[cols] = category_of(a, std)[cols]
        edition[in_force] = std.name
        for key, s in subs.items():
            sub_out.setdefault(key, np.full(shape, np.nan))[cols] = s[cols]
    dims = ("station", "date")
    words = ["no_aqi", "excellent", "good", "lightly_polluted", "moderately_polluted"]
    words += ["heavily_polluted", "severely_polluted"]
    data = {
        "aqi": (dims, aqi, {"long_name": "daily air quality index (AQI)", "units": "1"}),
        "category": (
            dims,
            category.astype("int8"),
            {
                "long_name": "AQI category (0: no AQI; 1 excellent .. 6 severely polluted)",
                "flag_values": np.arange(len(words), dtype="int8"),
                "flag_meanings": " ".join(words),
            },
        ),
        "primary_pollutant": (
            dims,
            primary.astype(str),
            {"long_name": "primary pollutant(s) of the day (AQI > 50)"},
        ),
        "over_standard": (
            dims,
            over.astype(str),
            {"long_name": "pollutants over their grade-II limit (IAQI > 100)"},
        ),
        "edition": (("date",), edition.astype(str), {"long_name": "AQI standard edition in force"}),
    }
    data.update(
        {
            f"iaqi_{k}": (
                dims,
                v,
                {"long_name": f"individual air quality index (IAQI) of {k}", "units": "1"},
            )
            for k, v in sub_out.items()
        }
    )
    return xr.Dataset(data, coords={"station": stats["station"].values, "date": dates.values})


def _substitute_above(
    subs: dict[str, np.ndarray], above: dict[str, np.ndarray], std: AqiStandard
) -> None:
    """Apply the HJ 633 fall-backs: SO2 1h above table -> 24h; O3 8h above table -> 1h."""
    for key, mask in above.items():
        if not mask.any():
            continue
        rule = std.pollutants[key].above_table
        target = key.split("_")[0] + ("_24h" if rule == "use_24h" else "_1h")
        if target in subs:
            subs[key] = np.where(mask, subs[target], subs[key])


def hourly_aqi(
    ds: xr.Dataset,
    standards: list[AqiStandard],
    registry: dict[str, dict[str, Any]],
    time_zone: str,
    reference_conditions: dict[str, float] | None = None,
) -> xr.Dataset:
    """Real-time (hourly) AQI per station and hour, by the edition in force on the local date.

    1-h SO2, NO2, CO and O3 use their 1-h tables (SO2 above 800 falls back to the 24-h moving
    mean, as HJ 633-2012 prescribes); PM2.5 and PM10 use the 24-h table with the hourly value
    or the 24-h moving mean (``realtime_pm_averaging``).
    """
    ref = reference_conditions or {}
    times = pd.DatetimeIndex(ds["time"].values)
    local_dates = to_local(times, time_zone).date
    shape = (ds.sizes["station"], len(times))
    aqi = np.full(shape, np.nan)
    primary = np.full(shape, "", dtype=object)
    category = np.zeros(shape, dtype=int)
    for std in standards:
        in_force = np.array([std.applies_to(d) for d in local_dates])
        if not in_force.any():
            continue
        subs: dict[str, np.ndarray] = {}
        above: dict[str, np.ndarray] = {}
        min24 = int(std.validity.get("min_hours_24h", 20))  # a 24-h mean needs 20 valid hours
        for key in std.realtime_report:
            scale = std.pollutants[key]
            if scale.variable not in ds:
                continue
            vals = ds[scale.variable].transpose("station", "time").values.astype(float)
            if scale.averaging == "24h" and std.realtime_pm_averaging == "24h_moving":
                vals = moving_mean(vals, 24, min24)
            conc = _in_units(vals, scale.variable, scale.units, registry, ref)
            subs[key], above[key] = sub_index(conc, scale, std)
            if scale.above_table == "use_24h" and above[key].any():
                s24 = std.pollutants[key.split("_")[0] + "_24h"]
                c24 = moving_mean(vals, 24, min24)
                c24 = _in_units(c24, s24.variable, s24.units, registry, ref)
                subs[key] = np.where(above[key], sub_index(c24, s24, std)[0], subs[key])
        if not subs:
            continue
        a, p, _ = aqi_from_subindices(subs)
        cols = in_force[None, :].repeat(shape[0], axis=0)
        aqi[cols], primary[cols] = a[cols], p[cols]
        category[cols] = category_of(a, std)[cols]
    dims = ("station", "time")
    return xr.Dataset(
        {
            "aqi": (dims, aqi),
            "category": (dims, category),
            "primary_pollutant": (dims, primary.astype(str)),
        },
        coords={"station": ds["station"].values, "time": times.values},
    )
