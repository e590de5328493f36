"""What a forecast file says about one warning area: its stations, area means and drivers.

Pure functions on a forecast dataset (``<pollutant>_mean``: station x issue_time x lead_time;
``<pollutant>_quantile``: ... x quantile; optional ``<pollutant>_drivers``: ... x driver).

An area's daily AQI comes from area-mean concentrations: every pollutant's mean and quantile
forecasts are averaged over the area's stations (:func:`area_mean_forecast`), then cut into
consecutive 24-h windows from the issue time and turned into daily-AQI quantiles by
:func:`models.forecast.daily.daily_forecast` (the rolling daily AQI of the warning rules); the
drivers of the episode (:func:`episode_driver_values`) are grouped by
:func:`models.forecast.drivers.summarise_drivers`. ``features`` imports no ``models``: the
composition is :func:`models.forecast.outlook.area_daily_outlook` and
:func:`models.forecast.outlook.episode_drivers`.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
import xarray as xr

from features.warnings.rules import Decision

__all__ = [
    "AreaOutlook",
    "area_mean_forecast",
    "area_station_ids",
    "episode_driver_values",
    "station_index",
    "window_starts",
]


@dataclass
class AreaOutlook:
    """Daily AQI outlook of one area: rolling 24-h windows from the issue time."""

    area: str
    starts: list[pd.Timestamp]  # UTC window starts
    quantiles: np.ndarray  # D x Q daily AQI
    levels: tuple[float, ...]
    median: np.ndarray  # D daily AQI of the median path
    primary: list[str]  # D primary pollutants of the median path
    pollutants: list[str]


def area_station_ids(area: Any, net: Any) -> list[str]:
    """Station ids of an area (``all`` = every station of the network).

    Parameters
    ----------
    area : AreaSpec
        The area (``stations``: a list of ids or ``"all"``).
    net : NetworkSpec
        The network (``stations``: objects with an ``id``).
    """
    return [s.id for s in net.stations] if area.stations == "all" else list(area.stations)


def station_index(stations: Sequence[object], wanted: Sequence[str] | Literal["all"]) -> np.ndarray:
    """Positions of the wanted station ids along a file's station axis (unknown ids skipped).

    Parameters
    ----------
    stations : sequence
        Station ids along the axis.
    wanted : sequence of str or ``"all"``
        Ids to find, in their order; ``"all"`` gives every position.

    Returns
    -------
    numpy.ndarray
        Integer positions.
    """
    ids = [str(s) for s in stations]
    if isinstance(wanted, str) and wanted == "all":
        return np.arange(len(ids))
    return np.array([ids.index(s) for s in wanted if s in ids], int)


def area_mean_forecast(ds: xr.Dataset, idx: np.ndarray) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Area mean of every pollutant's mean and quantile forecasts over some stations.

    Quantiles are averaged level by level (comonotonically, as in :mod:`models.forecast.daily`);
    stations without a value are ignored.

    Parameters
    ----------
    ds : xarray.Dataset
        Forecast dataset with ``<pollutant>_mean`` (station x issue_time x lead_time) and
        ``<pollutant>_quantile`` (... x quantile) [units of the pollutant].
    idx : numpy.ndarray
        Positions of the area's stations along ``station``.

    Returns
    -------
    dict
        Pollutant -> ``(mean, quantiles)`` with a station axis of length 1 [units of the pollutant].
    """
    out = {}
    for var in ds.data_vars:
        if not var.endswith("_mean"):
            continue
        v = var[: -len("_mean")]
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # stations without a value
            mean = np.nanmean(ds[f"{v}_mean"].values[idx], axis=0, keepdims=True)
            q = np.nanmean(ds[f"{v}_quantile"].values[idx], axis=0, keepdims=True)
        out[v] = (mean, q)
    return out


def window_starts(issue: pd.Timestamp, days: int) -> list[pd.Timestamp]:
    """Start of each consecutive 24-h window from the issue time (the rolling days) [UTC]."""
    return [issue + pd.Timedelta(hours=24 * d) for d in range(days)]


def episode_driver_values(
    ds: xr.Dataset,
    idx: np.ndarray,
    decision: Decision,
    issue: pd.Timestamp,
    *,
    default_hours: float = 72,
) -> tuple[str, str, np.ndarray] | None:
    """Driver contributions of the primary pollutant over the episode (or the first hours).

    Parameters
    ----------
    ds : xarray.Dataset
        Forecast dataset with ``<pollutant>_drivers`` (station x issue_time x lead_time x driver).
    idx : numpy.ndarray
        Positions of the area's stations along ``station``.
    decision : Decision
        The area's decision (episode window, primary pollutant).
    issue : pandas.Timestamp
        Issue time (UTC).
    default_hours : float
        Lead window without an episode [h].

    Returns
    -------
    tuple or None
        ``(variable, period, values)``: the drivers variable read, ``"episode"`` or
        ``"first <h> h"``, and the ``stations x hours x driver`` contributions [units of the
        pollutant]; None when the file has no attribution or no station of the area.
    """
    pollutant = decision.primary_pollutant or "pm25"
    var = f"{pollutant}_drivers" if f"{pollutant}_drivers" in ds else "pm25_drivers"
    if var not in ds or not len(idx):
        return None
    leads = ds["lead_time"].values.astype(int)
    if decision.start is not None and decision.end is not None:
        h0 = (decision.start - issue) / pd.Timedelta(hours=1)
        h1 = (decision.end - issue) / pd.Timedelta(hours=1)
        window = (leads > h0) & (leads <= h1)
        period = "episode"
    else:
        window = leads <= default_hours
        period = f"first {default_hours:g} h"
    return str(var), period, ds[var].values[idx, 0][:, window]
