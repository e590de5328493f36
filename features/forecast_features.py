"""Leak-free model features for station forecasts (pure functions on ``station x time`` arrays).

Every feature of an issue time ``t`` is computed from values at times ``<= t`` only, and every
per-station operation runs along one station's row, so no window crosses a station boundary or the
issue time (``tests/features/test_forecast_features.py`` perturbs the future and other stations to
prove it). Calendar features describe the *target* time ``t + lead``, which is known at issue time.
Observed future weather is never used here; forecast weather (an NWP feed attached to the panel)
enters only through :func:`weather_forecast_rows`, from runs visible at the issue time.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import bottleneck as bn
import numpy as np
import pandas as pd
import xarray as xr

from features.nwp_features import NWPRuns, derive, valid_time_features
from features.times import to_local
from features.wind import decumulate_wind_speed, wind_components

__all__ = [
    "FeatureSpec",
    "MissingWeatherForecast",
    "Panel",
    "issue_features",
    "lead_rows",
    "panel_from_dataset",
    "targets",
    "weather_forecast_rows",
    "with_weather_forecast",
]


@dataclass
class Panel:
    """Hourly values of a network on a regular grid.

    Attributes
    ----------
    stations : list of str
        Station ids (rows).
    times : pandas.DatetimeIndex
        Regular hourly UTC time labels (columns).
    values : dict of numpy.ndarray
        Variable -> ``S x T`` float64, NaN where missing or not valid.
    lat, lon : numpy.ndarray
        Station coordinates [degrees].
    time_zone : str
        Local zone (for calendar features).
    nwp : features.nwp_features.NWPRuns, optional
        The weather-forecast feed the models may use (:func:`with_weather_forecast`); features
        are taken from the newest run visible at each issue time, at the lead's valid time.
    """

    stations: list[str]
    times: pd.DatetimeIndex
    values: dict[str, np.ndarray]
    lat: np.ndarray
    lon: np.ndarray
    time_zone: str = "UTC"
    nwp: NWPRuns | None = None

    def index_of(self, times: pd.DatetimeIndex) -> np.ndarray:
        """Column indices of ``times`` (raises KeyError when a time is not on the grid)."""
        idx = self.times.get_indexer(times)
        if (idx < 0).any():
            raise KeyError(f"times not in the panel: {list(times[idx < 0][:3])}")
        return idx


def panel_from_dataset(ds: xr.Dataset, time_zone: str) -> Panel:
    """Build a :class:`Panel` from a valid-masked ``(station, time)`` dataset.

    Wind speed and direction become ``wind_u`` / ``wind_v`` components when both are present; a
    network publishing the cumulated wind speed instead (``wind_speed_cumulated``, e.g. ``Iws``)
    gets its hourly speed back by :func:`features.wind.decumulate_wind_speed`.
    """
    values = {v: ds[v].transpose("station", "time").values.astype("float64") for v in ds.data_vars}
    if "wind_speed" not in values and "wind_speed_cumulated" in values:
        values["wind_speed"] = decumulate_wind_speed(
            values["wind_speed_cumulated"], values.get("wind_from_direction")
        )
    if "wind_speed" in values and "wind_from_direction" in values:
        values["wind_u"], values["wind_v"] = wind_components(
            values["wind_speed"], values["wind_from_direction"]
        )
    lat = (
        ds["lat"].values
        if "lat" in ds.coords or "lat" in ds
        else np.full(ds.sizes["station"], np.nan)
    )
    lon = (
        ds["lon"].values
        if "lon" in ds.coords or "lon" in ds
        else np.full(ds.sizes["station"], np.nan)
    )
    return Panel(
        stations=[str(s) for s in ds["station"].values],
        times=pd.DatetimeIndex(ds["time"].values),
        values=values,
        lat=np.asarray(lat, float),
        lon=np.asarray(lon, float),
        time_zone=time_zone,
    )


@dataclass
class FeatureSpec:
    """Which features to build (from ``configs/models/*.yml: features``)."""

    target: str
    lags: list[int] = field(default_factory=lambda: [0, 1, 2, 3, 6, 12, 24, 48])
    rolling_means: list[int] = field(default_factory=lambda: [6, 24, 72])
    rolling_max: list[int] = field(default_factory=lambda: [24])
    covariates: list[str] = field(default_factory=list)
    covariate_lags: list[int] = field(default_factory=lambda: [0])
    covariate_means: list[int] = field(default_factory=lambda: [24])
    tendencies: list[str] = field(default_factory=list)  # 24-h change of these covariates
    sums_24h: list[str] = field(default_factory=list)  # 24-h sums (precipitation)
    neighbours: bool = True

    @classmethod
    def from_config(cls, target: str, cfg: dict[str, Any]) -> FeatureSpec:
        """Build from the ``features`` mapping of a model config."""
        return cls(
            target=target, **{k: v for k, v in (cfg or {}).items() if k in cls.__dataclass_fields__}
        )


def _lag(x: np.ndarray, k: int) -> np.ndarray:
    if k == 0:
        return x
    out = np.full(x.shape, np.nan)
    out[:, k:] = x[:, :-k]
    return out


def _trailing(fn, x: np.ndarray, window: int, min_frac: float = 0.5) -> np.ndarray:
    window = min(window, x.shape[1])
    return fn(x, window, min_count=max(1, int(window * min_frac)), axis=1)


def issue_features(
    panel: Panel, spec: FeatureSpec, issue_idx: np.ndarray
) -> tuple[np.ndarray, list[str]]:
    """Features known at each issue time, per station.

    Parameters
    ----------
    panel : Panel
        The data.
    spec : FeatureSpec
        What to compute.
    issue_idx : numpy.ndarray
        Column indices of the issue times in ``panel.times``.

    Returns
    -------
    features : numpy.ndarray
        ``S x N x F`` array.
    names : list of str
        The ``F`` feature names.
    """
    cols: list[np.ndarray] = []
    names: list[str] = []
    y = panel.values[spec.target]

    def add(name: str, arr: np.ndarray) -> None:
        names.append(name)
        cols.append(arr[:, issue_idx])

    for k in spec.lags:
        add(f"{spec.target}_lag{k}", _lag(y, k))
    for w in spec.rolling_means:
        add(f"{spec.target}_mean{w}", _trailing(bn.move_mean, y, w))
    for w in spec.rolling_max:
        add(f"{spec.target}_max{w}", _trailing(bn.move_max, y, w))
    for v in spec.covariates:
        if v not in panel.values or v == spec.target:
            continue
        x = panel.values[v]
        for k in spec.covariate_lags:
            add(f"{v}_lag{k}", _lag(x, k))
        for w in spec.covariate_means:
            add(f"{v}_mean{w}", _trailing(bn.move_mean, x, w))
    for v in spec.tendencies:
        if v in panel.values:
            add(f"{v}_tend24", panel.values[v] - _lag(panel.values[v], 24))
    for v in spec.sums_24h:
        if v in panel.values:
            add(f"{v}_sum24", _trailing(bn.move_sum, panel.values[v], 24, 0.5))
    if spec.neighbours and len(panel.stations) > 1:
        # mean of the OTHER stations at the issue time and over the last 24 h (regional level)
        tot = np.nansum(y, axis=0, keepdims=True)
        cnt = np.sum(~np.isnan(y), axis=0, keepdims=True)
        own = np.nan_to_num(y)
        with np.errstate(invalid="ignore", divide="ignore"):
            others = (tot - own) / (cnt - (~np.isnan(y)))
        add(f"{spec.target}_others_lag0", others)
        add(f"{spec.target}_others_mean24", _trailing(bn.move_mean, others, 24))
        add(f"{spec.target}_minus_others", y - others)
    return np.stack(cols, axis=-1), names


def lead_rows(
    features: np.ndarray,
    names: list[str],
    panel: Panel,
    issue_idx: np.ndarray,
    leads: np.ndarray,
    climatology: np.ndarray | None = None,
) -> tuple[np.ndarray, list[str]]:
    """Expand issue features with lead-dependent columns (lead, target-time calendar, climatology).

    Parameters
    ----------
    features : numpy.ndarray
        ``S x N x F`` from :func:`issue_features`.
    leads : numpy.ndarray
        Either ``L`` leads [h] used for every row, or an ``S x N x L`` array of leads per row.
    climatology : numpy.ndarray, optional
        ``S x 24 x 12`` expected value by station, local hour and month (from training data).

    Returns
    -------
    rows : numpy.ndarray
        ``S x N x L x (F + extra)``.
    names : list of str
        Column names.
    """
    S, N, F = features.shape
    lead_arr = np.broadcast_to(np.asarray(leads), (S, N, np.shape(leads)[-1])).astype(int)
    L = lead_arr.shape[-1]
    issue_times = panel.times[issue_idx]
    target = issue_times.values[None, :, None] + lead_arr.astype("timedelta64[h]")
    local = to_local(pd.DatetimeIndex(target.ravel()), panel.time_zone)
    hour = local.hour.to_numpy().reshape(S, N, L)
    dow = local.dayofweek.to_numpy().reshape(S, N, L)
    month = local.month.to_numpy().reshape(S, N, L)
    extra = [
        lead_arr.astype(float),
        np.sin(2 * np.pi * hour / 24),
        np.cos(2 * np.pi * hour / 24),
        dow.astype(float),
        np.broadcast_to(np.arange(S)[:, None, None], (S, N, L)).astype(float),
    ]
    # No day-of-year: with a few years of data it lets trees memorise past episodes; the seasonal
    # cycle enters through the climatology of the target time instead.
    extra_names = ["lead", "hour_sin", "hour_cos", "dow", "station_index"]
    if climatology is not None:
        s_idx = np.broadcast_to(np.arange(S)[:, None, None], (S, N, L))
        extra.append(climatology[s_idx, hour, month - 1])
        extra_names.append("climatology")
    rows = np.concatenate(
        [np.broadcast_to(features[:, :, None, :], (S, N, L, F)), np.stack(extra, axis=-1)], axis=-1
    )
    return rows, names + extra_names


def targets(panel: Panel, target: str, issue_idx: np.ndarray, leads: np.ndarray) -> np.ndarray:
    """Observed target at ``issue + lead``: ``S x N x L`` (leads as in :func:`lead_rows`)."""
    y = panel.values[target]
    S = y.shape[0]
    lead_arr = np.broadcast_to(np.asarray(leads), (S, len(issue_idx), np.shape(leads)[-1])).astype(
        int
    )
    t = issue_idx[None, :, None] + lead_arr
    ok = t < y.shape[1]
    out = np.full(lead_arr.shape, np.nan)
    s_idx = np.broadcast_to(np.arange(S)[:, None, None], lead_arr.shape)
    out[ok] = y[s_idx[ok], t[ok]]
    return out


class MissingWeatherForecast(LookupError):
    """A model trained with a weather-forecast feed was asked to forecast without it."""


def with_weather_forecast(panel: Panel, runs: NWPRuns | None) -> Panel:
    """Return the panel with a feed attached (stations aligned, derived stagnation variables added)."""
    if runs is None:
        return replace(panel, nwp=None)
    return replace(panel, nwp=derive(runs.reindex_stations(panel.stations)))


def weather_forecast_rows(
    panel: Panel,
    issue_idx: np.ndarray,
    leads: np.ndarray,
    *,
    feed: str,
    variables: list[str],
    training: bool = False,
) -> tuple[np.ndarray, list[str], np.ndarray]:
    """Weather-forecast features of a model trained with ``feed``, at each lead's valid time.

    Parameters
    ----------
    panel : Panel
        With ``nwp`` attached (:func:`with_weather_forecast`).
    issue_idx : numpy.ndarray
        Issue-time columns.
    leads : numpy.ndarray
        As in :func:`lead_rows`.
    feed : str
        The feed the model was trained with.
    variables : list of str
        The cube variables the model was trained with (same order every time).
    training : bool
        Training rows: issue times without a visible run get NaN features instead of an error
        (e.g. before the feed's first run); the feed itself must still be the model's.

    Returns
    -------
    rows : numpy.ndarray
        ``S x N x L x F`` (:func:`features.nwp_features.valid_time_features`).
    names : list of str
        Feature names.
    run_index : numpy.ndarray
        Run used per issue time.

    Raises
    ------
    MissingWeatherForecast
        If the panel has no feed, another feed, a feed lacking a trained variable, or no run
        visible at an issue time (named with the issue time).
    """
    nwp = panel.nwp
    issue_times = panel.times[issue_idx]
    if nwp is None or nwp.feed != feed:
        have = "no weather-forecast feed" if nwp is None else f"feed {nwp.feed!r}"
        raise MissingWeatherForecast(
            f"the model was trained with weather-forecast feed {feed!r} but the forecast at "
            f"{issue_times[0]:%Y-%m-%dT%H:%MZ} has {have}"
        )
    lacking = [v for v in variables if v not in nwp.values]
    if lacking:
        raise MissingWeatherForecast(
            f"feed {feed!r} lacks {lacking}, which the model was trained with"
        )
    sub = replace(nwp, values={v: nwp.values[v] for v in variables})
    rows, names, run_idx = valid_time_features(sub, issue_times, leads)
    if (run_idx < 0).any() and not training:
        t = issue_times[np.flatnonzero(run_idx < 0)[0]]
        raise MissingWeatherForecast(
            f"no run of weather-forecast feed {feed!r} is visible at the issue time "
            f"{t:%Y-%m-%dT%H:%MZ} (latency {nwp.latency_hours:g} h)"
        )
    return rows, names, run_idx
