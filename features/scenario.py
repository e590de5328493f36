"""Control-measure scenarios: PM2.5 if one source class is cut by a fraction from a given time.

Pure functions (no I/O). The method, for a receptor whose PM2.5 forecast is given as quantiles:

1. The *share* of the class in PM2.5 is read from a PMF solution: the class's factors'
   contributions to the total variable (``G[:, k] F[k, total]``, in the units of the total
   variable) over all factors, as a ratio of sums over the matching samples (the same local hour
   of day, or the whole recent period) (:func:`class_share`).
2. The share's uncertainty is a multiplicative spread whose 5 % and 95 % points come from the
   factor's bootstrap / DISP intervals (:func:`share_multipliers`).
3. The effective cut at every hour is ``cut`` from ``start + lag`` on, optionally ramped in
   linearly over ``ramp`` hours (mass emitted before the cut is still being transported)
   (:func:`effective_cut`).
4. Monte Carlo (:func:`scenario_draws`): every draw takes one probability level of the forecast
   (the same at every hour and station: the forecast's quantiles are comonotone, as the daily AQI
   of :mod:`models.forecast.daily` assumes), one share multiplier ``m`` and one path of hourly
   share deviations ``r(t)`` (a run of the PMF record's hour-to-hour deviations of the class share
   from the method's share, :func:`share_deviations`, :func:`deviation_paths`: one hour's mix
   departs from the typical one, and such departures persist for hours); the cut series is
   ``y (1 - c(t) s(t) m r(t))``. Quantiles of the draws at the forecast's levels give the cut forecast,
   so that it goes through the same daily-AQI and warning-level code as the forecast itself.

Every output carries :data:`ASSUMPTIONS`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.times import to_local

__all__ = [
    "ASSUMPTIONS",
    "ASSUMPTIONS_ZH",
    "ScenarioDraws",
    "class_share",
    "combine_intervals",
    "deviation_paths",
    "effective_cut",
    "equation_uncertainty",
    "quantile_function",
    "scenario_draws",
    "share_deviations",
    "share_multipliers",
    "share_variability",
]

#: The assumptions stated on every scenario output (English).
ASSUMPTIONS: tuple[str, ...] = (
    "linear response: PM2.5 from the class (primary and quickly formed secondary mass) falls in "
    "proportion to its emissions",
    "no chemistry feedback (oxidant, nitrate / sulfate partitioning or NH3 limitation are not "
    "modelled), no change in meteorology or in other classes",
    "the cut acts from the given time (after the stated lag, ramped in over the stated hours)",
    "the PMF shares at the receptor are taken as those of the city (city-scale)",
    "regional transport from outside the city is cut only in so far as it belongs to the class",
)

#: The same assumptions in Chinese.
ASSUMPTIONS_ZH: tuple[str, ...] = (
    "线性响应:该类源贡献的 PM2.5(一次颗粒物及快速生成的二次组分)与其排放同比例下降",
    "不考虑化学反馈(氧化剂、硝酸盐/硫酸盐分配、氨限制等),气象和其他源类不变",
    "减排自给定时间起生效(按所述滞后,并在所述小时内逐步生效)",
    "以受体点的 PMF 源贡献比例代表全市",
    "城市以外的区域传输仅按其属于该类源的部分削减",
)


def class_share(
    contributions: pd.DataFrame,
    factors: Sequence[str],
    times: pd.DatetimeIndex,
    *,
    method: str = "hour_of_day",
    time_zone: str = "UTC",
    window_days: float | None = None,
    level: np.ndarray | None = None,
    neighbours: float = 0.15,
    sample_wind: np.ndarray | None = None,
    wind: np.ndarray | None = None,
    sectors: int = 8,
) -> np.ndarray:
    """Share of a source class in the total variable at given hours [fraction].

    Parameters
    ----------
    contributions : pandas.DataFrame
        Factor contributions to the total variable (samples x factors) [units of the total
        variable, e.g. µg m-3]; the index holds the sample times (naive UTC).
    factors : sequence of str
        The columns of the class (one or more factors).
    times : pandas.DatetimeIndex
        The hours at which the share is wanted (naive UTC).
    method : {"hour_of_day", "recent", "by_level", "by_wind"}, optional
        ``hour_of_day``: ratio of sums over the samples of the same local hour of day;
        ``recent``: one ratio of sums over all samples; ``by_level``: ratio of sums over the
        samples whose total is nearest (in log) to the forecast ``level`` of the hour (the mix of
        days as polluted as the forecast one); ``by_wind``: ratio of sums over the samples whose
        wind came from the same sector as the forecast wind of the hour.
    time_zone : str, optional
        Zone of the local hour of day.
    window_days : float, optional
        Only the samples within this many days before the last sample [d]; default all.
    level : numpy.ndarray, optional
        ``len(times)`` forecast values of the total (e.g. the median) [units of the total];
        required by ``by_level``.
    neighbours : float, optional
        ``by_level``: share of the samples taken as the nearest [fraction].
    sample_wind, wind : numpy.ndarray, optional
        ``by_wind``: direction the wind comes from at every sample and at every wanted hour
        [degree from north].
    sectors : int, optional
        ``by_wind``: number of direction sectors.

    Returns
    -------
    numpy.ndarray
        ``len(times)`` shares in [0, 1].

    Raises
    ------
    ValueError
        If a factor is not a column, or no sample has a positive total.
    """
    missing = [f for f in factors if f not in contributions.columns]
    if missing:
        raise ValueError(
            f"factors {missing} not in the PMF contributions (have {list(contributions.columns)})"
        )
    c = contributions.clip(lower=0.0)
    idx = pd.DatetimeIndex(c.index)
    keep = np.ones(len(idx), bool)
    if window_days is not None:
        keep = np.asarray(idx > idx.max() - pd.Timedelta(days=float(window_days)))
        c, idx = c[keep], idx[keep]
    part = c[list(factors)].sum(axis=1).to_numpy(float)
    total = c.sum(axis=1).to_numpy(float)
    if not np.nansum(total) > 0:
        raise ValueError("the PMF contributions have no positive total")
    overall = np.nansum(part) / np.nansum(total)
    if method == "recent":
        return np.full(len(times), overall)
    if method == "by_level":
        if level is None or len(level) != len(times):
            raise ValueError("by_level needs the forecast level of every hour")
        ok = total > 0
        log_total = np.log(total[ok])
        p_ok, t_ok = part[ok], total[ok]
        k = max(1, int(round(neighbours * ok.sum())))
        out = np.full(len(times), overall)
        for i, y in enumerate(np.asarray(level, float)):
            if np.isfinite(y) and y > 0:
                near = np.argpartition(np.abs(log_total - np.log(y)), k - 1)[:k]
                out[i] = p_ok[near].sum() / t_ok[near].sum()
        return out
    if method == "by_wind":
        if sample_wind is None or wind is None or len(wind) != len(times):
            raise ValueError("by_wind needs the wind of every sample and of every hour")
        width = 360.0 / sectors

        def sector(d: np.ndarray) -> np.ndarray:
            return np.floor(((np.asarray(d, float) + width / 2) % 360.0) / width)

        s_sample = sector(np.asarray(sample_wind, float)[keep])
        out = np.full(len(times), overall)
        for i, sec in enumerate(sector(wind)):
            sel = s_sample == sec
            if np.isfinite(sec) and sel.sum() >= 24 and np.nansum(total[sel]) > 0:
                out[i] = np.nansum(part[sel]) / np.nansum(total[sel])
        return out
    if method != "hour_of_day":
        raise ValueError(
            f"unknown share method {method!r} (hour_of_day, recent, by_level or by_wind)"
        )
    hours = to_local(idx, time_zone).hour.to_numpy()
    by_hour = np.full(24, overall)
    for h in range(24):
        sel = hours == h
        if sel.any() and np.nansum(total[sel]) > 0:
            by_hour[h] = np.nansum(part[sel]) / np.nansum(total[sel])
    return by_hour[to_local(pd.DatetimeIndex(times), time_zone).hour.to_numpy()]


def share_variability(
    contributions: pd.DataFrame,
    factors: Sequence[str],
    *,
    time_zone: str = "UTC",
    window_days: float | None = None,
) -> tuple[float, float]:
    """Day-to-day spread of a class's share: 5 % and 95 % of daily shares over the overall one.

    A scenario concerns particular days whose source mix depends on their weather; the spread
    of the daily shares in the PMF record says how far one day's share may be from the mean.

    Parameters
    ----------
    contributions : pandas.DataFrame
        Factor contributions to the total variable (sample time x factor) [units of the total].
    factors : sequence of str
        The class's columns.
    time_zone : str, optional
        Zone of the local days.
    window_days : float, optional
        Only the samples of the last ... days [d].

    Returns
    -------
    tuple of float
        ``(low, high)`` relative to the overall share [1], ``low <= 1 <= high``.
    """
    c = contributions.clip(lower=0.0)
    idx = pd.DatetimeIndex(c.index)
    if window_days is not None:
        keep = idx > idx.max() - pd.Timedelta(days=float(window_days))
        c, idx = c[keep], idx[keep]
    day = to_local(idx, time_zone).normalize()
    part = c[list(factors)].sum(axis=1).groupby(day).sum()
    total = c.sum(axis=1).groupby(day).sum()
    ok = total > 0
    if ok.sum() < 3:
        return (1.0, 1.0)
    overall = part[ok].sum() / total[ok].sum()
    if not overall > 0:
        return (1.0, 1.0)
    rel = (part[ok] / total[ok]).to_numpy(float) / overall
    lo, hi = np.percentile(rel, [5, 95])
    return (float(np.clip(lo, 1e-3, 1.0)), float(max(hi, 1.0)))


def share_deviations(
    contributions: pd.DataFrame,
    factors: Sequence[str],
    *,
    method: str = "hour_of_day",
    time_zone: str = "UTC",
    window_days: float | None = None,
    sample_wind: np.ndarray | None = None,
    sectors: int = 8,
) -> pd.Series:
    """Deviations of a class's share at each PMF sample from the method's share there [1].

    ``r_i = s_i / S_i``: the sample's own share ``part_i / total_i`` over the share
    :func:`class_share` gives for that sample (its hour of day, its wind sector, its level or the
    overall one). Their spread and persistence are what a scenario's particular hours may depart
    from the typical mix (:func:`deviation_paths`).

    Parameters
    ----------
    contributions : pandas.DataFrame
        Factor contributions to the total variable (sample time x factor) [units of the total].
    factors : sequence of str
        The class's columns.
    method, time_zone, window_days, sectors
        As for :func:`class_share` (``by_level`` uses each sample's own total).
    sample_wind : numpy.ndarray, optional
        ``by_wind``: wind direction at every sample [degree from north].

    Returns
    -------
    pandas.Series
        Deviations indexed by sample time (the samples kept by ``window_days``), NaN where the
        sample has no positive total or the method's share is 0.
    """
    c = contributions.clip(lower=0.0)
    idx = pd.DatetimeIndex(c.index)
    keep = np.ones(len(idx), bool)
    if window_days is not None:
        keep = np.asarray(idx > idx.max() - pd.Timedelta(days=float(window_days)))
    part = c[list(factors)].sum(axis=1).to_numpy(float)[keep]
    total = c.sum(axis=1).to_numpy(float)[keep]
    wind = None if sample_wind is None else np.asarray(sample_wind, float)[keep]
    typical = class_share(
        contributions,
        factors,
        idx[keep],
        method=method,
        time_zone=time_zone,
        window_days=window_days,
        level=total,
        sample_wind=sample_wind,
        wind=wind,
        sectors=sectors,
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where((total > 0) & (typical > 0), part / total / typical, np.nan)
    return pd.Series(r, index=idx[keep], name="share_deviation")


def deviation_paths(
    deviations: pd.Series, length: int, draws: int, rng: np.random.Generator
) -> np.ndarray:
    """Random hourly paths of share deviations: contiguous runs of the record's deviations [1].

    The record is put on an hourly grid (each hour takes the nearest sample within half the
    median sample spacing, so daily samples hold for their day); every path is a run of
    ``length`` consecutive hours from a random start, which keeps the persistence of the
    deviations (a wind regime lasts for hours), or, for a record shorter than ``length``, runs
    joined end to end. Hours without a sample nearby are 1 (no deviation).

    Parameters
    ----------
    deviations : pandas.Series
        :func:`share_deviations` (index: sample times).
    length : int
        Hours of a path (the scenario's leads).
    draws : int
        Number of paths.
    rng : numpy.random.Generator
        Random generator.

    Returns
    -------
    numpy.ndarray
        ``draws x length`` deviations; all 1 when the record has fewer than 2 finite values.
    """
    d = deviations[np.isfinite(deviations.to_numpy(float))]
    if len(d) < 2 or length < 1:
        return np.ones((draws, max(length, 0)))
    d = d.groupby(level=0).mean().sort_index()
    idx = pd.DatetimeIndex(d.index)
    spacing = pd.Series(idx).diff().median()
    hourly = pd.date_range(idx[0].floor("h"), idx[-1].ceil("h"), freq="h")
    tol = max(spacing / 2, pd.Timedelta(minutes=30))
    grid = d.reindex(hourly, method="nearest", tolerance=tol).to_numpy(float)
    grid = np.where(np.isfinite(grid), grid, 1.0)
    n = len(grid)
    run = min(length, n)
    starts = rng.integers(0, n - run + 1, size=(draws, -(-length // run)))
    cols = (starts[:, :, None] + np.arange(run)[None, None, :]).reshape(draws, -1)[:, :length]
    return grid[cols]


def combine_intervals(*intervals: tuple[float, float]) -> tuple[float, float]:
    """Combine independent relative 5 / 95 % intervals (log-normal, in quadrature per side).

    Parameters
    ----------
    *intervals : tuple of float
        ``(low, high)`` pairs relative to a median of 1 [1].

    Returns
    -------
    tuple of float
        The combined ``(low, high)`` [1].
    """
    lo = np.sqrt(sum(np.log(a) ** 2 for a, _ in intervals)) if intervals else 0.0
    hi = np.sqrt(sum(np.log(b) ** 2 for _, b in intervals)) if intervals else 0.0
    return (float(np.exp(-lo)), float(np.exp(hi)))


def share_multipliers(low: float, high: float, draws: int, rng: np.random.Generator) -> np.ndarray:
    """Random multipliers of a share whose 5 % and 95 % points are ``low`` and ``high``.

    A split log-normal with median 1: below 1 with the spread of ``low``, above with that of
    ``high`` (bootstrap / DISP intervals are often asymmetric).

    Parameters
    ----------
    low, high : float
        5 % and 95 % points relative to the base share [fraction of the base], ``0 < low <= 1 <=
        high``.
    draws : int
        Number of multipliers.
    rng : numpy.random.Generator
        Random generator.

    Returns
    -------
    numpy.ndarray
        ``draws`` multipliers [1].
    """
    if not (0 < low <= 1 <= high):
        raise ValueError(f"share interval must satisfy 0 < low <= 1 <= high (got {low}, {high})")
    z = rng.standard_normal(draws)
    s_lo, s_hi = -np.log(low) / 1.6449, np.log(high) / 1.6449
    return np.exp(np.where(z < 0, z * s_lo, z * s_hi))


def effective_cut(
    times: pd.DatetimeIndex,
    start: pd.Timestamp,
    cut: float,
    *,
    lag_hours: float = 0.0,
    ramp_hours: float = 0.0,
) -> np.ndarray:
    """Fraction by which the class's contribution is cut at each hour [fraction].

    Parameters
    ----------
    times : pandas.DatetimeIndex
        Hours of the forecast (naive UTC, labels of hourly values).
    start : pandas.Timestamp
        Time the measure starts (naive UTC).
    cut : float
        Emission cut [fraction, 0..1].
    lag_hours : float, optional
        Hours before the cut acts at the receptor [h].
    ramp_hours : float, optional
        Hours over which it grows linearly to the full cut [h]; 0: at once.

    Returns
    -------
    numpy.ndarray
        ``len(times)`` effective cuts in ``[0, cut]``.
    """
    if not 0.0 <= cut <= 1.0:
        raise ValueError(f"cut must be between 0 and 1 (got {cut})")
    h = np.asarray((pd.DatetimeIndex(times) - pd.Timestamp(start)) / pd.Timedelta(hours=1), float)
    h = h - float(lag_hours)
    if ramp_hours > 0:
        frac = np.clip(h / float(ramp_hours), 0.0, 1.0)
    else:
        frac = (h > 0).astype(float)
    return cut * frac


def equation_uncertainty(
    x: np.ndarray, error_fraction: float, mdl: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """PMF input from concentrations by the equation-based uncertainty of EPA PMF 5.0.

    Above the detection limit ``u = sqrt((EF x)^2 + (MDL / 2)^2)``; at or below it the value is
    ``MDL / 2`` with ``u = 5/6 MDL`` (EPA PMF 5.0 user guide).

    Parameters
    ----------
    x : numpy.ndarray
        ``n x m`` concentrations [units of each species].
    error_fraction : float
        Error fraction ``EF`` [fraction].
    mdl : numpy.ndarray
        ``m`` detection limits [units of each species].

    Returns
    -------
    tuple of numpy.ndarray
        Concentrations and uncertainties (``n x m``) [units of each species].
    """
    x = np.asarray(x, float)
    mdl = np.broadcast_to(np.asarray(mdl, float), x.shape)
    below = x <= mdl
    u = np.sqrt((error_fraction * x) ** 2 + (0.5 * mdl) ** 2)
    return np.where(below, 0.5 * mdl, x), np.where(below, 5.0 / 6.0 * mdl, u)


def quantile_function(quantiles: np.ndarray, levels: Sequence[float], p: np.ndarray) -> np.ndarray:
    """Values at probabilities ``p`` from quantile forecasts, linear between the quantiles.

    Beyond the outermost levels the quantile function continues with the slope of the nearest
    segment (the convention of :func:`features.quantiles.exceedance_from_quantiles`) and is kept
    at or above zero.

    Parameters
    ----------
    quantiles : numpy.ndarray
        ``... x Q`` quantiles [units of the variable].
    levels : sequence of float
        The ``Q`` levels (ascending).
    p : numpy.ndarray
        ``N`` probabilities in [0, 1].

    Returns
    -------
    numpy.ndarray
        ``N x ...`` values [units of the variable].
    """
    q = np.sort(np.asarray(quantiles, float), axis=-1)
    lv = np.asarray(levels, float)
    p = np.asarray(p, float)
    k = np.clip(np.searchsorted(lv, p, side="right") - 1, 0, len(lv) - 2)  # N
    a, b = q[..., k], q[..., k + 1]  # ... x N
    w = (p - lv[k]) / (lv[k + 1] - lv[k])
    out = np.maximum(a + w * (b - a), 0.0)
    return np.moveaxis(out, -1, 0)


@dataclass
class ScenarioDraws:
    """Quantiles of the baseline and cut forecasts and of the reduction, at the same levels.

    Attributes
    ----------
    levels : tuple of float
        Quantile levels.
    baseline_mean, cut_mean : numpy.ndarray
        ``... x L`` mean forecasts without / with the cut at the base share [units of the
        variable].
    cut_quantiles : numpy.ndarray
        ``... x L x Q`` quantiles with the cut [units of the variable].
    reduction_mean : numpy.ndarray
        ``... x L`` reduction of the mean forecast at the base share [units of the variable].
    reduction_quantiles : numpy.ndarray
        ``... x L x Q`` quantiles of the reduction [units of the variable].
    share : numpy.ndarray
        ``L`` base share of the class [fraction].
    cut : numpy.ndarray
        ``L`` effective cut [fraction].
    period_reduction_quantiles : numpy.ndarray
        ``... x Q`` quantiles over the draws of the mean reduction over the hours with a cut
        (what "how much lower over the period" asks; not the mean of the hourly quantiles,
        whose hour-to-hour deviations partly cancel) [units of the variable]; NaN without a cut.
    """

    levels: tuple[float, ...]
    baseline_mean: np.ndarray
    cut_mean: np.ndarray
    cut_quantiles: np.ndarray
    reduction_mean: np.ndarray
    reduction_quantiles: np.ndarray
    share: np.ndarray
    cut: np.ndarray
    period_reduction_quantiles: np.ndarray


def scenario_draws(
    mean: np.ndarray,
    quantiles: np.ndarray,
    levels: Sequence[float],
    *,
    share: np.ndarray,
    cut: np.ndarray,
    share_interval: tuple[float, float] = (1.0, 1.0),
    share_paths: np.ndarray | None = None,
    draws: int = 2000,
    seed: int = 0,
) -> ScenarioDraws:
    """Monte-Carlo cut forecast from a quantile forecast and an uncertain class share.

    Parameters
    ----------
    mean : numpy.ndarray
        ``... x L`` mean forecast (e.g. station x lead) [units of the variable].
    quantiles : numpy.ndarray
        ``... x L x Q`` quantile forecast [units of the variable].
    levels : sequence of float
        The ``Q`` quantile levels.
    share : numpy.ndarray
        ``L`` base share of the class at each lead [fraction].
    cut : numpy.ndarray
        ``L`` effective cut at each lead [fraction] (:func:`effective_cut`).
    share_interval : tuple of float, optional
        5 % and 95 % points of the share relative to its base value [fraction]
        (:func:`share_multipliers`); ``(1, 1)``: no share uncertainty.
    share_paths : numpy.ndarray, optional
        ``draws x L`` hourly share deviations (:func:`deviation_paths`), one path per draw;
        default none (the share of every hour is ``share`` times the draw's multiplier).
    draws : int, optional
        Monte-Carlo draws.
    seed : int, optional
        Seed (reproducible).

    Returns
    -------
    ScenarioDraws
        The cut forecast and the reduction, at the forecast's levels.
    """
    rng = np.random.default_rng(seed)
    lv = tuple(float(x) for x in levels)
    share = np.asarray(share, float)
    cut = np.asarray(cut, float)
    p = (np.arange(draws) + rng.random(draws)) / draws  # stratified levels, one per draw
    mult = share_multipliers(*share_interval, draws, rng) if share_interval != (1.0, 1.0) else None
    m = np.ones(draws) if mult is None else mult
    y = quantile_function(quantiles, lv, p)  # N x ... x L
    dev = np.ones((draws, len(share))) if share_paths is None else np.asarray(share_paths, float)
    if dev.shape != (draws, len(share)):
        raise ValueError(
            f"share_paths must be draws x leads {(draws, len(share))} (got {dev.shape})"
        )
    removed = np.clip(share[None, :] * m[:, None] * dev, 0.0, 1.0) * cut[None, :]  # N x L
    shape = (draws,) + (1,) * (y.ndim - 2) + (y.shape[-1],)
    red = y * removed.reshape(shape)
    cut_y = y - red
    pct = np.asarray(lv) * 100.0
    mean = np.asarray(mean, float)
    frac = np.clip(share, 0.0, 1.0) * cut  # L: central fraction removed (median multiplier 1)
    on = cut > 0
    period = (
        np.moveaxis(np.percentile(red[..., on].mean(axis=-1), pct, axis=0), 0, -1)
        if on.any()
        else np.full(y.shape[1:-1] + (len(lv),), np.nan)
    )
    return ScenarioDraws(
        levels=lv,
        baseline_mean=mean,
        cut_mean=mean * (1.0 - frac),
        cut_quantiles=np.moveaxis(np.percentile(cut_y, pct, axis=0), 0, -1),
        reduction_mean=mean * frac,
        reduction_quantiles=np.moveaxis(np.percentile(red, pct, axis=0), 0, -1),
        share=share,
        cut=cut,
        period_reduction_quantiles=period,
    )
