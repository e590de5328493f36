"""Constrained PMF runs as in EPA PMF 5.0: pull, set to zero / to a value, with the dQ they cost.

PMF 5.0 (Norris et al. 2014, EPA/600/R-14/108, "Constrained model operation") lets the analyst
impose knowledge on a base solution and re-runs the fit from it; ESAT's
``esat.rotational.constrained.ConstrainedModel`` offers the same constraint types. Here every
constraint is a term of the objective (or a held cell), the fit is re-run from the base with the
compiled penalised HALS kernel (:mod:`models.pmf.kernels`), and the cost is reported
as PMF5 does: Q(robust) before and after, dQ absolute and in % of the base Q(robust). PMF5's
guidance: a constrained solution whose Q(robust) rises by **about 1 % or less** is an acceptable
alternative to the base; larger rises mean the data disagree with the constraint.

Units. Profiles are on the scale of the profile table (:func:`models.pmf.report.profile_tables`):
the fit keeps every factor's contributions at a mean of 1, so a profile value is the factor's
average contribution to the species [data units, e.g. ug/m3]; contributions are normalised
[dimensionless, mean 1]. Constraint values are given on these scales.

Constraint types (:class:`Constraint`):

* ``"pull down"`` / ``"pull up"`` - pull the element down / up *maximally* within a dQ limit:
  a linear term ``+- mu e`` (the Lagrangian of "minimise / maximise the element at a given Q")
  whose strength is searched until dQ reaches the limit (or the element reaches zero);
* ``"pull to value"`` - a quadratic pull ``lam (e - value)^2`` searched the same way (it reaches
  the value when that costs less than the limit);
* ``"pull ratio to value"`` - PMF 5.0's expressions for the common case of a ratio of two
  species in one factor (``species`` / ``over``, e.g. EC / OC of a traffic factor): the
  quadratic pull ``lam (F[k, a] - value F[k, b])^2``, searched like the other pulls;
* ``"set to zero"``, ``"set to value"``, ``"set to base value"`` - the element is held exactly.

Profile constraints name a factor and a species; contribution constraints a factor and samples
(each listed sample's contribution is pulled or held). With several pull constraints one common
strength is searched so that their total dQ reaches the sum of their limits (dQ is not separable
between pulls; ESAT sums its expressions' limits the same way). General linear expressions
over several factors or contributions (the rest of PMF5's expressions) are not implemented.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from models.pmf.core import PMFResult, q_values
from models.pmf.error_estimates import match_factors
from models.pmf.kernels import penalised_batch
from models.pmf.kinds import KINDS, PULLS

__all__ = [
    "ACCEPTABLE_DQ_PERCENT",
    "KINDS",
    "ConstrainedResult",
    "Constraint",
    "constrained_run",
    "normalised_reference",
]

#: PMF 5.0's guidance: a constrained run costing at most this rise of Q(robust) [%] is acceptable.
ACCEPTABLE_DQ_PERCENT = 1.0

_PULLS = PULLS


@dataclass(frozen=True)
class Constraint:
    """One constraint on a profile element or on contributions of a factor.

    Parameters
    ----------
    kind : str
        One of :data:`KINDS`.
    factor : int
        Factor number, 1-based as in the profile table (``factor_1`` ...).
    species : str or int, optional
        Profile element: species name (or column index). Leave out for contributions.
    samples : sequence of int or str, optional
        Contribution elements: sample labels (or row indices) of the factor.
    over : str or int, optional
        ``"pull ratio to value"``: the denominator species (``species`` is the numerator).
    value : float, optional
        Target of ``"pull to value"`` / ``"set to value"`` [profile-table units for profiles,
        normalised units for contributions], or of ``"pull ratio to value"`` [ratio of the
        two profile elements, data units / data units].
    dq : float, optional
        dQ limit of a pull [Q(robust) units].
    dq_percent : float, optional
        dQ limit of a pull [% of the base Q(robust)], as PMF 5.0 asks for it (used when ``dq``
        is not given; default 0.5 %).
    """

    kind: str
    factor: int
    species: str | int | None = None
    samples: Sequence[int | str] | None = None
    value: float | None = None
    dq: float | None = None
    dq_percent: float | None = None
    over: str | int | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown constraint kind {self.kind!r} (one of {', '.join(KINDS)})")
        if (self.species is None) == (self.samples is None):
            raise ValueError(
                "a constraint names either a species (profile) or samples (contributions)"
            )
        if self.kind in ("pull to value", "set to value", "pull ratio to value") and (
            self.value is None
        ):
            raise ValueError(f"{self.kind!r} needs a value")
        if (self.kind == "pull ratio to value") != (self.over is not None):
            raise ValueError("'pull ratio to value' and only it names a denominator (over)")
        if self.kind == "pull ratio to value" and (self.species is None or self.value <= 0):
            raise ValueError("a ratio names two species of a profile and a positive value")

    @property
    def target(self) -> str:
        """``"profile"`` or ``"contribution"``."""
        return "profile" if self.species is not None else "contribution"

    def label(self) -> str:
        """Readable description, e.g. ``pull down factor_2 / styrene``."""
        what = self.species if self.species is not None else f"samples {list(self.samples)}"
        if self.over is not None:
            what = f"{self.species}/{self.over}"
        return f"{self.kind} factor_{self.factor} / {what}"


@dataclass
class ConstrainedResult:
    """A constrained solution and what it cost.

    Attributes
    ----------
    G : numpy.ndarray
        ``n x p`` contributions, normalised to a mean of 1 per factor [dimensionless].
    F : numpy.ndarray
        ``p x m`` profiles on the profile table's scale [data units].
    q_robust_base, q_true_base : float
        Q(robust), Q(true) of the base solution, refit without constraints to the same
        convergence criterion (the reference of dQ) [Q units].
    q_robust, q_true : float
        Q(robust), Q(true) of the constrained solution [Q units].
    dq_robust, dq_robust_percent, dq_true : float
        Rise of Q(robust) [Q units] and [% of ``q_robust_base``], rise of Q(true).
    acceptable : bool
        ``dq_robust_percent <= ACCEPTABLE_DQ_PERCENT`` (PMF 5.0's guidance).
    constraints : pandas.DataFrame
        One row per constraint: ``constraint``, ``kind``, ``factor``, ``element``, ``base``,
        ``goal`` (value or limit), ``dq_limit`` [Q units], ``achieved``, ``change`` (achieved -
        base); contribution constraints report the mean over their samples.
    strength : float
        Final multiplier of the pull terms (0: no pull constraint).
    converged : bool
        The final fit met the convergence criterion.
    swapped : bool
        The constrained factors no longer map one to one onto the base factors (contribution
        correlation, :func:`models.pmf.error_estimates.match_factors`): the constraint moved a
        factor's role to another factor (e.g. "set to zero" taken up by a factor that had the
        species near zero), so factor numbers changed meaning - check before reading the table.
    match_r : numpy.ndarray
        Correlation [1] of each base factor's contributions with its constrained match.
    """

    G: np.ndarray
    F: np.ndarray
    q_robust_base: float
    q_true_base: float
    q_robust: float
    q_true: float
    dq_robust: float
    dq_robust_percent: float
    dq_true: float
    acceptable: bool
    constraints: pd.DataFrame
    strength: float
    converged: bool
    swapped: bool = False
    match_r: np.ndarray | None = None
    species: list[str] = field(default_factory=list)
    samples: list[str] = field(default_factory=list)

    @property
    def guidance(self) -> str:
        """PMF 5.0's reading of the dQ (one sentence)."""
        verdict = "acceptable" if self.acceptable else "too costly: the data disagree"
        if self.swapped:
            verdict += " (factors swapped: compare with the base before reading)"
        return (
            f"dQ(robust) = {self.dq_robust:.1f} ({self.dq_robust_percent:.2f} % of the base); "
            f"PMF 5.0 accepts about {ACCEPTABLE_DQ_PERCENT:g} % or less - {verdict}"
        )

    def profiles(self) -> pd.DataFrame:
        """Profiles, species x factors [data units] (the profile table's layout)."""
        names = [f"factor_{k + 1}" for k in range(self.F.shape[0])]
        return pd.DataFrame(self.F.T, index=self.species, columns=names)

    def contributions(self) -> pd.DataFrame:
        """Normalised contributions, samples x factors [dimensionless]."""
        names = [f"factor_{k + 1}" for k in range(self.G.shape[1])]
        return pd.DataFrame(self.G, index=self.samples, columns=names)


def normalised_reference(
    x: np.ndarray,
    u: np.ndarray,
    base: PMFResult,
    *,
    max_iter: int = 5000,
    tol: float = 0.01,
    window: int = 20,
) -> tuple[np.ndarray, np.ndarray, float]:
    """Refit the base solution on the profile-table scale to the penalised kernel's criterion.

    Parameters
    ----------
    x, u : numpy.ndarray
        Data and uncertainties the base was fitted to [data units].
    base : PMFResult
        Base solution.
    max_iter, tol, window
        Convergence (``tol`` [Q units] over ``window`` sweeps).

    Returns
    -------
    G, F, q
        Contributions at a mean of 1, profiles [data units], the objective (Q(robust) in robust
        mode) [Q units]. The reference of every dQ here, so that dQ measures a constraint or
        a rotation and not the rest of the base's convergence.
    """
    robust, alpha = bool(base.settings.get("robust", True)), float(base.settings.get("alpha", 4.0))
    c = base.G.mean(axis=0).clip(1e-300)
    G, F, q, _, _, _ = penalised_batch(
        x,
        u,
        (base.G / c)[None],
        (base.F * c[:, None])[None],
        robust=robust,
        alpha=alpha,
        max_iter=max_iter,
        tol=tol,
        window=window,
    )
    return G[0], F[0], float(q[0])


def _index(names: list[str], key: int | str, what: str) -> int:
    if isinstance(key, (int, np.integer)) and not isinstance(key, bool):
        if not 0 <= int(key) < len(names):
            raise ValueError(f"{what} index {key} out of range (0..{len(names) - 1})")
        return int(key)
    if str(key) not in names:
        raise ValueError(f"unknown {what} {key!r}")
    return names.index(str(key))


def constrained_run(
    x: np.ndarray,
    u: np.ndarray,
    base: PMFResult,
    constraints: Sequence[Constraint],
    *,
    max_iter: int = 5000,
    tol: float = 0.01,
    window: int = 20,
    search_steps: int = 24,
    rel_tol: float = 0.05,
) -> ConstrainedResult:
    """Re-run PMF from the base solution with constraints (PMF 5.0's constrained run).

    Parameters
    ----------
    x, u : numpy.ndarray
        ``n x m`` concentrations and uncertainties the base was fitted to [data units].
    base : PMFResult
        Base solution (:func:`models.pmf.core.fit_pmf`); its robust / alpha settings are kept.
    constraints : sequence of Constraint
        The constraints (held cells and pulls may be combined).
    max_iter, tol, window : int, float, int, optional
        Convergence of every fit: the objective changes by less than ``tol`` [Q units] over
        ``window`` sweeps, at most ``max_iter`` sweeps.
    search_steps : int, optional
        Fits at most in the search of the pull strength.
    rel_tol : float, optional
        The search stops when the pulls' dQ lies within ``[(1 - rel_tol) limit, limit]``.

    Returns
    -------
    ConstrainedResult
        New profiles [data units] and normalised contributions, Q before / after, dQ and the
        table of constraints with their achieved values.
    """
    x = np.asarray(x, float)
    u = np.asarray(u, float)
    if not constraints:
        raise ValueError("no constraints given")
    n, m = x.shape
    p = base.factors
    robust, alpha = bool(base.settings.get("robust", True)), float(base.settings.get("alpha", 4.0))
    G0, F0, q0 = normalised_reference(x, u, base, max_iter=max_iter, tol=tol, window=window)
    qt0, qr0 = q_values(x, u, G0, F0, alpha)
    fixF = np.full((p, m), np.nan)
    fixG = np.full((n, p), np.nan)
    dirF, dirG = np.zeros((p, m)), np.zeros((n, p))  # linear push per unit strength
    lamF, lamG = np.zeros((p, m)), np.zeros((n, p))  # quadratic pull per unit strength
    tF, tG = np.zeros((p, m)), np.zeros((n, p))
    ratios: list[tuple[int, int, int, float]] = []  # (k, a, b, value) per unit strength ...
    lam_ratio: list[float] = []  # ... with these weights
    cells: list[tuple[Constraint, str, int, np.ndarray]] = []
    budget = 0.0
    for c in constraints:
        if not 1 <= c.factor <= p:
            raise ValueError(f"factor {c.factor} out of range (1..{p})")
        k = c.factor - 1
        if c.kind == "pull ratio to value":
            a = _index(base.species, c.species, "species")
            b = _index(base.species, c.over, "species")
            if a == b:
                raise ValueError(f"{c.label()}: a ratio of a species to itself")
            idx = np.array([a, b])
            scale = max(float(F0[k, a]), float(c.value) * float(F0[k, b]), 1e-12)
            ratios.append((k, a, b, float(c.value)))
            lam_ratio.append(1.0 / scale**2)
            cells.append((c, "ratio", k, idx))
            budget += c.dq if c.dq is not None else (c.dq_percent or 0.5) / 100.0 * q0
            continue
        if c.target == "profile":
            idx = np.array([_index(base.species, c.species, "species")])
            ref = F0[k, idx]
            scale = max(float(ref[0]), 1e-3 * float(F0[:, idx[0]].max()), 1e-12)
        else:
            idx = np.array([_index(base.samples, s, "sample") for s in c.samples])
            ref = G0[idx, k]
            scale = max(float(ref.mean()), 1e-3)
        cells.append((c, c.target, k, idx))
        if c.kind in _PULLS:
            budget += c.dq if c.dq is not None else (c.dq_percent or 0.5) / 100.0 * q0
        held = {"set to zero": 0.0, "set to value": c.value, "set to base value": None}
        if c.kind in held:
            val = ref if c.kind == "set to base value" else np.full(len(idx), float(held[c.kind]))
            if c.target == "profile":
                fixF[k, idx] = val
            else:
                fixG[idx, k] = val
        elif c.kind in ("pull down", "pull up"):
            sign = 1.0 if c.kind == "pull down" else -1.0
            if c.target == "profile":
                dirF[k, idx] = sign / scale
            else:
                dirG[idx, k] = sign / scale
        else:  # pull to value
            if c.target == "profile":
                lamF[k, idx], tF[k, idx] = 1.0 / scale**2, float(c.value)
            else:
                lamG[idx, k], tG[idx, k] = 1.0 / scale**2, float(c.value)

    def fit(gamma: float, Gs: np.ndarray, Fs: np.ndarray):
        Fs, Gs = Fs.copy(), Gs.copy()
        Fs = np.where(np.isnan(fixF), Fs, fixF)
        Gs = np.where(np.isnan(fixG), Gs, fixG)
        G, F, q, _, _, conv = penalised_batch(
            x,
            u,
            Gs[None],
            Fs[None],
            fix_F=fixF,
            fix_G=fixG,
            lam_F=gamma * lamF,
            target_F=tF,
            mu_F=gamma * dirF,
            lam_G=gamma * lamG,
            target_G=tG,
            mu_G=gamma * dirG,
            ratios=np.array(ratios, float).reshape(-1, 4),
            lam_ratio=gamma * np.array(lam_ratio, float),
            robust=robust,
            alpha=alpha,
            max_iter=max_iter,
            tol=tol,
            window=window,
        )
        return G[0], F[0], float(q[0]), bool(conv[0])

    G, F, q_hard, conv = fit(0.0, G0, F0)  # held cells only
    gamma = 0.0
    has_pull = bool(np.any(dirF) or np.any(dirG) or np.any(lamF) or np.any(lamG) or ratios)
    if has_pull and budget > 0:
        # grow the strength geometrically until the pulls' dQ passes the budget, then bisect
        # (in log strength); keep the strongest fit within the budget. Fits are warm-started.
        best = (0.0, G, F, conv)
        lo, hi = 0.0, np.inf
        g = 1e-3 * np.sqrt(budget)
        last_dq = -np.inf
        for _ in range(search_steps):
            Gt, Ft, qt, ct = fit(g, best[1], best[2])
            dq = qt - q_hard
            if dq <= budget:
                lo, best = g, (g, Gt, Ft, ct)
                if dq >= (1 - rel_tol) * budget:
                    break
                # a stronger pull costs no more: the element is at its bound (zero). Changes
                # of dQ within the convergence tolerance are noise, not a plateau (weak pulls
                # move dQ by less than tol: stopping there left a ratio pull unmoved)
                if not np.isfinite(hi) and dq > tol and dq - last_dq <= tol:
                    break
                last_dq = dq
            else:
                hi = g
            if not np.isfinite(hi):
                g *= 10.0
            else:
                g = np.sqrt(lo * hi) if lo > 0 else hi / 10.0
        gamma, G, F, conv = best
    qt1, qr1 = q_values(x, u, G, F, alpha)
    rows = []
    for c, target, k, idx in cells:
        if target == "ratio":  # the ratio of the two elements, before and after
            base_v = np.array([F0[k, idx[0]] / max(F0[k, idx[1]], 1e-300)])
            new_v = np.array([F[k, idx[0]] / max(F[k, idx[1]], 1e-300)])
        else:
            base_v = F0[k, idx] if target == "profile" else G0[idx, k]
            new_v = F[k, idx] if target == "profile" else G[idx, k]
        if c.kind in _PULLS:
            lim = c.dq if c.dq is not None else (c.dq_percent or 0.5) / 100.0 * q0
        else:
            lim = np.nan
        rows.append(
            {
                "constraint": c.label(),
                "kind": c.kind,
                "target": target,
                "factor": c.factor,
                "element": f"{c.species}/{c.over}"
                if target == "ratio"
                else str(c.species)
                if target == "profile"
                else ",".join(map(str, c.samples)),
                "base": float(np.mean(base_v)),
                "goal": float(c.value)
                if c.value is not None
                else (0.0 if c.kind == "set to zero" else np.nan),
                "dq_limit": float(lim),
                "achieved": float(np.mean(new_v)),
                "change": float(np.mean(new_v) - np.mean(base_v)),
            }
        )
    fm = match_factors(G0, G)
    dq = qr1 - qr0
    pct = 100.0 * dq / qr0 if qr0 > 0 else np.nan
    return ConstrainedResult(
        G=G,
        F=F,
        q_robust_base=qr0,
        q_true_base=qt0,
        q_robust=qr1,
        q_true=qt1,
        dq_robust=dq,
        dq_robust_percent=pct,
        dq_true=qt1 - qt0,
        acceptable=bool(pct <= ACCEPTABLE_DQ_PERCENT),
        constraints=pd.DataFrame(rows),
        strength=float(gamma),
        converged=conv,
        swapped=fm.swapped,
        match_r=fm.r_matched,
        species=list(base.species),
        samples=list(base.samples),
    )
