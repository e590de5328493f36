"""Positive matrix factorisation (PMF) receptor model: X ~ G F with uncertainties.

Minimises Q = sum_ij ((x_ij - sum_k g_ik f_kj) / u_ij)^2 with G, F >= 0 (Paatero & Tapper 1994),
for many random starts at once (a batch of 3-D arrays, seeded and reproducible). Two engines:

* ``hals`` (default): weighted hierarchical alternating least squares - every factor's column of
  G and row of F is the exact weighted least-squares update clipped at zero, in turn. It reaches
  lower Q in fewer sweeps than multiplicative updates (``BENCHMARKS.md``).
* ``ls-nmf``: the multiplicative updates of LS-NMF (Wang et al. 2006), the engine of US EPA's
  ESAT, for like-for-like comparisons.

Robust mode (PMF5's default): after ``robust_after`` sweeps, cells whose scaled residual exceeds
``alpha`` get the uncertainty ``u sqrt(|r| / alpha)`` (re-evaluated every sweep), so that Q(robust)
is what is minimised. Convergence, as in ESAT: Q falls by less than ``tol`` over ``window`` sweeps.
Runs are ranked by Q(robust).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

__all__ = ["PMFResult", "PMFRun", "fit_pmf", "q_expected", "q_values", "robust_uncertainty"]

_EPS = 1e-12


def robust_uncertainty(residual: np.ndarray, u: np.ndarray, alpha: float = 4.0) -> np.ndarray:
    """Uncertainty with cells beyond ``alpha`` scaled residuals down-weighted (PMF5 / ESAT)."""
    r = np.abs(residual) / u
    return np.where(r > alpha, u * np.sqrt(r / alpha), u)


def q_values(
    x: np.ndarray, u: np.ndarray, g: np.ndarray, f: np.ndarray, alpha: float = 4.0
) -> tuple[float, float]:
    """Q(true) and Q(robust) of a solution (cells with NaN in ``x`` are left out).

    Q(robust) counts ``r^2`` for scaled residuals ``|r| <= alpha`` and ``alpha |r|`` beyond.
    """
    r = (x - g @ f) / u
    ok = np.isfinite(r)
    a = np.abs(r[ok])
    return float(np.sum(a * a)), float(np.sum(np.where(a > alpha, alpha * a, a * a)))


def q_expected(n_samples: int, n_species: int, factors: int) -> float:
    """PMF5's expected Q: ``n m - p (n + m)`` (strong species; weak ones count as they are)."""
    return float(n_samples * n_species - factors * (n_samples + n_species))


@dataclass
class PMFRun:
    """One random start."""

    seed: int
    q_true: float
    q_robust: float
    converged: bool
    iterations: int


@dataclass
class PMFResult:
    """Best run (lowest Q(robust)) of a batch of random starts, and every run's figures."""

    G: np.ndarray  # n x p contributions
    F: np.ndarray  # p x m profiles
    q_true: float
    q_robust: float
    q_exp: float
    runs: list[PMFRun]
    best: int
    species: list[str]
    samples: list[str]
    settings: dict = field(default_factory=dict)
    all_G: np.ndarray | None = None  # B x n x p
    all_F: np.ndarray | None = None  # B x p x m

    @property
    def factors(self) -> int:
        """Number of factors."""
        return self.F.shape[0]

    def runs_table(self) -> pd.DataFrame:
        """One row per start: seed, Q(true), Q(robust), Q/Qexp, converged, iterations, best."""
        df = pd.DataFrame([r.__dict__ for r in self.runs])
        df["q_true_over_q_exp"] = df["q_true"] / self.q_exp
        df["best"] = np.arange(len(df)) == self.best
        return df


def _initial(
    x: np.ndarray, factors: int, starts: int, seed: int
) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """Random non-negative G, F scaled like the data (one child seed per start)."""
    seeds = [int(s) for s in np.random.default_rng(seed).integers(0, 2**31 - 1, starts)]
    n, m = x.shape
    col = np.sqrt(np.nanmean(x, axis=0).clip(_EPS) / factors)
    row = np.sqrt(np.nanmean(x, axis=1).clip(_EPS) / factors)
    G = np.empty((starts, n, factors))
    F = np.empty((starts, factors, m))
    for b, s in enumerate(seeds):
        rng = np.random.default_rng(s)
        F[b] = np.abs(rng.standard_normal((factors, m))) * col + _EPS
        G[b] = np.abs(rng.standard_normal((n, factors))) * row[:, None] + _EPS
    return G, F, seeds


def _sweep_lsnmf(x, w, G, F):
    """One LS-NMF multiplicative update (F then G), as ESAT's ``ls-nmf``."""
    wx = w * x
    Gt = np.swapaxes(G, 1, 2)
    F = F * (Gt @ wx) / np.maximum(Gt @ (w * (G @ F)), _EPS)
    Ft = np.swapaxes(F, 1, 2)
    G = G * (wx @ Ft) / np.maximum((w * (G @ F)) @ Ft, _EPS)
    return G, F, x - G @ F


def optimise(
    x: np.ndarray,
    u: np.ndarray,
    G: np.ndarray,
    F: np.ndarray,
    method: str = "hals",
    robust: bool = True,
    alpha: float = 4.0,
    robust_after: int = 20,
    max_iter: int = 20000,
    tol: float = 0.01,
    window: int = 50,
    fix_F: np.ndarray | None = None,
    update_F: bool = True,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Run a batch of starts to convergence.

    Parameters
    ----------
    x, u : numpy.ndarray
        ``n x m`` data and uncertainties (NaN in ``x``: the cell has weight 0).
    G, F : numpy.ndarray
        ``B x n x p`` and ``B x p x m`` starting points (copies are fitted and returned).
    fix_F : numpy.ndarray, optional
        ``B x p x m``: non-NaN cells of F are held at that value (constraints, displacement).
    update_F : bool
        False: only G is fitted (F fixed).

    Returns
    -------
    G, F, q, converged, iterations
        ``q`` is the minimised objective (Q(robust) in robust mode, else Q(true)).
    """
    if method == "hals":
        from models.pmf.kernels import hals_batch

        G, F, q, iters, conv = hals_batch(
            x, u, G, F, fix_F, update_F, robust, alpha, robust_after, max_iter, tol, window
        )
        return G, F, q, conv, iters
    if method != "ls-nmf":
        raise ValueError(f"unknown PMF method {method!r} (hals, ls-nmf)")
    return _lsnmf_batch(x, u, G, F, robust, alpha, robust_after, max_iter, tol, window, fix_F)


def _lsnmf_batch(x, u, G, F, robust, alpha, robust_after, max_iter, tol, window, fix_F):
    """Multiplicative LS-NMF updates in numpy (converged starts leave the batch)."""
    G, F = G.copy(), F.copy()
    B = G.shape[0]
    missing = ~np.isfinite(x)
    x0 = np.where(missing, 0.0, x)
    w_base = np.where(missing, 0.0, 1.0 / (u * u))
    q_out = np.full(B, np.nan)
    conv = np.zeros(B, bool)
    iters = np.zeros(B, int)
    active = np.arange(B)
    Ga, Fa, fixa = G, F, fix_F
    R = x0 - Ga @ Fa
    history: list[np.ndarray] = []
    for it in range(max_iter):
        use_robust = robust and it >= robust_after
        if use_robust:
            ur = robust_uncertainty(R, u, alpha)
            w = np.where(missing, 0.0, 1.0 / (ur * ur))
        else:
            w = w_base
        Ga, Fa, R = _sweep_lsnmf(x0, w, Ga, Fa)
        if fixa is not None:
            Fa = np.where(np.isnan(fixa), Fa, fixa)
            R = x0 - Ga @ Fa
        r = np.where(missing, 0.0, np.abs(R) / u)
        q = (np.where(r > alpha, alpha * r, r * r) if use_robust else r * r).sum(axis=(1, 2))
        history.append(q)
        done = np.zeros(len(active), bool)
        if len(history) > window:
            history.pop(0)
            judged = not robust or it >= robust_after + window
            done = judged & ((history[0] - history[-1]) < tol)
        last = it == max_iter - 1
        if done.any() or last:
            stop = done | last
            idx = active[stop]
            G[idx], F[idx], q_out[idx] = Ga[stop], Fa[stop], q[stop]
            conv[idx] = done[stop]
            iters[idx] = it + 1
            keep = ~stop
            active, Ga, Fa, R = active[keep], Ga[keep], Fa[keep], R[keep]
            if fixa is not None:
                fixa = fixa[keep]
            history = [h[keep] for h in history]
            if not len(active):
                break
    return G, F, q_out, conv, iters


def fit_pmf(
    x: np.ndarray,
    u: np.ndarray,
    factors: int,
    starts: int = 20,
    seed: int = 42,
    method: str = "hals",
    robust: bool = True,
    alpha: float = 4.0,
    max_iter: int = 20000,
    tol: float = 0.01,
    window: int = 50,
    species: list[str] | None = None,
    samples: list[str] | None = None,
    keep_all: bool = True,
) -> PMFResult:
    """Fit PMF from ``starts`` random starts and return the best run by Q(robust).

    Parameters
    ----------
    x : numpy.ndarray
        ``n x m`` concentrations (pre-processed: below-detection and missing values substituted,
        bad species removed; see :mod:`models.pmf.prep`). NaN cells get zero weight.
    u : numpy.ndarray
        ``n x m`` uncertainties, all > 0 (weak species already multiplied).
    factors : int
        Number of factors ``p``.
    seed : int
        Seed of the batch; start ``b`` uses the ``b``-th child seed (reported per run).
    """
    x = np.asarray(x, float)
    u = np.asarray(u, float)
    if x.shape != u.shape:
        raise ValueError(f"concentrations {x.shape} and uncertainties {u.shape} differ in shape")
    if not np.all(np.isfinite(u)) or np.any(u <= 0):
        raise ValueError("uncertainties must be finite and > 0 (see models.pmf.prep)")
    if factors < 1 or factors >= min(x.shape):
        raise ValueError(f"factors must be between 1 and {min(x.shape) - 1}, got {factors}")
    G0, F0, seeds = _initial(x, factors, starts, seed)
    G, F, _, conv, iters = optimise(
        x, u, G0, F0, method, robust, alpha, max_iter=max_iter, tol=tol, window=window
    )
    runs = []
    for b in range(starts):
        qt, qr = q_values(x, u, G[b], F[b], alpha)
        runs.append(PMFRun(seeds[b], qt, qr, bool(conv[b]), int(iters[b])))
    best = int(np.argmin([r.q_robust for r in runs]))
    n, m = x.shape
    return PMFResult(
        G=G[best],
        F=F[best],
        q_true=runs[best].q_true,
        q_robust=runs[best].q_robust,
        q_exp=q_expected(n, m, factors),
        runs=runs,
        best=best,
        species=list(species) if species is not None else [f"s{j}" for j in range(m)],
        samples=list(samples) if samples is not None else [str(i) for i in range(n)],
        settings={
            "factors": factors,
            "starts": starts,
            "seed": seed,
            "method": method,
            "robust": robust,
            "alpha": alpha,
            "max_iter": max_iter,
            "tol": tol,
            "window": window,
        },
        all_G=G if keep_all else None,
        all_F=F if keep_all else None,
    )
