"""Summaries of an issued forecast: D+1..D+3 outlook, an area's daily AQI, driver shares.

Pure functions on the arrays of a forecast file (``<target>_quantile``: station x lead_time x
quantile; ``<target>_drivers``: station x issue_time x lead_time x group); no file is read here.
The configuration they need (AQI tables, variable registry) is passed in.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from features.warnings.outlook import (
    AreaOutlook,
    area_mean_forecast,
    episode_driver_values,
    window_starts,
)
from features.warnings.rules import Decision
from models.forecast.base import Forecast
from models.forecast.daily import daily_forecast, rolling_day_columns
from models.forecast.drivers import summarise_drivers

__all__ = ["area_daily_outlook", "daily_outlook", "driver_window", "episode_drivers"]


def area_daily_outlook(
    ds: xr.Dataset,
    idx: np.ndarray,
    *,
    area_id: str,
    time_zone: str,
    standards: list,
    registry: dict[str, Any],
) -> AreaOutlook:
    """Daily-AQI quantiles of an area over consecutive 24-h windows from the issue time.

    The area-mean forecasts of its stations (:func:`features.warnings.outlook.area_mean_forecast`)
    go through :func:`models.forecast.daily.daily_forecast`, the same daily statistics and AQI
    tables as observed days.

    Parameters
    ----------
    ds : xarray.Dataset
        Forecast dataset (one issue time).
    idx : numpy.ndarray
        Positions of the area's stations along ``station`` (at least one).
    area_id : str
        Area identifier.
    time_zone : str
        The network's time zone (local days of the standards).
    standards : list of AqiStandard
        The AQI family's editions (chosen by date).
    registry : dict
        The variable registry (``variables`` and ``reference_conditions``).

    Returns
    -------
    AreaOutlook
        Daily AQI quantiles, median path and primary pollutants per window.
    """
    issue = pd.DatetimeIndex(ds["issue_time"].values[:1])
    leads = ds["lead_time"].values.astype(int)
    levels = tuple(float(q) for q in ds["quantile"].values)
    forecasts = {v: Forecast(m, q, levels) for v, (m, q) in area_mean_forecast(ds, idx).items()}
    cols, dates = rolling_day_columns(issue, len(leads), time_zone)
    daily = daily_forecast(
        forecasts,
        issue,
        leads,
        time_zone,
        "interval_end",
        standards,
        registry["variables"],
        registry["reference_conditions"],
        days=tuple(range(1, cols.shape[1] + 1)),
        columns=cols,
        dates=dates,
    )
    return AreaOutlook(
        area=area_id,
        starts=window_starts(issue[0], cols.shape[1]),
        quantiles=daily.quantiles["aqi"][0, 0],
        levels=levels,
        median=daily.point["aqi"][0, 0],
        primary=[str(p) for p in daily.primary[0, 0]],
        pollutants=sorted(forecasts),
    )


def episode_drivers(
    ds: xr.Dataset, idx: np.ndarray, decision: Decision, issue: pd.Timestamp
) -> dict[str, Any] | None:
    """Driver shares of the primary pollutant's forecast over the episode (or the first 72 h).

    Averaged over the area's stations and the hours of the episode from the forecast's
    ``<pollutant>_drivers`` (:func:`features.warnings.outlook.episode_driver_values`), grouped by
    :func:`models.forecast.drivers.summarise_drivers`.

    Returns
    -------
    dict or None
        ``pollutant``, ``period``, ``model_uri`` and the driver ``groups``; None when the model
        gave no attribution.
    """
    found = episode_driver_values(ds, idx, decision, issue)
    if found is None:
        return None
    var, period, vals = found
    return {
        "pollutant": var.removesuffix("_drivers"),
        "period": period,
        "model_uri": ds[var].attrs.get("model_uri", ""),
        "groups": summarise_drivers(vals),
    }


def daily_outlook(
    quantiles: xr.DataArray, days: int = 3, *, hours_per_day: int = 24
) -> dict[str, dict[str, float]]:
    """Median and upper quantile per forecast day, D+1..D+``days``.

    Day ``d`` covers the lead steps ``hours_per_day * (d - 1)`` up to (excluding)
    ``hours_per_day * d`` of the issue's lead axis.

    Parameters
    ----------
    quantiles : xarray.DataArray
        One issue's quantile forecast with dimensions ``station``, ``lead_time`` and
        ``quantile`` (holding 0.5 and 0.9) [units of the target].
    days : int
        Number of forecast days.
    hours_per_day : int
        Lead steps per day [h].

    Returns
    -------
    dict
        ``{"D+1": {"p50_mean": ..., "p90_station_max": ...}, ...}``: the mean P50 over stations
        and the day's leads, and the largest station mean of the P90 over the day's leads, both
        rounded to 0.1 [units of the target].
    """
    out = {}
    for d in range(days):
        sl = quantiles.isel(lead_time=slice(hours_per_day * d, hours_per_day * (d + 1)))
        out[f"D+{d + 1}"] = {
            "p50_mean": round(float(sl.sel(quantile=0.5).mean()), 1),
            "p90_station_max": round(float(sl.sel(quantile=0.9).mean("lead_time").max()), 1),
        }
    return out


def driver_window(
    drivers: np.ndarray,
    station_ids: Sequence[object],
    leads: np.ndarray,
    stations: Sequence[str] = (),
    *,
    first: int,
    last: int,
) -> tuple[np.ndarray, int]:
    """Driver contributions of the first issue for some stations and a window of lead hours.

    Parameters
    ----------
    drivers : numpy.ndarray
        ``station x issue_time x lead_time x group`` contributions [units of the target].
    station_ids : sequence
        Station ids along the first axis.
    leads : numpy.ndarray
        Lead times along the third axis [h].
    stations : sequence of str
        Stations to keep (unknown ids are skipped); empty keeps every station.
    first, last : int
        First and last lead hour of the window, inclusive [h].

    Returns
    -------
    values : numpy.ndarray
        ``selected stations x leads in window x group``.
    n_stations : int
        Number of stations selected.
    """
    ids = [str(s) for s in station_ids]
    sel = [ids.index(s) for s in stations if s in ids] if stations else list(range(len(ids)))
    leads = np.asarray(leads)
    values = np.asarray(drivers)[sel, 0][:, (leads >= first) & (leads <= last)]
    return values, len(sel)
