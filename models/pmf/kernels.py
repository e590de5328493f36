"""Compiled (numba) weighted HALS kernel for PMF: one start per thread, starts in parallel.

Each sweep updates, for every factor k in turn, row k of F and then column k of G by their exact
weighted least-squares solutions clipped at a small positive floor, keeping the residual
``R = X - G F`` current. Robust mode re-weights cells whose scaled residual exceeds ``alpha`` at
the start of every sweep (PMF5's robust uncertainty ``u sqrt(|r| / alpha)``). A start stops when
its objective fell by less than ``tol`` over the last ``window`` sweeps (ESAT's criterion).
"""

from __future__ import annotations

import numba as nb
import numpy as np

__all__ = ["hals_batch"]

_FLOOR = 1e-12


@nb.njit(cache=True, fastmath=False)
def _hals_one(x, w0, u, G, F, fixF, update_F, robust, alpha, robust_after, max_iter, tol, window):
    n, m = x.shape
    p = G.shape[1]
    R = x - G @ F
    w = w0.copy()
    hist = np.empty(max_iter)
    num = np.empty(m)
    den = np.empty(m)
    fnew = np.empty(m)
    q = 0.0
    done = max_iter
    converged = False
    for it in range(max_iter):
        use_robust = robust and it >= robust_after
        if use_robust:
            for i in range(n):
                for j in range(m):
                    if w0[i, j] > 0.0:
                        r = abs(R[i, j]) / u[i, j]
                        w[i, j] = w0[i, j] * alpha / r if r > alpha else w0[i, j]
        for k in range(p):
            if update_F:
                for j in range(m):
                    num[j] = 0.0
                    den[j] = 0.0
                for i in range(n):
                    gi = G[i, k]
                    for j in range(m):
                        wij = w[i, j]
                        num[j] += gi * wij * (R[i, j] + gi * F[k, j])
                        den[j] += gi * gi * wij
                for j in range(m):
                    if not np.isnan(fixF[k, j]):
                        fnew[j] = fixF[k, j]
                    else:
                        v = num[j] / den[j] if den[j] > 0.0 else 0.0
                        fnew[j] = v if v > _FLOOR else _FLOOR
            else:
                for j in range(m):
                    fnew[j] = F[k, j]
            for i in range(n):
                gi = G[i, k]
                a = 0.0
                b = 0.0
                for j in range(m):
                    wf = w[i, j] * fnew[j]
                    a += wf * (R[i, j] + gi * F[k, j])
                    b += wf * fnew[j]
                g = a / b if b > 0.0 else 0.0
                if g < _FLOOR:
                    g = _FLOOR
                for j in range(m):
                    R[i, j] += gi * F[k, j] - g * fnew[j]
                G[i, k] = g
            for j in range(m):
                F[k, j] = fnew[j]
        q = 0.0
        for i in range(n):
            for j in range(m):
                if w0[i, j] > 0.0:
                    r = abs(R[i, j]) / u[i, j]
                    q += alpha * r if (use_robust and r > alpha) else r * r
        hist[it] = q
        judged = (not robust) or it >= robust_after + window
        if judged and it >= window and hist[it - window] - q < tol:
            done = it + 1
            converged = True
            break
    return q, done, converged


@nb.njit(parallel=True, cache=True)
def _batch(x, w0, u, G, F, fixF, update_F, robust, alpha, robust_after, max_iter, tol, window):
    B = G.shape[0]
    q = np.empty(B)
    iters = np.empty(B, np.int64)
    conv = np.empty(B, np.bool_)
    for b in nb.prange(B):
        q[b], iters[b], conv[b] = _hals_one(
            x,
            w0,
            u,
            G[b],
            F[b],
            fixF[b],
            update_F,
            robust,
            alpha,
            robust_after,
            max_iter,
            tol,
            window,
        )
    return q, iters, conv


def hals_batch(
    x: np.ndarray,
    u: np.ndarray,
    G: np.ndarray,
    F: np.ndarray,
    fix_F: np.ndarray | None = None,
    update_F: bool = True,
    robust: bool = True,
    alpha: float = 4.0,
    robust_after: int = 20,
    max_iter: int = 20000,
    tol: float = 0.01,
    window: int = 50,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Fit a batch of starts in place on copies; return ``G, F, q, iterations, converged``.

    ``x`` may hold NaN (weight 0); ``fix_F`` (``B x p x m``, NaN = free) holds cells of F fixed.
    """
    missing = ~np.isfinite(x)
    x0 = np.ascontiguousarray(np.where(missing, 0.0, x), dtype=np.float64)
    u = np.ascontiguousarray(u, dtype=np.float64)
    w0 = np.where(missing, 0.0, 1.0 / (u * u))
    G = np.ascontiguousarray(G, dtype=np.float64).copy()
    F = np.ascontiguousarray(F, dtype=np.float64).copy()
    if fix_F is None:
        fix_F = np.full(F.shape, np.nan)
    q, iters, conv = _batch(
        x0,
        w0,
        u,
        G,
        F,
        np.ascontiguousarray(fix_F, dtype=np.float64),
        bool(update_F),
        bool(robust),
        float(alpha),
        int(robust_after),
        int(max_iter),
        float(tol),
        int(window),
    )
    return G, F, q, iters, conv
