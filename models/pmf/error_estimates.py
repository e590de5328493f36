"""PMF error estimation and rotation: block bootstrap (BS), displacement (DISP), Fpeak.

Following Paatero, Eberly, Brown & Norris (2014, AMT 7:781) as implemented in EPA PMF 5.0:

* **BS**: blocks of consecutive samples are resampled with replacement; each replicate is refit
  starting from the base F; a replicate factor is *mapped* to the base factor whose contributions
  it correlates with best (Pearson r on the resampled rows) when r >= ``threshold`` (0.6).
  Reported: mapping share per factor, profile percentiles, the Q distribution.
* **DISP**: every element of F is displaced up and down; the rest of the model is refit with that
  element held; the interval for a ``dQmax`` is the largest displacement whose Q rises by at most
  ``dQmax`` (4, 8, 16, 32 as in ESAT). A *swap* is recorded when a displaced solution's factors no
  longer match the base factors one to one (Hungarian matching of profiles); any swap at the
  smallest dQmax means the solution is not well defined.
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

__all__ = [
    "BootstrapResult",
    "DisplacementResult",
    "bootstrap",
    "displacement",
    "fpeak",
    "match_factors",
]


def match_factors(F_ref: np.ndarray, F: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Hungarian matching of profiles by cosine similarity: ``order[k]`` = row of F for ref k."""
    a = F_ref / np.linalg.norm(F_ref, axis=1, keepdims=True).clip(1e-300)
    b = F / np.linalg.norm(F, axis=1, keepdims=True).clip(1e-300)
    cos = a @ b.T
    rows, cols = linear_sum_assignment(-cos)
    order = np.empty(len(rows), int)
    order[rows] = cols
    return order, cos[rows, cols]


@dataclass
class BootstrapResult:
    """Block-bootstrap replicates of a base solution."""

    F: np.ndarray  # R x p x m, mapped to the base factor order (NaN rows: unmapped)
    q: np.ndarray  # R robust objective
    mapping: pd.DataFrame  # factor x (mapped share, unmapped, ...)
    block: int

    def profile_percentiles(self, species: list[str], q=(5, 25, 50, 75, 95)) -> pd.DataFrame:
        """Percentiles of each factor's profile over the mapped replicates (long table)."""
        rows = []
        for k in range(self.F.shape[1]):
            vals = self.F[:, k, :]
            for j, s in enumerate(species):
                v = vals[:, j][np.isfinite(vals[:, j])]
                pc = np.percentile(v, q) if len(v) else [np.nan] * len(q)
                rows.append(
                    {
                        "factor": k + 1,
                        "species": s,
                        **{f"p{p}": x for p, x in zip(q, pc, strict=True)},
                    }
                )
        return pd.DataFrame(rows)


def bootstrap(
    x: np.ndarray,
    u: np.ndarray,
    base: PMFResult,
    replicates: int = 20,
    block: int | None = None,
    threshold: float = 0.6,
    seed: int = 1,
    max_iter: int = 2000,
) -> BootstrapResult:
    """Block bootstrap of the base solution (all replicates fitted as one batch)."""
    n, m = x.shape
    p = base.factors
    block = int(block or max(1, round(n ** (1 / 3))))
    rng = np.random.default_rng(seed)
    idx = np.empty((replicates, n), int)
    for r in range(replicates):
        starts = rng.integers(0, n - block + 1, int(np.ceil(n / block)))
        idx[r] = np.concatenate([np.arange(s, s + block) for s in starts])[:n]
    # one batch per replicate's data: replicates differ in rows, so they are fitted in turn,
    # each as a batch of one start from the base F (the kernel parallelises over starts only)
    Fm = np.full((replicates, p, m), np.nan)
    q = np.full(replicates, np.nan)
    mapped = np.zeros((replicates, p), bool)
    s = base.settings
    for r in range(replicates):
        xr, ur = x[idx[r]], u[idx[r]]
        G0, F0 = base.G[idx[r]][None], base.F[None]
        G, F, qq, _, _ = optimise(
            xr, ur, G0, F0, "hals", s.get("robust", True), s.get("alpha", 4.0), max_iter=max_iter
        )
        q[r] = qq[0]
        g_base = base.G[idx[r]]
        corr = np.corrcoef(np.hstack([g_base, G[0]]).T)[:p, p:]
        corr = np.nan_to_num(corr, nan=-1.0)
        rows, cols = linear_sum_assignment(-corr)
        for k, c in zip(rows, cols, strict=True):
            if corr[k, c] >= threshold:
                Fm[r, k] = F[0, c]
                mapped[r, k] = True
    table = pd.DataFrame(
        {
            "factor": np.arange(1, p + 1),
            "mapped_percent": 100.0 * mapped.mean(axis=0),
            "unmapped": (~mapped).sum(axis=0),
        }
    )
    return BootstrapResult(F=Fm, q=q, mapping=table, block=block)


@dataclass
class DisplacementResult:
    """DISP intervals per factor and species, swap table per dQmax."""

    intervals: pd.DataFrame  # factor, species, dq_max, low, high
    swaps: pd.DataFrame  # dq_max x factor swap counts
    largest_dq_decrease: float  # a large Q *decrease* means the base run was not a minimum


def displacement(
    x: np.ndarray,
    u: np.ndarray,
    base: PMFResult,
    dq_max: tuple[float, ...] = (4, 8, 16, 32),
    up_steps: tuple[float, ...] = (0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0),
    down_steps: tuple[float, ...] = (0.9, 0.75, 0.5, 0.25, 0.1, 0.0),
    max_iter: int = 200,
) -> DisplacementResult:
    """Displace every F element up and down, refit, and read the intervals for each dQmax.

    Upward steps add ``step x`` the species' largest base profile value; downward steps scale
    the element. Each displaced model is refit (G and the free F) from the base solution with
    that element held; every displacement of one step is fitted as one batch.
    """
    p, m = base.F.shape
    s = base.settings
    robust, alpha = s.get("robust", True), s.get("alpha", 4.0)
    q0 = _objective(x, u, base.G, base.F, robust, alpha)
    scale = base.F.max(axis=0)
    cells = [(k, j) for k in range(p) for j in range(m)]
    values = {"up": [], "down": []}
    dqs = {"up": [], "down": []}
    swapped = {"up": [], "down": []}
    for direction, steps in (("up", up_steps), ("down", down_steps)):
        for step in steps:
            fix = np.full((len(cells), p, m), np.nan)
            vals = np.empty(len(cells))
            for b, (k, j) in enumerate(cells):
                vals[b] = (
                    base.F[k, j] + step * scale[j] if direction == "up" else base.F[k, j] * step
                )
                fix[b, k, j] = max(vals[b], 1e-12)
            G0 = np.repeat(base.G[None], len(cells), 0)
            F0 = np.repeat(base.F[None], len(cells), 0)
            F0 = np.where(np.isnan(fix), F0, fix)
            G, F, _, _, _ = optimise(
                x, u, G0, F0, "hals", robust, alpha, robust_after=0, max_iter=max_iter, fix_F=fix
            )
            q = np.array([_objective(x, u, G[b], F[b], robust, alpha) for b in range(len(cells))])
            sw = np.array(
                [
                    not np.array_equal(match_factors(base.F, F[b])[0], np.arange(p))
                    for b in range(len(cells))
                ]
            )
            values[direction].append(vals)
            dqs[direction].append(q - q0)
            swapped[direction].append(sw)
    rows, swap_rows = [], []
    for level in dq_max:
        swaps = np.zeros(p, int)
        for b, (k, j) in enumerate(cells):
            lo_hi = []
            for direction in ("down", "up"):
                ok = [i for i, d in enumerate(dqs[direction]) if d[b] <= level]
                # the steps are monotone in size: take the largest accepted before the first refused
                last = -1
                for i in range(len(dqs[direction])):
                    if i in ok:
                        last = i
                    else:
                        break
                lo_hi.append(values[direction][last][b] if last >= 0 else base.F[k, j])
                if any(swapped[direction][i][b] for i in range(last + 1)):
                    swaps[k] += 1
            rows.append(
                {
                    "factor": k + 1,
                    "species": base.species[j],
                    "dq_max": level,
                    "base": base.F[k, j],
                    "low": lo_hi[0],
                    "high": lo_hi[1],
                }
            )
        swap_rows.append({"dq_max": level, **{f"factor_{k + 1}": int(swaps[k]) for k in range(p)}})
    all_dq = np.concatenate([np.concatenate(dqs[d]) for d in dqs])
    return DisplacementResult(
        intervals=pd.DataFrame(rows),
        swaps=pd.DataFrame(swap_rows),
        largest_dq_decrease=float(-min(0.0, all_dq.min())),
    )


def _objective(x, u, G, F, robust, alpha) -> float:
    qt, qr = q_values(x, u, G, F, alpha)
    return qr if robust else qt


def fpeak(
    x: np.ndarray,
    u: np.ndarray,
    base: PMFResult,
    strengths: tuple[float, ...] = (-0.5, -0.2, 0.2, 0.5),
    max_iter: int = 300,
) -> tuple[pd.DataFrame, dict[float, tuple[np.ndarray, np.ndarray]]]:
    """Fpeak-style rotations of the base solution, refit; Q and dQ per strength."""
    p = base.factors
    s = base.settings
    robust, alpha = s.get("robust", True), s.get("alpha", 4.0)
    q0t, q0r = q_values(x, u, base.G, base.F, alpha)
    rows, solutions = [], {}
    J = np.ones((p, p))
    for st in strengths:
        T = (1 - st) * np.eye(p) + (st / p) * J
        G0 = np.clip(base.G @ T, 1e-12, None)
        F0 = np.clip(np.linalg.solve(T, base.F), 1e-12, None)
        # the rotated profiles are held and the contributions refit: dQ is the rotation's cost
        # (a free refit would mostly rotate back to the base minimum)
        G, F, _, _, _ = optimise(
            x,
            u,
            G0[None],
            F0[None],
            "hals",
            robust,
            alpha,
            robust_after=0,
            max_iter=max_iter,
            update_F=False,
        )
        qt, qr = q_values(x, u, G[0], F[0], alpha)
        zeros = float((F[0] < 1e-6 * F[0].max()).mean())
        rows.append(
            {
                "strength": st,
                "q_true": qt,
                "q_robust": qr,
                "dq_robust": qr - q0r,
                "dq_true": qt - q0t,
                "share_of_near_zero_F": zeros,
            }
        )
        solutions[st] = (G[0], F[0])
    return pd.DataFrame(rows), solutions
