"""Penalised Fpeak (PMF2 / EPA PMF 5.0): a rotation enforced during the fit, not after it.

Paatero's Fpeak (PMF2 user's guide; Paatero, Hopke, Song & Ramadan 2002, Chemom. Intell. Lab.
Syst. 60:253; EPA PMF 5.0 guide, Norris et al. 2014) adds to the objective auxiliary equations
that pull the contributions towards the rotated combination ``G (I + phi D)`` of the current
iterate (``D``: zeros on the diagonal, ones elsewhere) with strength ``phi``. The fit keeps being
pushed along that rotation and stops where Q and the non-negativity constraints resist it:

* ``phi > 0`` adds other factors' contributions to each factor - G more mixed, F sharper (more
  zeros in the profiles);
* ``phi < 0`` subtracts them - G sharper (more zeros in the contributions), F more mixed.

PMF 5.0 reports, per Fpeak strength, Q(robust), Q(true) and dQ against the base run; analysts
keep a strength whose dQ is small (its guide: a few percent at most) and whose G-space plots lose
the oblique edges. Here each strength is a separate penalised fit
(:func:`models.pmf.kernels.penalised_batch`, all strengths in one parallel batch)
started from the base solution on the profile table's scale (contributions at a mean of 1);
dQ is against the base refit without a penalty to the same criterion
(:func:`models.pmf.constrained.normalised_reference`), so ``phi = 0`` gives ``dQ = 0``.

The rotation results from the fit under the Fpeak pull, as in PMF2 / PMF 5.0 (it replaced a
post-hoc rotation of the base solution whose strength was not on PMF's scale). The target of
the pull is ``G (I + phi D)`` with negatives cut and each column rescaled to the mean of G's
column, so the pull acts on the shape of G and not against the mean-1 scale of the profile table.
The weight of the auxiliary equations ``weight`` defaults to 0.1 % of the mean weight of one
contribution's data equations. Measured on the three EPA example sets (robust, 5 starts):
dQ(robust) at phi = +0.5 / +1 is 0.2 / 0.3 % (Baton Rouge, 6 factors), 2.2 / 2.6 %
(Baltimore, 7) and 22 / 27 % (St. Louis, 5); at phi = -0.5 it is 28 %, 264 % and 317 %:
negative strengths drive G to its zeros on these sets. This is close to, not certified
identical with, PMF 5.0's ME-2 implementation, whose strengths cost a few % in typical use;
compare dQ across strengths rather than reading phi on PMF 5.0's scale.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from models.pmf.constrained import normalised_reference
from models.pmf.core import PMFResult, q_values, robust_uncertainty
from models.pmf.kernels import penalised_batch

__all__ = ["FpeakResult", "penalised_fpeak"]


@dataclass
class FpeakResult:
    """Penalised Fpeak runs of a base solution.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per strength: ``strength`` (phi), ``q_robust``, ``q_true`` [Q units],
        ``dq_robust``, ``dq_robust_percent`` [% of the reference Q(robust)], ``dq_true``,
        ``q_aux`` (the pull terms at the end) [Q units], ``share_zero_F`` / ``share_zero_G``
        (elements below 1e-6 of their factor's largest value) [1], ``iterations``,
        ``converged``.
    solutions : dict
        Strength -> ``(G, F)``: contributions at a mean of 1 [dimensionless] and profiles on
        the profile table's scale [data units].
    q_robust_reference, q_true_reference : float
        Q of the base refit without the pull (the reference of dQ) [Q units].
    weight : float
        Weight of every auxiliary equation [1 / unit^2 of a normalised contribution].
    """

    table: pd.DataFrame
    solutions: dict[float, tuple[np.ndarray, np.ndarray]]
    q_robust_reference: float
    q_true_reference: float
    weight: float

    def profiles(self, species: Sequence[str]) -> pd.DataFrame:
        """Profiles of every strength, long: ``strength``, ``factor`` (1-based), ``species``, ``value`` [data units]."""
        rows = [
            {"strength": phi, "factor": k + 1, "species": s, "value": float(F[k, j])}
            for phi, (_, F) in self.solutions.items()
            for k in range(F.shape[0])
            for j, s in enumerate(species)
        ]
        return pd.DataFrame(rows)


def _share_zero(a: np.ndarray, axis: int) -> float:
    top = a.max(axis=axis, keepdims=True).clip(1e-300)
    return float((a < 1e-6 * top).mean())


def penalised_fpeak(
    x: np.ndarray,
    u: np.ndarray,
    base: PMFResult,
    strengths: Sequence[float] = (-1.0, -0.5, 0.5, 1.0),
    *,
    weight: float | None = None,
    max_iter: int = 5000,
    tol: float = 0.01,
    window: int = 20,
) -> FpeakResult:
    """Fit the base solution again under Paatero's Fpeak pull, once per strength.

    Parameters
    ----------
    x, u : numpy.ndarray
        ``n x m`` concentrations and uncertainties the base was fitted to [data units].
    base : PMFResult
        Base solution (:func:`models.pmf.core.fit_pmf`); its robust / alpha settings are kept.
    strengths : sequence of float, optional
        Fpeak strengths ``phi`` (PMF5 users try e.g. -1, -0.5, 0.5, 1; 0 is the base).
    weight : float, optional
        Weight of each auxiliary equation ``g_ik ~ tau_ik`` [1 / unit^2 of a normalised
        contribution]; default 0.1 % of the mean over contributions of ``sum_j w_ij f_kj^2`` at
        the base (the weight of one contribution's data equations), so the pull scales with the
        data whatever their units (see the module docstring for what it costs on the EPA sets).
    max_iter, tol, window : int, float, int, optional
        Convergence: ``Q + pull`` changes by less than ``tol`` [Q units] over ``window`` sweeps.

    Returns
    -------
    FpeakResult
        Q, dQ and shares of zeros per strength, and every solution.
    """
    x = np.asarray(x, float)
    u = np.asarray(u, float)
    robust, alpha = bool(base.settings.get("robust", True)), float(base.settings.get("alpha", 4.0))
    G0, F0, _ = normalised_reference(x, u, base, max_iter=max_iter, tol=tol, window=window)
    qt0, qr0 = q_values(x, u, G0, F0, alpha)
    if weight is None:
        ur = robust_uncertainty(x - G0 @ F0, u, alpha) if robust else u
        w = np.where(np.isfinite(x), 1.0 / (ur * ur), 0.0)
        weight = 1e-3 * float(np.mean(w @ (F0 * F0).T))
    phis = np.asarray(list(strengths), float)
    B = len(phis)
    G, F, q, aux, iters, conv = penalised_batch(
        x,
        u,
        np.repeat(G0[None], B, 0),
        np.repeat(F0[None], B, 0),
        phi=phis,
        lam_fpeak=np.full(B, weight),
        robust=robust,
        alpha=alpha,
        max_iter=max_iter,
        tol=tol,
        window=window,
    )
    rows, solutions = [], {}
    for b, phi in enumerate(phis):
        qt, qr = q_values(x, u, G[b], F[b], alpha)
        rows.append(
            {
                "strength": float(phi),
                "q_robust": qr,
                "q_true": qt,
                "dq_robust": qr - qr0,
                "dq_robust_percent": 100.0 * (qr - qr0) / qr0 if qr0 > 0 else np.nan,
                "dq_true": qt - qt0,
                "q_aux": float(aux[b]),
                "share_zero_F": _share_zero(F[b], 1),
                "share_zero_G": _share_zero(G[b], 0),
                "iterations": int(iters[b]),
                "converged": bool(conv[b]),
            }
        )
        solutions[float(phi)] = (G[b], F[b])
    return FpeakResult(
        table=pd.DataFrame(rows),
        solutions=solutions,
        q_robust_reference=qr0,
        q_true_reference=qt0,
        weight=float(weight),
    )
