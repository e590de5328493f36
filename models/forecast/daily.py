"""Daily forecasts derived from hourly ones: daily means, MDA8 and daily AQI for D+1 .. D+3.

Day ``D+k`` is the ``k``-th local calendar day after the local date of the issue time. Its hours
are picked out of the lead axis; the daily statistics are those of the observed days
(:func:`features.assessment.day_statistic`: the GB 3095 / HJ 663 validity rules, including the
MDA8 ``mda8_limit_override``) and the daily AQI follows HJ 633 through
:func:`features.assessment.daily_aqi`, so every day is scored by the edition in force on it and a
perfect forecast has exactly the observed daily AQI.

Quantiles of daily values are taken *comonotone*: the daily statistic of the hourly ``q``-quantile
path, and the AQI of the pollutants' ``q``-quantiles. That is exact when forecast errors are
perfectly correlated across the hours of a day and across pollutants (they are strongly
correlated: one weather situation drives them all); the reliability of the resulting
``P(daily AQI > 200)`` is measured in the backtest rather than assumed.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from features.aqi import AqiStandard, category_of, select_standard
from features.assessment import DAILY_SUFFIX, daily_aqi, day_statistic
from features.times import naive_utc, to_local
from models.forecast.base import Forecast
from models.forecast.metrics import categorical_scores, reliability

__all__ = [
    "DailyForecast",
    "backtest_daily",
    "daily_forecast",
    "daily_lead_windows",
    "daily_observed",
    "daily_statistic",
    "rolling_day_columns",
    "score_daily",
]


def daily_lead_windows(
    issue_times: pd.DatetimeIndex,
    leads: np.ndarray,
    time_zone: str,
    time_label: str = "interval_end",
    days: tuple[int, ...] = (1, 2, 3),
) -> tuple[np.ndarray, np.ndarray]:
    """Lead columns that make up each local day ``D+k`` of each issue time.

    Parameters
    ----------
    issue_times : pandas.DatetimeIndex
        ``N`` issue times (UTC, naive).
    leads : numpy.ndarray
        The ``L`` leads [h] of the forecast arrays.
    time_zone : str
        Local zone defining days.
    time_label : str
        ``interval_end`` (the value labelled 01:00 is the mean of 00:00-01:00) or
        ``interval_start`` / ``instant``.
    days : tuple of int
        Day offsets ``k``.

    Returns
    -------
    columns : numpy.ndarray
        ``N x D x 24`` indices into the lead axis, ``-1`` where that hour is beyond the horizon.
    dates : numpy.ndarray
        ``N x D`` local dates (``datetime64[D]``).
    """
    leads = np.asarray(leads, int)
    N, D = len(issue_times), len(days)
    shift = pd.Timedelta(hours=1) if time_label == "interval_end" else pd.Timedelta(0)
    # the issue time is a wall-clock instant: "today" is its local date (no label shift)
    issue_day = to_local(issue_times, time_zone).normalize()
    cols = np.full((N, D, 24), -1, dtype=int)
    dates = np.empty((N, D), dtype="datetime64[D]")
    pos = {int(h): j for j, h in enumerate(leads)}
    for d, k in enumerate(days):
        day = issue_day + pd.Timedelta(days=k)
        dates[:, d] = day.values.astype("datetime64[D]")
        for hour in range(24):
            # the label of local hour ``hour`` of that day, in UTC, minus the issue time
            start = (day + pd.Timedelta(hours=hour)).tz_localize(
                time_zone, nonexistent="shift_forward", ambiguous=False
            )
            label = naive_utc(start) + shift
            lead = np.asarray((label - issue_times) / pd.Timedelta(hours=1)).round().astype(int)
            cols[:, d, hour] = [pos.get(int(h), -1) for h in lead]
    return cols, dates


def daily_statistic(
    hourly: np.ndarray, columns: np.ndarray, averaging: str, validity: dict[str, Any]
) -> np.ndarray:
    """Daily statistic of hourly forecasts per day window.

    The hours of every day are picked out of the lead axis and handed to
    :func:`features.assessment.day_statistic`, the implementation the observed days use.

    Parameters
    ----------
    hourly : numpy.ndarray
        ``... x N x L`` hourly values (e.g. ``S x N x L`` station forecasts) [any units].
    columns : numpy.ndarray
        ``N x D x 24`` lead columns of the days (``-1``: beyond the horizon), as from
        :func:`daily_lead_windows` or :func:`rolling_day_columns`.
    averaging : str
        ``24h``, ``8h`` or ``1h``.
    validity : dict
        The ``validity`` block of the standard.

    Returns
    -------
    numpy.ndarray
        ``... x N x D`` daily values [units of ``hourly``].
    """
    N = columns.shape[0]
    covered = columns >= 0
    grid = hourly[..., np.arange(N)[:, None, None], np.where(covered, columns, 0)]
    grid = np.where(covered, grid, np.nan)  # ... x N x D x 24
    # every window on its own (``... x N x D x 1 x 24``): the windows of an issue need not be
    # consecutive days (rolling windows), and the moving sums stay those of one day
    return day_statistic(grid[..., None, :], averaging, validity)[..., 0]


class DailyForecast:
    """Daily values for ``S`` stations, ``N`` issue times and ``D`` days ahead.

    Attributes
    ----------
    dates : numpy.ndarray
        ``N x D`` local dates.
    days : tuple of int
        Day offsets.
    point : dict
        Name (``pm25_24h``, ``o3_8h_max`` ..., ``aqi``) -> ``S x N x D`` from the mean forecast.
    quantiles : dict
        Name -> ``S x N x D x Q`` (comonotone; see module notes).
    levels : tuple of float
        Quantile levels.
    """

    def __init__(self, dates, days, point, quantiles, levels, primary=None):
        self.dates, self.days = dates, days
        self.point, self.quantiles, self.levels = point, quantiles, levels
        self.primary = primary  # S x N x D primary pollutant(s) of the point forecast

    def exceedance_probability(self, name: str, threshold: float) -> np.ndarray:
        """P(daily ``name`` > threshold) interpolated from its quantiles."""
        fc = Forecast(self.point[name], self.quantiles[name], self.levels)
        return fc.exceedance_probability(threshold)


def _aqi(
    stats: dict[str, np.ndarray],
    dates: np.ndarray,
    standards: list[AqiStandard],
    registry: dict[str, dict[str, Any]],
    reference: dict[str, float] | None,
    with_primary: bool = False,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Daily AQI ``S x N x D`` from daily statistics named like ``pm25_24h`` (and primary)."""
    first = next(iter(stats.values()))
    S, N, D = first.shape
    ds = xr.Dataset(
        {k: (("station", "date"), v.reshape(S, N * D)) for k, v in stats.items()},
        coords={"station": np.arange(S), "date": pd.DatetimeIndex(dates.ravel())},
    )
    out = daily_aqi(ds, standards, registry, reference)
    aqi = out["aqi"].values.reshape(S, N, D)
    if with_primary:
        return aqi, out["primary_pollutant"].values.reshape(S, N, D)
    return aqi


def daily_forecast(
    forecasts: dict[str, Forecast],
    issue_times: pd.DatetimeIndex,
    leads: np.ndarray,
    time_zone: str,
    time_label: str,
    standards: list[AqiStandard],
    registry: dict[str, dict[str, Any]],
    reference: dict[str, float] | None = None,
    days: tuple[int, ...] = (1, 2, 3),
    columns: np.ndarray | None = None,
    dates: np.ndarray | None = None,
) -> DailyForecast:
    """Daily statistics and daily AQI for D+1.. from hourly forecasts of several pollutants.

    Parameters
    ----------
    forecasts : dict
        Variable (``pm25``, ``o3`` ...) -> hourly :class:`~models.forecast.base.Forecast` of one model,
        all on the same stations, issue times and leads.
    standards : list of AqiStandard
        One AQI family (e.g. HJ 633-2012 and -2026), chosen per day.
    columns, dates : numpy.ndarray, optional
        Explicit ``N x D x 24`` lead columns and ``N x D`` dates of the days (e.g. the rolling
        24-h windows of :func:`rolling_day_columns`); default: local calendar days D+k.
    """
    if columns is None:
        cols, dates = daily_lead_windows(issue_times, leads, time_zone, time_label, days)
    else:
        cols = columns
    std = standards[0]
    levels = next(iter(forecasts.values())).levels
    point: dict[str, np.ndarray] = {}
    quants: dict[str, np.ndarray] = {}
    needed = {(s.variable, s.averaging) for key in std.daily_report for s in [std.pollutants[key]]}
    for var, averaging in sorted(needed):
        if var not in forecasts:
            continue
        name = f"{var}{DAILY_SUFFIX[averaging]}"
        fc = forecasts[var]
        point[name] = daily_statistic(fc.mean, cols, averaging, std.validity)
        quants[name] = np.stack(
            [
                daily_statistic(fc.quantiles[..., k], cols, averaging, std.validity)
                for k in range(len(levels))
            ],
            axis=-1,
        )
    point["aqi"], primary = _aqi(point, dates, standards, registry, reference, with_primary=True)
    quants["aqi"] = np.stack(
        [
            _aqi({n: q[..., k] for n, q in quants.items()}, dates, standards, registry, reference)
            for k in range(len(levels))
        ],
        axis=-1,
    )
    return DailyForecast(dates, days, point, quants, levels, primary)


def rolling_day_columns(
    issue_times: pd.DatetimeIndex, n_leads: int, time_zone: str
) -> tuple[np.ndarray, np.ndarray]:
    """Consecutive 24-h windows from the issue time (the rolling daily AQI of the warning rules).

    Returns ``N x D x 24`` lead columns (day ``d`` = leads ``24 d + 1 .. 24 (d + 1)``) and the
    ``N x D`` local dates of the windows' starts (which choose the AQI edition).
    """
    D = n_leads // 24
    N = len(issue_times)
    cols = np.broadcast_to(np.arange(D * 24).reshape(1, D, 24), (N, D, 24)).copy()
    starts = issue_times.values[:, None] + (24 * np.arange(D)).astype("timedelta64[h]")
    local = to_local(pd.DatetimeIndex(starts.ravel()), time_zone)
    dates = local.normalize().values.astype("datetime64[D]").reshape(N, D)
    return cols, dates


def daily_observed(
    observed: dict[str, np.ndarray],
    issue_times: pd.DatetimeIndex,
    leads: np.ndarray,
    time_zone: str,
    time_label: str,
    standards: list[AqiStandard],
    registry: dict[str, dict[str, Any]],
    reference: dict[str, float] | None = None,
    days: tuple[int, ...] = (1, 2, 3),
) -> dict[str, np.ndarray]:
    """Observed daily statistics and AQI on the same days (``observed``: variable -> S x N x L)."""
    fake = {v: Forecast(o, o[..., None], (0.5,)) for v, o in observed.items()}
    daily = daily_forecast(
        fake, issue_times, leads, time_zone, time_label, standards, registry, reference, days
    )
    return daily.point


def score_daily(
    forecast: DailyForecast,
    observed: dict[str, np.ndarray],
    standards: list[AqiStandard],
    heavy: float = 200.0,
) -> pd.DataFrame:
    """Per day-ahead verification of daily values and AQI.

    Columns: ``day`` (1..), RMSE of every daily statistic and of the AQI, AQI-category accuracy
    (exact level of HJ 633), heavy-day (AQI > ``heavy``) POD / FAR / CSI from the point forecast,
    and the Brier score of ``P(AQI > heavy)``, with the number of valid days.
    """
    rows = []
    for d, k in enumerate(forecast.days):
        row: dict[str, Any] = {"day": k}
        for name, pred in forecast.point.items():
            if name not in observed:
                continue
            e = pred[:, :, d] - observed[name][:, :, d]
            row[f"rmse_{name}"] = float(np.sqrt(np.nanmean(e**2)))
        pa, oa = forecast.point["aqi"][:, :, d], observed["aqi"][:, :, d]
        ok = np.isfinite(pa) & np.isfinite(oa)
        days = forecast.dates[:, d]
        cat_p = np.zeros(pa.shape, int)
        cat_o = np.zeros(oa.shape, int)
        for j, day in enumerate(days):
            std = select_standard(pd.Timestamp(day).date(), standards)
            cat_p[:, j] = category_of(pa[:, j], std)
            cat_o[:, j] = category_of(oa[:, j], std)
        row["aqi_category_accuracy"] = (
            float(np.mean(cat_p[ok] == cat_o[ok])) if ok.any() else np.nan
        )
        row["aqi_category_within_one"] = (
            float(np.mean(np.abs(cat_p[ok] - cat_o[ok]) <= 1)) if ok.any() else np.nan
        )
        cs = categorical_scores(pa[..., None], oa[..., None], heavy)
        row |= {f"heavy_{m}": float(v[0]) for m, v in cs.items()}
        prob = forecast.exceedance_probability("aqi", heavy)[:, :, d]
        event = np.where(np.isfinite(oa), oa > heavy, np.nan)
        row["heavy_brier"] = float(reliability(prob, event)["brier"])
        row["heavy_days_observed"] = int(np.nansum(event))
        row["n_days"] = int(ok.sum())
        rows.append(row)
    return pd.DataFrame(rows)


def backtest_daily(
    results: dict[str, Any],
    times: pd.DatetimeIndex,
    time_zone: str,
    time_label: str,
    standards: list[AqiStandard],
    registry: dict[str, dict[str, Any]],
    reference: dict[str, float] | None = None,
    days: tuple[int, ...] = (1, 2, 3),
    heavy: float = 200.0,
) -> pd.DataFrame:
    """Daily scores of every model backtested on all the given pollutants.

    Parameters
    ----------
    results : dict
        Target -> :class:`models.forecast.backtest.BacktestResult` (same issue times and leads).
    times : pandas.DatetimeIndex
        The panel's time axis (to recover the issue times).

    Returns
    -------
    pandas.DataFrame
        One row per model and day ahead (see :func:`score_daily`); empty when no model ran on
        every target. Like-for-like: every model is scored on the days that every model
        forecast (and that were observed), per daily statistic and for the AQI.
    """
    first = next(iter(results.values()))
    issue_times = times[first.issue_idx]
    models = [m for m in first.forecasts if all(m in r.forecasts for r in results.values())]
    observed_hourly = {v: r.observed for v, r in results.items()}
    obs = daily_observed(
        observed_hourly,
        issue_times,
        first.leads,
        time_zone,
        time_label,
        standards,
        registry,
        reference,
        days,
    )
    fcs = {
        m: daily_forecast(
            {v: r.forecasts[m] for v, r in results.items()},
            issue_times,
            first.leads,
            time_zone,
            time_label,
            standards,
            registry,
            reference,
            days,
        )
        for m in models
    }
    for name in list(obs):
        for fc in fcs.values():
            if name in fc.point:
                obs[name] = np.where(np.isfinite(fc.point[name]), obs[name], np.nan)
    tables = []
    for m, fc in fcs.items():
        t = score_daily(fc, obs, standards, heavy)
        t.insert(0, "model", m)
        tables.append(t)
    return pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()
