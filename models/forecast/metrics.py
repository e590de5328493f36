"""Forecast verification metrics, per lead (pure numpy)."""

from __future__ import annotations

import numpy as np

__all__ = ["categorical_scores", "coverage", "mae", "pinball", "reliability", "rmse", "skill"]


def _flat_by_lead(a: np.ndarray) -> np.ndarray:
    """``S x N x L`` -> ``L x (S*N)``."""
    return np.moveaxis(a, -1, 0).reshape(a.shape[-1], -1)


def rmse(pred: np.ndarray, obs: np.ndarray) -> np.ndarray:
    """Root-mean-square error per lead over all stations and issue times (NaN-aware)."""
    e = _flat_by_lead(pred - obs)
    return np.sqrt(np.nanmean(e**2, axis=1))


def mae(pred: np.ndarray, obs: np.ndarray) -> np.ndarray:
    """Mean absolute error per lead."""
    return np.nanmean(np.abs(_flat_by_lead(pred - obs)), axis=1)


def skill(score: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Skill score ``1 - score / reference`` (e.g. RMSE skill vs persistence)."""
    return 1.0 - score / reference


def categorical_scores(
    pred: np.ndarray, obs: np.ndarray, threshold: float
) -> dict[str, np.ndarray]:
    """POD, FAR and CSI per lead for exceeding ``threshold`` (pairs with a NaN are skipped).

    POD = H/(H+M), FAR = F/(H+F), CSI = H/(H+M+F), as in PM2.5-GNN.
    """
    p, o = _flat_by_lead(pred), _flat_by_lead(obs)
    ok = ~np.isnan(p) & ~np.isnan(o)
    hit = np.sum(ok & (p > threshold) & (o > threshold), axis=1)
    miss = np.sum(ok & (p <= threshold) & (o > threshold), axis=1)
    fa = np.sum(ok & (p > threshold) & (o <= threshold), axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return {
            "pod": hit / (hit + miss),
            "far": fa / (hit + fa),
            "csi": hit / (hit + miss + fa),
        }


def pinball(quantile_pred: np.ndarray, obs: np.ndarray, level: float) -> np.ndarray:
    """Mean pinball (quantile) loss per lead."""
    d = _flat_by_lead(obs - quantile_pred)
    return np.nanmean(np.maximum(level * d, (level - 1) * d), axis=1)


def coverage(lower: np.ndarray, upper: np.ndarray, obs: np.ndarray) -> np.ndarray:
    """Share of observations inside [lower, upper] per lead."""
    lo, hi, o = _flat_by_lead(lower), _flat_by_lead(upper), _flat_by_lead(obs)
    ok = ~np.isnan(o) & ~np.isnan(lo)
    return np.sum(ok & (o >= lo) & (o <= hi), axis=1) / np.maximum(ok.sum(axis=1), 1)


def reliability(prob: np.ndarray, event: np.ndarray, bins: int = 10) -> dict[str, np.ndarray]:
    """Reliability table of probability forecasts: mean forecast vs observed frequency per bin.

    Also returns the Brier score over all pairs.
    """
    p, e = prob.ravel(), event.ravel().astype(float)
    ok = ~np.isnan(p) & ~np.isnan(e)
    p, e = p[ok], e[ok]
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(p, edges) - 1, 0, bins - 1)
    count = np.bincount(which, minlength=bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_p = np.bincount(which, p, bins) / count
        freq = np.bincount(which, e, bins) / count
    return {
        "bin_lower": edges[:-1],
        "count": count,
        "forecast": mean_p,
        "observed": freq,
        "brier": np.array(np.mean((p - e) ** 2) if len(p) else np.nan),
    }
