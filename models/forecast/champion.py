"""The champion rule: compare a challenger with the champion on the same cells, by a margin and a test.

A challenger replaces the champion only when, on the cells both forecast and that were observed
(the paired sample), its score is better by at least ``min_improvement`` (relative) **and** the
difference is significant: a one-sided Diebold-Mariano test on the per-issue-time loss
differences, with a Newey-West (Bartlett) variance over the overlap of forecasts issued closer
together than the longest compared lead, the Harvey-Leybourne-Newbold small-sample correction and
Student's t with ``N - 1`` degrees of freedom (Diebold & Mariano 1995; Harvey et al. 1997).
Pure: arrays in, a :class:`Comparison` out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

__all__ = ["LOSSES", "Comparison", "compare", "diebold_mariano", "issue_losses"]

#: Champion metric -> per-cell loss, and the score from the mean loss.
LOSSES = {
    "rmse": (np.square, np.sqrt),
    "mae": (np.abs, lambda m: m),
}


@dataclass(frozen=True)
class Comparison:
    """Outcome of challenger vs champion on their paired sample.

    Attributes
    ----------
    challenger, champion : float
        Scores on the paired sample [target units].
    improvement : float
        ``1 - challenger / champion`` (relative; positive when the challenger is better).
    p_value : float
        One-sided p-value of "the challenger's loss is lower" (NaN when untestable).
    n_issues, n_cells : int
        Issue times and (station, issue time, lead) cells in the paired sample.
    promote : bool
        Whether the rule moves the champion alias.
    reason : str
        The decision in words, with the figures.
    """

    challenger: float
    champion: float
    improvement: float
    p_value: float
    n_issues: int
    n_cells: int
    promote: bool
    reason: str


def issue_losses(
    pred: np.ndarray, obs: np.ndarray, mask: np.ndarray, *, metric: str = "rmse"
) -> tuple[np.ndarray, np.ndarray]:
    """Loss summed per issue time over the cells of ``mask``, and the cell count.

    Parameters
    ----------
    pred, obs : numpy.ndarray
        ``S x N x L`` forecasts and observations [target units].
    mask : numpy.ndarray
        ``S x N x L`` bool: the cells to score.
    metric : str
        A key of :data:`LOSSES`.

    Returns
    -------
    loss_sum, count : numpy.ndarray
        Length ``N`` each.
    """
    loss = LOSSES[metric][0](np.where(mask, pred - obs, 0.0))
    return loss.sum(axis=(0, 2)), mask.sum(axis=(0, 2))


def diebold_mariano(diff: np.ndarray, lag: int) -> tuple[float, float]:
    """One-sided Diebold-Mariano test that the mean of ``diff`` is negative.

    Parameters
    ----------
    diff : numpy.ndarray
        Loss differences (challenger - champion) per issue time, in time order.
    lag : int
        Newey-West truncation lag [issue times]: forecasts issued fewer than ``lag + 1`` steps
        apart overlap in what they verify against.

    Returns
    -------
    statistic, p_value : float
        HLN-corrected statistic and ``P(T <= statistic)`` under Student's t with ``N - 1``
        degrees of freedom; NaN when fewer than 3 differences or no variance.

    Examples
    --------
    >>> d = np.array([-1.0, -1.2, -0.8, -1.1, -0.9, -1.0])
    >>> stat, p = diebold_mariano(d, 0)
    >>> p < 0.001
    True
    """
    d = np.asarray(diff, dtype=float)
    n = len(d)
    if n < 3:
        return math.nan, math.nan
    lag = max(0, min(int(lag), n - 1))
    e = d - d.mean()
    var = float(e @ e) / n
    for k in range(1, lag + 1):
        var += 2.0 * (1.0 - k / (lag + 1)) * float(e[k:] @ e[:-k]) / n
    if not var > 0:
        return math.nan, math.nan
    stat = d.mean() / math.sqrt(var / n)
    h = lag + 1  # the forecast horizon in issue steps
    hln = math.sqrt(max((n + 1 - 2 * h + h * (h - 1) / n) / n, 1e-12))
    stat *= hln
    return float(stat), float(stats.t.cdf(stat, df=n - 1))


def compare(
    challenger: np.ndarray,
    champion: np.ndarray,
    obs: np.ndarray,
    *,
    lead_mask: np.ndarray,
    metric: str = "rmse",
    min_improvement: float = 0.0,
    significance: float | None = 0.05,
    lag: int = 0,
) -> Comparison:
    """Apply the champion rule to two forecasts of the same backtest.

    Parameters
    ----------
    challenger, champion, obs : numpy.ndarray
        ``S x N x L`` mean forecasts and observations [target units].
    lead_mask : numpy.ndarray
        Length ``L`` bool: the leads the rule compares (``champion.leads``).
    metric : str
        ``rmse`` or ``mae``.
    min_improvement : float
        Relative margin the challenger must win by.
    significance : float or None
        Largest one-sided p-value that promotes; None skips the test (margin only).
    lag : int
        Newey-West lag [issue times] (:func:`diebold_mariano`).
    """
    mask = np.isfinite(challenger) & np.isfinite(champion) & np.isfinite(obs)
    mask &= np.asarray(lead_mask, bool)[None, None, :]
    la, n = issue_losses(challenger, obs, mask, metric=metric)
    lb, _ = issue_losses(champion, obs, mask, metric=metric)
    to_score = LOSSES[metric][1]
    cells = int(n.sum())
    if cells == 0:
        return Comparison(
            math.nan, math.nan, math.nan, math.nan, 0, 0, False, "no cell forecast by both"
        )
    s_a, s_b = float(to_score(la.sum() / cells)), float(to_score(lb.sum() / cells))
    improvement = 1.0 - s_a / s_b if s_b > 0 else (0.0 if s_a == 0 else -math.inf)
    used = n > 0
    _, p = diebold_mariano((la[used] - lb[used]) / n[used], lag)
    figures = (
        f"{metric} {s_a:.3f} vs {s_b:.3f} on {cells} paired cells, {improvement:+.1%}, p = {p:.3g}"
    )
    if improvement < min_improvement or (improvement == 0 and min_improvement == 0):
        why = f"margin {improvement:+.1%} below the required {min_improvement:.1%}"
        return Comparison(
            s_a, s_b, improvement, p, int(used.sum()), cells, False, f"{why}: {figures}"
        )
    if significance is not None and not (p <= significance):
        why = f"not significant at {significance:g}"
        return Comparison(
            s_a, s_b, improvement, p, int(used.sum()), cells, False, f"{why}: {figures}"
        )
    return Comparison(s_a, s_b, improvement, p, int(used.sum()), cells, True, figures)
