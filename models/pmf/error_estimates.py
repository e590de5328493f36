"""PMF error estimation and rotation: block bootstrap (BS), displacement (DISP), Fpeak.

Following Paatero, Eberly, Brown & Norris (2014, AMT 7:781) as implemented in EPA PMF 5.0:

* **Factor matching** (:func:`match_factors`, the one implementation both BS and DISP use): a
  factor of another solution *maps* to the reference factor whose contributions it correlates
  with best (Pearson r over the same samples) when that r is at least ``threshold`` (PMF5's
  default 0.6), else it is unmapped; several factors may map to one reference factor. Profiles
  are not compared: when one or two species carry most of the mass, different factors have
  near-identical concentration profiles (cosine 0.99 on Baton Rouge) but distinct time series.
* **BS**: blocks of consecutive samples are resampled with replacement; each replicate is refit
  starting from the base F and its factors are matched to the base factors on the resampled rows.
  Reported: the mapping table (base factor x bootstrap factor counts, plus unmapped), the share of
  replicates in which each base factor was mapped, profile percentiles and the Q distribution.
  Profiles are on the scale of the profile table (:func:`models.pmf.report.normalise`: every
  replicate's contributions normalised to a mean of 1, concentration units).
* **DISP**: every element of F (on the profile table's scale) is displaced up and down; the rest
  of the model is refit with that element held; the interval for a ``dQmax`` is the largest
  displacement whose Q rises by at most ``dQmax`` (4, 8, 16, 32 as in ESAT). A *swap* is recorded
  when a displaced solution's factors no longer map one to one onto the base factors
  (:func:`match_factors`); any swap at the smallest dQmax means the solution is not well defined.
* **Fpeak**: a global rotation ``G T, T^-1 F`` with ``T = (1 - s) I + (s / p) J``: a positive
  strength ``s`` subtracts a share of the mean profile from every profile (sharper F, more mixed G),
  a negative one the reverse; negatives are clipped, the rotated profiles are held and the
  contributions refit, and Q and dQ (the rotation's cost) are reported. This is a post-hoc
  rotation, not PMF5's penalised Fpeak fit, and its strength is not on PMF5's scale.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment

from models.pmf.core import PMFResult, optimise, q_values
from models.pmf.report import normalise

__all__ = [
    "MATCH_METHOD",
    "BootstrapResult",
    "DisplacementResult",
    "FactorMatch",
    "bootstrap",
    "displacement",
    "match_factors",
]

#: How factors are matched (reported with every mapping and swap table).
MATCH_METHOD = "Pearson r of factor contributions over the same samples (PMF5 bootstrap mapping)"


def _pearson(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson r of every column of ``a`` with every column of ``b`` (-1 where undefined)."""
    a = a - a.mean(axis=0)
    b = b - b.mean(axis=0)
    den = np.outer(np.sqrt((a * a).sum(axis=0)), np.sqrt((b * b).sum(axis=0)))
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (a.T @ b) / den
    return np.where(np.isfinite(r), r, -1.0)


@dataclass(frozen=True)
class FactorMatch:
    """Factors of a solution matched to reference factors by contribution correlation.

    Attributes
    ----------
    r : numpy.ndarray
        ``p_ref x p`` Pearson r [1] of reference factor ``i``'s contributions with factor ``j``'s.
    assigned : numpy.ndarray
        ``p`` ints: the reference factor each factor maps to (highest r), -1 when that r is
        below ``threshold`` (PMF5's mapping; several factors may map to one reference factor).
    order : numpy.ndarray
        ``p_ref`` ints: the one-to-one matching maximising the summed r (Hungarian);
        ``order[i]`` is the factor matched to reference factor ``i``.
    threshold : float
        Smallest r [1] that maps.
    """

    r: np.ndarray
    assigned: np.ndarray
    order: np.ndarray
    threshold: float

    @property
    def r_matched(self) -> np.ndarray:
        """Pearson r [1] of every reference factor with its one-to-one match (``order``)."""
        return self.r[np.arange(len(self.order)), self.order]

    @property
    def swapped(self) -> bool:
        """True unless factor ``k`` maps to reference factor ``k`` for every ``k``."""
        return not np.array_equal(self.assigned, np.arange(len(self.assigned)))

    def best_for_reference(self) -> np.ndarray:
        """For every reference factor, the mapped factor with the highest r (-1: none maps)."""
        out = np.full(self.r.shape[0], -1)
        for i in range(self.r.shape[0]):
            cand = np.flatnonzero(self.assigned == i)
            if len(cand):
                out[i] = cand[np.argmax(self.r[i, cand])]
        return out


def match_factors(G_ref: np.ndarray, G: np.ndarray, *, threshold: float = 0.6) -> FactorMatch:
    """Match the factors of ``G`` to those of ``G_ref`` by the correlation of contributions.

    Parameters
    ----------
    G_ref : numpy.ndarray
        ``n x p_ref`` reference contributions (any scale; r is scale-free).
    G : numpy.ndarray
        ``n x p`` contributions of the other solution over the same samples (rows aligned).
    threshold : float, optional
        Smallest Pearson r [1] for a factor to map (PMF5's default 0.6).

    Returns
    -------
    FactorMatch
        r matrix, PMF5 mapping (``assigned``), one-to-one matching (``order``).
    """
    G_ref = np.asarray(G_ref, float)
    G = np.asarray(G, float)
    if G_ref.ndim != 2 or G.ndim != 2 or G_ref.shape[0] != G.shape[0]:
        raise ValueError(
            f"contributions must be samples x factors over the same samples, got {G_ref.shape} "
            f"and {G.shape}"
        )
    r = _pearson(G_ref, G)
    best = r.argmax(axis=0)
    assigned = np.where(r[best, np.arange(r.shape[1])] >= threshold, best, -1)
    rows, cols = linear_sum_assignment(-r)
    order = np.full(r.shape[0], -1)
    order[rows] = cols
    return FactorMatch(r=r, assigned=assigned, order=order, threshold=float(threshold))


@dataclass
class BootstrapResult:
    """Block-bootstrap replicates of a base solution.

    Attributes
    ----------
    F : numpy.ndarray
        ``R x p x m`` profiles [input units, the profile table's scale] of the bootstrap factor
        mapped to each base factor (the best-correlated one when several map); NaN rows where
        no bootstrap factor mapped to that base factor.
    base_F : numpy.ndarray
        ``p x m`` base profiles on the same scale (the profile table).
    q : numpy.ndarray
        ``R`` minimised objective of every replicate (Q(robust) in robust mode).
    counts : numpy.ndarray
        ``p x p`` ints: replicates in which bootstrap factor ``j`` mapped to base factor ``i``.
    unmapped_base : numpy.ndarray
        ``p`` ints: replicates in which no bootstrap factor mapped to base factor ``i``.
    unmapped_boot : numpy.ndarray
        ``p`` ints: replicates in which bootstrap factor ``j`` mapped to no base factor.
    r : numpy.ndarray
        ``R x p x p`` contribution correlations [1] (base ``i``, bootstrap ``j``).
    block : int
        Block length [samples].
    threshold : float
        Smallest r [1] that maps.
    """

    F: np.ndarray
    base_F: np.ndarray
    q: np.ndarray
    counts: np.ndarray
    unmapped_base: np.ndarray
    unmapped_boot: np.ndarray
    r: np.ndarray
    block: int
    threshold: float

    @property
    def replicates(self) -> int:
        """Number of bootstrap replicates."""
        return len(self.q)

    @property
    def mapped_percent(self) -> np.ndarray:
        """Share of replicates [%] in which a bootstrap factor mapped to each base factor."""
        return 100.0 * (self.replicates - self.unmapped_base) / max(self.replicates, 1)

    @property
    def mapping(self) -> pd.DataFrame:
        """PMF5's mapping table: base factors x bootstrap factors (counts), plus unmapped.

        One row per base factor (``factor_1`` ...) with the count of replicates in which each
        bootstrap factor (``boot_factor_1`` ...) mapped to it, ``unmapped`` (replicates in which
        none did) and ``mapped_percent`` [%]; a last row ``unmapped`` counts, per bootstrap
        factor, the replicates in which it mapped to no base factor (r below ``threshold``).
        """
        p = self.counts.shape[0]
        boot = [f"boot_factor_{j + 1}" for j in range(p)]
        rows = [
            {
                "base_factor": f"factor_{i + 1}",
                **dict(zip(boot, self.counts[i].tolist(), strict=True)),
                "unmapped": int(self.unmapped_base[i]),
                "mapped_percent": float(self.mapped_percent[i]),
            }
            for i in range(p)
        ]
        rows.append(
            {
                "base_factor": "unmapped",
                **dict(zip(boot, self.unmapped_boot.tolist(), strict=True)),
                "unmapped": None,
                "mapped_percent": None,
            }
        )
        return pd.DataFrame(rows).astype({c: "Int64" for c in [*boot, "unmapped"]})

    def profile_percentiles(
        self, species: list[str], q: tuple[float, ...] = (5, 25, 50, 75, 95)
    ) -> pd.DataFrame:
        """Percentiles of each factor's profile over the mapped replicates (long table).

        Parameters
        ----------
        species : list of str
            Species names (the columns of F).
        q : tuple of float, optional
            Percentiles [%].

        Returns
        -------
        pandas.DataFrame
            ``factor``, ``species``, ``base`` (the profile table's value), ``p5`` ... [input
            units], ``n`` (mapped replicates) and ``base_within_p5_p95`` (when 5 and 95 are
            among ``q``).
        """
        rows = []
        for k in range(self.F.shape[1]):
            for j, s in enumerate(species):
                v = self.F[:, k, j][np.isfinite(self.F[:, k, j])]
                pc = np.percentile(v, q) if len(v) else [np.nan] * len(q)
                rows.append(
                    {
                        "factor": k + 1,
                        "species": s,
                        "base": float(self.base_F[k, j]),
                        **{f"p{p:g}": float(x) for p, x in zip(q, pc, strict=True)},
                        "n": len(v),
                    }
                )
        table = pd.DataFrame(rows)
        if "p5" in table and "p95" in table:
            tol = 1e-9 * np.abs(self.base_F).max()
            table["base_within_p5_p95"] = (table["base"] >= table["p5"] - tol) & (
                table["base"] <= table["p95"] + tol
            )
        return table


def bootstrap(
    x: np.ndarray,
    u: np.ndarray,
    base: PMFResult,
    replicates: int = 100,
    block: int | None = None,
    threshold: float = 0.6,
    seed: int = 1,
    max_iter: int = 2000,
) -> BootstrapResult:
    """Block bootstrap of the base solution (PMF5: 100 replicates, r >= 0.6 maps).

    Parameters
    ----------
    x, u : numpy.ndarray
        ``n x m`` concentrations and uncertainties the base solution was fitted to.
    base : PMFResult
        The base solution.
    replicates : int, optional
        Number of bootstrap replicates (PMF5's default 100).
    block : int, optional
        Block length [samples] (default ``round(n^(1/3))``).
    threshold : float, optional
        Smallest contribution correlation [1] that maps (:func:`match_factors`).
    seed : int, optional
        Seed of the resampling.
    max_iter : int, optional
        Sweeps per replicate at most.

    Returns
    -------
    BootstrapResult
        Mapping table, mapped profiles on the profile table's scale, Q per replicate.
    """
    n, m = x.shape
    p = base.factors
    block = int(block or max(1, round(n ** (1 / 3))))
    rng = np.random.default_rng(seed)
    idx = np.empty((replicates, n), int)
    for r in range(replicates):
        starts = rng.integers(0, n - block + 1, int(np.ceil(n / block)))
        idx[r] = np.concatenate([np.arange(s, s + block) for s in starts])[:n]
    # replicates differ in rows, so they are fitted in turn, each as a batch of one start from the
    # base F (the kernel parallelises over starts only)
    Fm = np.full((replicates, p, m), np.nan)
    q = np.full(replicates, np.nan)
    rr = np.full((replicates, p, p), np.nan)
    counts = np.zeros((p, p), int)
    unmapped_base = np.zeros(p, int)
    unmapped_boot = np.zeros(p, int)
    s = base.settings
    for r in range(replicates):
        xr, ur = x[idx[r]], u[idx[r]]
        G0, F0 = base.G[idx[r]][None], base.F[None]
        G, F, qq, _, _ = optimise(
            xr, ur, G0, F0, "hals", s.get("robust", True), s.get("alpha", 4.0), max_iter=max_iter
        )
        q[r] = qq[0]
        match = match_factors(base.G[idx[r]], G[0], threshold=threshold)
        rr[r] = match.r
        for j, i in enumerate(match.assigned):
            if i >= 0:
                counts[i, j] += 1
            else:
                unmapped_boot[j] += 1
        _, Fn, _ = normalise(G[0], F[0])  # the replicate on the profile table's scale
        for i, j in enumerate(match.best_for_reference()):
            if j >= 0:
                Fm[r, i] = Fn[j]
            else:
                unmapped_base[i] += 1
    return BootstrapResult(
        F=Fm,
        base_F=normalise(base.G, base.F)[1],
        q=q,
        counts=counts,
        unmapped_base=unmapped_base,
        unmapped_boot=unmapped_boot,
        r=rr,
        block=block,
        threshold=float(threshold),
    )


@dataclass
class DisplacementResult:
    """DISP intervals per factor and species, swap table per dQmax.

    Attributes
    ----------
    intervals : pandas.DataFrame
        ``factor``, ``species``, ``dq_max``, ``base``, ``low``, ``high``: the profile element and
        its interval [input units, the profile table's scale].
    swaps : pandas.DataFrame
        ``dq_max`` and ``factor_k``: displacements of factor k's elements (up and down, so at
        most ``2 m``) that swapped factors within the accepted range.
    largest_dq_decrease : float
        Largest fall of Q below the base Q over every displacement (a large *decrease* means the
        base run was not a minimum).
    """

    intervals: pd.DataFrame
    swaps: pd.DataFrame
    largest_dq_decrease: float

    @property
    def well_defined(self) -> bool:
        """No swap at the smallest dQmax (PMF5: otherwise the solution is not well defined)."""
        first = self.swaps.sort_values("dq_max").iloc[0]
        return int(first.drop("dq_max").sum()) == 0

    def summary(self) -> pd.DataFrame:
        """PMF5's DISP summary: per dQmax, swaps per factor, their total and the Q decrease."""
        table = self.swaps.copy()
        cols = [c for c in table.columns if c.startswith("factor_")]
        table["total_swaps"] = table[cols].sum(axis=1)
        table["largest_dq_decrease"] = self.largest_dq_decrease
        table["match"] = MATCH_METHOD
        return table


def displacement(
    x: np.ndarray,
    u: np.ndarray,
    base: PMFResult,
    dq_max: tuple[float, ...] = (4, 8, 16, 32),
    *,
    max_iter: int = 400,
    tol: float = 0.02,
    window: int = 10,
    max_search: int = 3,
    rel_tol: float = 0.2,
    up_cap: float = 10.0,
    threshold: float = 0.6,
) -> DisplacementResult:
    """PMF 5.0's DISP: displace every profile element down and up to each dQmax and refit.

    The search is BS-DISP's (:mod:`models.pmf.bsdisp`, one implementation of the displacement):
    the base solution is refit on the profile table's scale (contributions at a mean of 1, kept
    there during every refit so a held element cannot be absorbed by rescaling its factor;
    :func:`models.pmf.constrained.normalised_reference`), then for each element, direction and
    dQmax a bracketing secant on ``sqrt(dQ)`` finds the largest displacement whose refit (the
    element held, everything else free) raises the objective by at most dQmax (within
    ``rel_tol``; at most ``max_search`` refits per level), all elements as one compiled batch.
    Swaps: :func:`match_factors` on the contributions of the displaced and the base solution.

    Parameters
    ----------
    x, u : numpy.ndarray
        ``n x m`` concentrations and uncertainties the base was fitted to [data units].
    base : PMFResult
        Base solution; its robust / alpha settings are used.
    dq_max : tuple of float, optional
        dQmax levels [Q units], ascending (PMF 5.0: 4, 8, 16, 32).
    max_iter, tol, window : int, float, int, optional
        Convergence of the reference and of every displaced refit (``tol`` [Q units] over
        ``window`` sweeps, at most ``max_iter`` sweeps).
    max_search, rel_tol : int, float, optional
        Refits per element, direction and level; accepted band ``[(1 - rel_tol) L, L]``.
    up_cap : float, optional
        Largest upward displacement, in multiples of the species' largest profile value.
    threshold : float, optional
        Contribution correlation below which a displaced factor counts as swapped.

    Returns
    -------
    DisplacementResult
        Intervals [data units] (``base``: the element of the reference refit), swaps per level
        and the largest decrease of Q seen.
    """
    from models.pmf.bsdisp import _disp_one
    from models.pmf.constrained import normalised_reference

    levels = tuple(float(v) for v in dq_max)
    if list(levels) != sorted(levels) or levels[0] <= 0:
        raise ValueError(f"dq_max must be positive and ascending (got {dq_max})")
    p, m = base.F.shape
    robust, alpha = bool(base.settings.get("robust", True)), float(base.settings.get("alpha", 4.0))
    G0, F0, q0 = normalised_reference(x, u, base, max_iter=5000, tol=0.01, window=20)
    r = _disp_one(
        x, u, G0, F0, q0, levels, robust, alpha, max_iter, tol, window, max_search, rel_tol,
        up_cap, np.arange(m), threshold,
    )  # fmt: skip
    rows, swap_rows = [], []
    for lv, level in enumerate(levels):
        lo, hi = F0.copy(), F0.copy()
        for b in range(len(r["k"])):
            k, j = r["k"][b], r["j"][b]
            if r["up"][b]:
                hi[k, j] = r["v0"][b] + r["delta"][lv, b]
            else:
                lo[k, j] = max(r["v0"][b] - r["delta"][lv, b], 0.0)
        swaps = np.bincount(r["k"][r["swap"][lv]], minlength=p)
        rows += [
            {
                "factor": k + 1,
                "species": base.species[j],
                "dq_max": level,
                "base": F0[k, j],
                "low": lo[k, j],
                "high": hi[k, j],
            }
            for k in range(p)
            for j in range(m)
        ]
        swap_rows.append({"dq_max": level, **{f"factor_{k + 1}": int(swaps[k]) for k in range(p)}})
    return DisplacementResult(
        intervals=pd.DataFrame(rows),
        swaps=pd.DataFrame(swap_rows),
        largest_dq_decrease=float(-min(0.0, r["min_dq"])),
    )


def _objective(x, u, G, F, robust, alpha) -> float:
    qt, qr = q_values(x, u, G, F, alpha)
    return qr if robust else qt
