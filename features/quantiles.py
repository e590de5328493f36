"""Probabilities from quantile forecasts (pure numpy)."""

from __future__ import annotations

import numpy as np

__all__ = ["exceedance_from_quantiles"]


def exceedance_from_quantiles(
    quantiles: np.ndarray, levels: tuple[float, ...] | np.ndarray, threshold: float
) -> np.ndarray:
    """P(value > threshold) from quantile forecasts (``... x Q``), CDF linear between quantiles.

    Outside the outermost quantiles the CDF is extended with the slope of the nearest segment and
    clipped to [0, 1]; NaN where any quantile is NaN.
    """
    q = np.sort(np.asarray(quantiles, float), axis=-1)
    p = np.asarray(levels, float)
    if len(p) == 1:
        out = (q[..., 0] > threshold).astype(float)
        return np.where(np.isnan(q[..., 0]), np.nan, out)
    lo, hi = q[..., 0], q[..., -1]
    cdf = np.full(q.shape[:-1], np.nan)
    for k in range(len(p) - 1):
        a, b = q[..., k], q[..., k + 1]
        inside = (threshold >= a) & (threshold <= b)
        with np.errstate(invalid="ignore", divide="ignore"):
            frac = np.where(b > a, (threshold - a) / (b - a), 0.5)
        cdf = np.where(inside & np.isnan(cdf), p[k] + frac * (p[k + 1] - p[k]), cdf)
    with np.errstate(invalid="ignore", divide="ignore"):
        slope_lo = (p[1] - p[0]) / np.maximum(q[..., 1] - q[..., 0], 1e-6)
        slope_hi = (p[-1] - p[-2]) / np.maximum(q[..., -1] - q[..., -2], 1e-6)
    cdf = np.where(threshold < lo, p[0] - slope_lo * (lo - threshold), cdf)
    cdf = np.where(threshold > hi, p[-1] + slope_hi * (threshold - hi), cdf)
    out = 1.0 - np.clip(cdf, 0.0, 1.0)
    return np.where(np.isnan(q).any(axis=-1), np.nan, out)
