"""Summaries of an issued forecast: the D+1..D+3 outlook and the driver values of a lead window.

Pure functions on the arrays of a forecast file (``<target>_quantile``: station x lead_time x
quantile; ``<target>_drivers``: station x issue_time x lead_time x group); no file is read here.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import xarray as xr

__all__ = ["daily_outlook", "driver_window"]


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
