"""BS-DISP: displacement (DISP) inside every bootstrap (BS) replicate (Brown et al. 2015).

EPA PMF 5.0's combined error estimate (Paatero, Eberly, Brown & Norris 2014, AMT 7:781; Brown,
Eberly, Paatero & Norris 2015, Sci. Total Environ. 518:626) captures random *and* rotational
uncertainty:

1. **BS stage** - blocks of consecutive samples are resampled with replacement (the scheme of
   :func:`models.pmf.error_estimates.bootstrap`: same block length, same seeded draws, so
   replicate ``r`` uses the same rows as that function), each replicate is refit starting from
   the base profiles, and its factors are mapped to the base factors by the Pearson correlation
   of their contributions on the resampled rows (Hungarian assignment, ``r >= threshold``). A
   replicate with a factor below the threshold counts as a *swap in the best fit*.
2. **DISP stage** - on every replicate's own data set and fit, each profile element is displaced
   down and up and the rest of the model refit with that element held, until the rise of the
   objective (Q(robust) in robust mode) reaches each ``dQmax`` of PMF 5.0's BS-DISP levels
   **0.5, 1, 2, 4** (DISP alone uses 4, 8, 16, 32). A displaced solution is a *DISP swap* of the
   displaced factor when its factors no longer map one to one onto the replicate's factors
   (:func:`models.pmf.error_estimates.match_factors`, the contribution-correlation match that BS
   and DISP share).
3. **Acceptance** - a replicate is *accepted* at a level when its best fit has no swap, no DISP
   swap occurred at that level, and no displaced refit lowered Q by more than ``max_q_drop``
   (a decrease means the replicate fit was not a minimum). Only accepted replicates enter the
   BS-DISP intervals; PMF5's guidance reads "% of cases accepted" and the swap counts: swaps at
   the smallest levels mean the solution is not well defined.

Every refit keeps each factor's contributions at a mean of 1 (the profile table's scale; without
it a held profile element is absorbed by rescaling its factor and dQ stays ~0). The search for
each dQmax is a bracketing secant on ``sqrt(dQ)`` (about linear in the displacement near the
minimum), warm-started from the last accepted displacement; all elements of a replicate are
fitted as one batch by the compiled penalised HALS kernel
(:func:`models.pmf.kernels.penalised_batch` with held cells). It replaces the fixed
step grid of :func:`models.pmf.error_estimates.displacement` (13 refits per element to 200 sweeps,
~4 minutes per data set on Baton Rouge) by about 8 short refits per element and direction.

Intervals are on the scale of the profile table (:func:`models.pmf.report.profile_tables`): each
replicate's contributions have a mean of 1 over its rows, so profile values are concentrations
[data units, e.g. ug/m3 or ppbC].
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from models.pmf.core import PMFResult, optimise, robust_uncertainty
from models.pmf.error_estimates import match_factors
from models.pmf.kernels import penalised_batch

__all__ = ["BSDISP_LEVELS", "BSDISPResult", "block_rows", "bsdisp"]

#: PMF 5.0's BS-DISP dQmax levels [Q units].
BSDISP_LEVELS: tuple[float, ...] = (0.5, 1.0, 2.0, 4.0)

_FLOOR = 1e-12


def block_rows(n: int, replicates: int, block: int, seed: int) -> np.ndarray:
    """Row indices of block-bootstrap replicates, drawn as :func:`~models.pmf.error_estimates.bootstrap`.

    Parameters
    ----------
    n : int
        Number of samples.
    replicates : int
        Number of replicates.
    block : int
        Block length [samples].
    seed : int
        Seed of the draws.

    Returns
    -------
    numpy.ndarray
        ``replicates x n`` row indices (blocks of consecutive rows, cut to ``n``).
    """
    rng = np.random.default_rng(seed)
    idx = np.empty((replicates, n), int)
    for r in range(replicates):
        starts = rng.integers(0, n - block + 1, int(np.ceil(n / block)))
        idx[r] = np.concatenate([np.arange(s, s + block) for s in starts])[:n]
    return idx


@dataclass
class BSDISPResult:
    """BS-DISP of a base solution.

    Attributes
    ----------
    intervals : pandas.DataFrame
        One row per factor (base numbering, 1-based), species and dQmax: ``base`` (the profile
        table's value), ``low`` / ``high`` (smallest lower and largest upper DISP end over the
        accepted replicates), ``low_p5`` / ``high_p95`` (5th percentile of lower ends, 95th of
        upper ends), ``n_accepted``; all profile values in data units (profile-table scale).
    swaps : pandas.DataFrame
        Per dQmax: DISP swap counts per base factor (``factor_k``, summed over replicates and
        displaced elements), ``trials`` (displacements per factor), ``accepted`` (replicates
        accepted at that level) and ``accepted_percent`` [%].
    summary : dict
        ``replicates``, ``block``, ``best_fit_swaps`` (replicates whose fit did not map one to
        one to the base), ``disp_swap_replicates`` (replicates with any DISP swap),
        ``largest_q_decrease`` [Q units, >= 0], ``q_decreases`` (replicates with a decrease
        beyond ``max_q_drop``), ``seconds`` [s].
    mapping : pandas.DataFrame
        Replicate x base factor: the replicate's factor assigned (0-based) and its correlation.
    q : numpy.ndarray
        Objective of each replicate's fit (before DISP) [Q units].
    """

    intervals: pd.DataFrame
    swaps: pd.DataFrame
    summary: dict
    mapping: pd.DataFrame
    q: np.ndarray
    settings: dict = field(default_factory=dict)


def _objective_robust(settings: dict) -> tuple[bool, float]:
    return bool(settings.get("robust", True)), float(settings.get("alpha", 4.0))


def _disp_one(
    x: np.ndarray,
    u: np.ndarray,
    G: np.ndarray,
    F: np.ndarray,
    q0: float,
    levels: tuple[float, ...],
    robust: bool,
    alpha: float,
    max_iter: int,
    tol: float,
    window: int,
    max_search: int,
    rel_tol: float,
    up_cap: float,
    cols: np.ndarray,
    threshold: float,
) -> dict:
    """DISP of one data set around its converged fit ``G, F`` (objective ``q0``).

    Returns per level ``L`` (index ``l``) and element/direction ``b`` the accepted displacement
    ``delta[l, b]`` (>= 0) and the swap flag of the solution that defines it, plus the smallest
    dQ seen. Items are ``b = d * p * mc + k * mc + c`` (``c``-th of the displaced species
    ``cols``) with ``d = 0`` down, ``1`` up.
    """
    n, m = x.shape
    p = F.shape[0]
    mc = len(cols)
    nb = 2 * p * mc
    nl = len(levels)
    kk = np.tile(np.repeat(np.arange(p), mc), 2)
    jj = np.tile(cols, 2 * p)
    up = np.repeat([False, True], p * mc)
    v0 = F[kk, jj]
    # curvature of Q along the element with everything else held: an upper bound of the
    # profile dQ, so sqrt(L) / a underestimates the displacement that reaches level L
    ur = robust_uncertainty(x - G @ F, u, alpha) if robust else u
    w = np.where(np.isfinite(x), 1.0 / (ur * ur), 0.0)
    a_fix = np.sqrt(np.maximum((G * G).T @ w, 1e-300))[kk, jj]  # p x m -> items
    cap = np.where(
        up, up_cap * F.max(axis=0)[jj], v0
    )  # largest displacement allowed (down: to zero)
    lo_d = np.zeros(nb)  # largest evaluated displacement with dQ <= current level
    lo_q = np.zeros(nb)
    hi_d = np.full(nb, np.inf)  # smallest evaluated displacement with dQ > current level
    hi_q = np.full(nb, np.inf)
    lo_G = np.repeat(G[None], nb, 0)
    lo_F = np.repeat(F[None], nb, 0)
    lo_swap = np.zeros(nb, bool)
    level = np.zeros(nb, int)  # index of the level being searched
    tries = np.zeros(nb, int)
    delta = np.zeros((nl, nb))
    swap = np.zeros((nl, nb), bool)
    min_dq = 0.0
    evaluations = 0

    def close_level(b: np.ndarray) -> None:
        lv = level[b]
        delta[lv, b] = lo_d[b]
        swap[lv, b] = lo_swap[b]
        level[b] += 1
        tries[b] = 0
        # the upper bracket may still bound the next level
        nxt = level[b] < nl
        bb = b[nxt]
        lv2 = level[bb]
        keep = hi_q[bb] > np.asarray(levels)[lv2]
        hi_d[bb[~keep]] = np.inf
        hi_q[bb[~keep]] = np.inf

    for _ in range(nl * (max_search + 2)):
        active = np.flatnonzero(level < nl)
        if not len(active):
            break
        L = np.asarray(levels)[level[active]]
        # items already at their bound (zero, or the upward cap) with dQ <= L close at once
        at_cap = lo_d[active] >= cap[active] * (1 - 1e-12)
        while at_cap.any():
            close_level(active[at_cap])
            active = np.flatnonzero(level < nl)
            at_cap = lo_d[active] >= cap[active] * (1 - 1e-12)
        if not len(active):
            break
        L = np.asarray(levels)[level[active]]
        ld, lq, hd, hq = lo_d[active], lo_q[active], hi_d[active], hi_q[active]
        target = np.sqrt(L * (1 - rel_tol / 2))
        with np.errstate(divide="ignore", invalid="ignore"):
            slope = np.where(lq > 1e-3 * L, np.sqrt(np.maximum(lq, 0)) / ld, 0.5 * a_fix[active])
            extra = target / slope
            interp = ld + (target - np.sqrt(np.maximum(lq, 0))) / (
                np.sqrt(hq) - np.sqrt(np.maximum(lq, 0))
            ) * (hd - ld)
        prop = np.where(np.isfinite(hd), interp, extra)
        bad = ~np.isfinite(prop) | (prop <= ld)
        prop = np.where(bad, np.where(np.isfinite(hd), 0.5 * (ld + hd), 2 * ld + 1e-12), prop)
        inside = np.isfinite(hd)
        if inside.any():  # stay strictly inside the bracket
            span = np.where(inside, hd - ld, 0.0)
            prop = np.where(inside, np.clip(prop, ld + 0.05 * span, ld + 0.95 * span), prop)
        prop = np.minimum(prop, cap[active])
        vals = np.where(up[active], v0[active] + prop, v0[active] - prop)
        vals = np.maximum(vals, 0.0)
        fix = np.full((len(active), p, m), np.nan)
        fix[np.arange(len(active)), kk[active], jj[active]] = vals
        F0 = lo_F[active].copy()
        F0[np.arange(len(active)), kk[active], jj[active]] = vals
        Gs, Fs, qs, _, _, _ = penalised_batch(
            x,
            u,
            lo_G[active],
            F0,
            fix_F=fix,
            robust=robust,
            alpha=alpha,
            max_iter=max_iter,
            tol=tol,
            window=window,
        )
        evaluations += len(active)
        dq = qs - q0
        min_dq = min(min_dq, float(dq.min()))
        sw = np.array(
            [match_factors(G, Gs[i], threshold=threshold).swapped for i in range(len(active))]
        )
        tries[active] += 1
        ok = dq <= L
        # accepted evaluation: new lower bracket (and warm start)
        ia = active[ok]
        lo_d[ia], lo_q[ia] = prop[ok], np.maximum(dq[ok], 0.0)
        lo_G[ia], lo_F[ia], lo_swap[ia] = Gs[ok], Fs[ok], sw[ok]
        ir = active[~ok]
        hi_d[ir], hi_q[ir] = prop[~ok], dq[~ok]
        found = ok & (dq >= (1 - rel_tol) * L)
        spent = tries[active] >= max_search
        done = found | spent | (ok & (prop >= cap[active] * (1 - 1e-12)))
        if done.any():
            close_level(active[done])
    # levels never closed (loop bound): keep what was found
    for b in np.flatnonzero(level < nl):
        for lv in range(level[b], nl):
            delta[lv, b] = lo_d[b]
            swap[lv, b] = lo_swap[b]
    return {
        "delta": delta,
        "swap": swap,
        "k": kk,
        "j": jj,
        "up": up,
        "v0": v0,
        "min_dq": min_dq,
        "evaluations": evaluations,
    }


def bsdisp(
    x: np.ndarray,
    u: np.ndarray,
    base: PMFResult,
    *,
    replicates: int = 20,
    block: int | None = None,
    threshold: float = 0.6,
    seed: int = 1,
    dq_max: tuple[float, ...] = BSDISP_LEVELS,
    bs_max_iter: int = 2000,
    disp_max_iter: int = 400,
    tol: float = 0.02,
    window: int = 10,
    max_search: int = 3,
    rel_tol: float = 0.2,
    max_q_drop: float | None = None,
    up_cap: float = 10.0,
    species: Sequence[str | int] | None = None,
) -> BSDISPResult:
    """BS-DISP error estimate of a base PMF solution (PMF 5.0's levels by default).

    Parameters
    ----------
    x, u : numpy.ndarray
        ``n x m`` concentrations and uncertainties the base was fitted to [data units].
    base : PMFResult
        The base solution (:func:`models.pmf.core.fit_pmf`); its robust/alpha settings are used.
    replicates : int, optional
        Bootstrap replicates (PMF 5.0 suggests 100).
    block : int, optional
        Block length [samples]; default as :func:`models.pmf.error_estimates.bootstrap`
        (``round(n ** (1/3))``).
    threshold : float, optional
        Smallest contribution correlation for a replicate factor to map to a base factor.
    seed : int, optional
        Seed of the resampling (same draws as ``bootstrap(..., seed=seed)``).
    dq_max : tuple of float, optional
        dQmax levels [Q units], ascending.
    bs_max_iter : int, optional
        Sweeps at most for each replicate's fit.
    disp_max_iter : int, optional
        Sweeps at most for each displaced refit.
    tol, window : float, int, optional
        Convergence of the reference polish and of every displaced refit: the objective falls by
        less than ``tol`` [Q units] over ``window`` sweeps.
    max_search : int, optional
        Refits at most per element, direction and level (bracketing secant on ``sqrt(dQ)``).
    rel_tol : float, optional
        A displacement is found when its dQ lies in ``[(1 - rel_tol) L, L]``.
    max_q_drop : float, optional
        A replicate whose displaced refits lower Q by more than this [Q units] is not accepted
        (default: the smallest level).
    up_cap : float, optional
        Upward displacements stop at ``up_cap`` times the species' largest profile value of the
        replicate (an element that reaches it is reported at the cap).
    species : sequence of str or int, optional
        Displace only these species (names or column indices; PMF5 and ESAT let the analyst
        choose); the others have no interval (NaN). Default: all.

    Returns
    -------
    BSDISPResult
        Intervals, swap table with % of cases accepted, summary and the replicate mapping.
    """
    import time

    t0 = time.perf_counter()
    x = np.asarray(x, float)
    u = np.asarray(u, float)
    levels = tuple(sorted(float(v) for v in dq_max))
    max_q_drop = levels[0] if max_q_drop is None else float(max_q_drop)
    n, m = x.shape
    p = base.factors
    robust, alpha = _objective_robust(base.settings)
    block = int(block or max(1, round(n ** (1 / 3))))
    rows = block_rows(n, replicates, block, seed)
    if species is None:
        cols = np.arange(m)
    else:
        cols = np.array(
            [
                base.species.index(str(s)) if not isinstance(s, (int, np.integer)) else int(s)
                for s in species
            ]
        )
    nl = len(levels)
    lows = np.full((replicates, nl, p, m), np.nan)  # base factor order, profile-table scale
    highs = np.full((replicates, nl, p, m), np.nan)
    accepted = np.zeros((replicates, nl), bool)
    swap_counts = np.zeros((nl, p), int)
    q_fit = np.full(replicates, np.nan)
    map_rows = []
    best_fit_swaps = disp_swap_reps = q_decreases = 0
    largest_decrease = 0.0
    for r in range(replicates):
        xr, ur = x[rows[r]], u[rows[r]]
        # BS stage, as error_estimates.bootstrap: refit from the base F, map by contributions
        G, F, qq, _, _ = optimise(
            xr, ur, base.G[rows[r]][None], base.F[None], "hals", robust, alpha, max_iter=bs_max_iter
        )
        q_fit[r] = qq[0]
        fm = match_factors(base.G[rows[r]], G[0], threshold=threshold)
        order, corr = fm.order, fm.r_matched
        fit_ok = bool((corr >= threshold).all())
        best_fit_swaps += not fit_ok
        for k in range(p):
            map_rows.append(
                {"replicate": r, "factor": k + 1, "assigned": int(order[k]), "r": corr[k]}
            )
        # polish with the refits' own settings (G columns at mean 1: the profile-table scale, and
        # no scaling ambiguity for a held element), so that dQ measures the displacement only
        c = G[0].mean(axis=0).clip(1e-300)
        G, F, qq, _, _, _ = penalised_batch(
            xr,
            ur,
            G / c,
            F * c[:, None],
            robust=robust,
            alpha=alpha,
            max_iter=20 * disp_max_iter,
            tol=tol,
            window=window,
        )
        Gr, Fr, q0 = G[0], F[0], float(qq[0])
        d = _disp_one(
            xr,
            ur,
            Gr,
            Fr,
            q0,
            levels,
            robust,
            alpha,
            disp_max_iter,
            tol,
            window,
            max_search,
            rel_tol,
            up_cap,
            cols,
            threshold,
        )
        largest_decrease = max(largest_decrease, -d["min_dq"])
        dropped = -d["min_dq"] > max_q_drop
        q_decreases += dropped
        inv = np.empty(p, int)
        inv[order] = np.arange(p)  # replicate factor -> base factor
        scale = Gr.mean(axis=0)  # 1 after the polish: kept for clarity
        kb = inv[d["k"]]
        any_swap = False
        for lv in range(nl):
            sw = d["swap"][lv]
            np.add.at(swap_counts[lv], kb[sw], 1)
            any_swap |= bool(sw.any())
            accepted[r, lv] = fit_ok and not sw.any() and not dropped
            val = np.where(d["up"], d["v0"] + d["delta"][lv], d["v0"] - d["delta"][lv])
            val = np.maximum(val, 0.0) * scale[d["k"]]
            dn, upm = ~d["up"], d["up"]
            lows[r, lv, kb[dn], d["j"][dn]] = val[dn]
            highs[r, lv, kb[upm], d["j"][upm]] = val[upm]
        disp_swap_reps += any_swap
    base_conc = base.F * base.G.mean(axis=0)[:, None]
    out = []
    for lv, L in enumerate(levels):
        acc = accepted[:, lv]
        lo, hi = lows[acc, lv], highs[acc, lv]
        for k in range(p):
            for j in range(m):
                a, b = lo[:, k, j], hi[:, k, j]
                has = len(a) > 0
                out.append(
                    {
                        "factor": k + 1,
                        "species": base.species[j],
                        "dq_max": L,
                        "base": base_conc[k, j],
                        "low": float(a.min()) if has else np.nan,
                        "high": float(b.max()) if has else np.nan,
                        "low_p5": float(np.percentile(a, 5)) if has else np.nan,
                        "high_p95": float(np.percentile(b, 95)) if has else np.nan,
                        "n_accepted": int(acc.sum()),
                    }
                )
    swaps = pd.DataFrame(
        [
            {
                "dq_max": L,
                **{f"factor_{k + 1}": int(swap_counts[lv, k]) for k in range(p)},
                "trials": 2 * len(cols) * replicates,
                "accepted": int(accepted[:, lv].sum()),
                "accepted_percent": 100.0 * accepted[:, lv].mean(),
            }
            for lv, L in enumerate(levels)
        ]
    )
    summary = {
        "replicates": replicates,
        "block": block,
        "best_fit_swaps": int(best_fit_swaps),
        "disp_swap_replicates": int(disp_swap_reps),
        "largest_q_decrease": float(largest_decrease),
        "q_decreases": int(q_decreases),
        "seconds": round(time.perf_counter() - t0, 2),
    }
    return BSDISPResult(
        intervals=pd.DataFrame(out),
        swaps=swaps,
        summary=summary,
        mapping=pd.DataFrame(map_rows),
        q=q_fit,
        settings={
            "dq_max": levels,
            "threshold": threshold,
            "seed": seed,
            "tol": tol,
            "window": window,
            "max_search": max_search,
            "rel_tol": rel_tol,
            "max_q_drop": max_q_drop,
            "robust": robust,
            "alpha": alpha,
        },
    )
