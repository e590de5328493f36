"""Post-hoc calibration fitted on validation data (pure numpy).

Two corrections, each per group of leads, learned on the validation slice of the training period
and never on test data:

- **shrinkage** of a predicted anomaly towards the reference (climatology), the least-squares factor
  in [0, 1], which keeps long leads from forecasting noise;
- **band scaling** of the quantiles around the median, so that the central interval covers its
  nominal share of validation observations (a scaled split-conformal correction in the spirit of
  conformalised quantile regression, Romano et al. 2019).
"""

from __future__ import annotations

import numpy as np

__all__ = ["apply_band_scale", "fit_band_scale", "fit_shrinkage", "lead_groups"]


def lead_groups(max_lead: int, width: int) -> list[np.ndarray]:
    """Leads ``1..max_lead`` [h]: the first ``width`` one by one, then groups of ``width``.

    The shortest leads change fastest with the lead (at 1 h the forecast is nearly persistence,
    at 6 h it is not), so sharing one factor over 1..6 h shrank the 1-h forecast too little and
    left it worse than persistence; from ``width`` h on, neighbouring leads behave alike and a
    group gives a steadier estimate.
    """
    leads = np.arange(1, max_lead + 1)
    head = [leads[i : i + 1] for i in range(min(width, max_lead))]
    return head + [leads[i : i + width] for i in range(width, max_lead, width)]


def fit_shrinkage(
    pred: np.ndarray, obs: np.ndarray, lead: np.ndarray, max_lead: int, width: int = 6
) -> np.ndarray:
    """Per-lead factor ``c`` in [0, 1] minimising ``sum (obs - c * pred)^2`` within each lead group.

    Parameters
    ----------
    pred, obs : numpy.ndarray
        Predicted and observed anomalies (any shape, NaN pairs skipped).
    lead : numpy.ndarray
        Lead [h] of every element (same shape).

    Returns
    -------
    numpy.ndarray
        ``max_lead`` factors (1 where a group has no data).
    """
    out = np.ones(max_lead)
    ok = np.isfinite(pred) & np.isfinite(obs)
    for group in lead_groups(max_lead, width):
        sel = ok & np.isin(lead, group)
        den = float(np.sum(pred[sel] ** 2))
        if den > 0:
            out[group - 1] = float(np.clip(np.sum(obs[sel] * pred[sel]) / den, 0.0, 1.0))
    return out


def fit_band_scale(
    quantiles: np.ndarray,
    levels: tuple[float, ...],
    obs: np.ndarray,
    lead: np.ndarray,
    max_lead: int,
    width: int = 6,
    bounds: tuple[float, float] = (0.5, 3.0),
) -> np.ndarray:
    """Per-lead factor that scales quantile offsets from the median to the nominal coverage.

    For every validation pair the factor that would just include the observation in the outer
    interval is computed; the factor of a lead group is its ``(hi - lo)`` empirical quantile.

    Parameters
    ----------
    quantiles : numpy.ndarray
        ``... x Q`` quantile forecasts (sorted along the last axis).
    levels : tuple of float
        The ``Q`` levels; must contain 0.5 and at least one level on each side.
    obs, lead : numpy.ndarray
        Observations and leads [h], shape ``...``.

    Returns
    -------
    numpy.ndarray
        ``max_lead`` factors, clipped to ``bounds`` (1 where a group has no data).
    """
    levels = tuple(float(x) for x in levels)
    if 0.5 not in levels or min(levels) >= 0.5 or max(levels) <= 0.5:
        return np.ones(max_lead)
    med = quantiles[..., levels.index(0.5)]
    lo, hi = quantiles[..., 0], quantiles[..., -1]
    nominal = levels[-1] - levels[0]
    with np.errstate(invalid="ignore", divide="ignore"):
        need = np.where(
            obs >= med,
            (obs - med) / np.maximum(hi - med, 1e-9),
            (med - obs) / np.maximum(med - lo, 1e-9),
        )
    ok = np.isfinite(need)
    out = np.ones(max_lead)
    for group in lead_groups(max_lead, width):
        sel = ok & np.isin(lead, group)
        if sel.sum() >= 20:
            out[group - 1] = float(np.clip(np.quantile(need[sel], nominal), *bounds))
    return out


def apply_band_scale(
    quantiles: np.ndarray, levels: tuple[float, ...], factor: np.ndarray
) -> np.ndarray:
    """Scale quantile offsets from the median by ``factor`` (broadcast over the leading axes)."""
    levels = tuple(float(x) for x in levels)
    if 0.5 not in levels:
        return quantiles
    med = quantiles[..., levels.index(0.5)][..., None]
    return med + factor[..., None] * (quantiles - med)
