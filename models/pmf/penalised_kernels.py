"""Compiled (numba) HALS with penalty terms: constrained runs, Fpeak, scale-fixed displacement.

The sweep is :mod:`models.pmf.kernels`' weighted HALS (every factor's row of F, then column of
G, by its exact weighted least-squares update clipped at a small floor, the residual kept
current, robust re-weighting at the start of every sweep), with extra terms in the objective:

* held cells: ``fixF`` (``p x m``) and ``fixG`` (``n x p``), NaN = free (exact zero allowed);
* quadratic pulls ``lam (e - t)^2`` on elements of F (``lamF, tF``) and G (``lamG, tG``);
* linear pushes ``mu e`` on elements of F (``muF``) and G (``muG``): ``mu > 0`` pulls down,
  ``mu < 0`` up - the Lagrangian of "minimise / maximise the element at a given Q";
* Paatero's Fpeak (PMF2 / PMF 5.0): at every sweep the contributions are pulled towards the
  rotated ``G (I + phi D)`` of the current iterate, ``D`` with zeros on the diagonal and ones
  elsewhere, with weight ``lam_fp`` per element. ``phi > 0`` adds other factors' contributions to
  each factor (G more mixed, F sharper: more zeros in F), ``phi < 0`` subtracts them (G sharper);
  the pull is a push of the fit along the rotation, resisted by Q and the non-negativity
  constraints, so the solution is a penalised minimum, not a rotated base solution.
* ``normalise``: every column of G is held at a mean of 1 (its update is the exact constrained
  least-squares step, a Lagrange multiplier found by bisection), so F is on the profile table's
  scale and the scaling ambiguity cannot absorb a held or pulled profile element. Start from a
  normalised G.

The objective minimised is ``Q + aux``: ``Q`` is Q(robust) in robust mode (after
``robust_after`` sweeps) else Q(true); ``aux`` is the sum of the penalty terms. A start stops
when ``Q + aux`` changes by less than ``tol`` over ``window`` sweeps.
"""

from __future__ import annotations

import numba as nb
import numpy as np

__all__ = ["penalised_batch"]

_FLOOR = 1e-12


@nb.njit(cache=True, fastmath=False)
def _mean_multiplier(a, b, want, lam):
    """``lam`` with ``sum_i max(floor, (a_i - lam) / b_i) = want`` over non-NaN ``a`` (Newton).

    The sum is convex and decreasing in ``lam``, so Newton's steps converge (monotonically
    after the first) from the start ``lam`` (the previous sweep's); a start with every term at
    the floor restarts from a lower bound.
    """
    if want <= 0.0:
        return 0.0
    for _ in range(100):
        tot = 0.0
        slope = 0.0
        for i in range(a.shape[0]):
            if not np.isnan(a[i]):
                v = (a[i] - lam) / b[i]
                if v > _FLOOR:
                    tot += v
                    slope += 1.0 / b[i]
                else:
                    tot += _FLOOR
        if abs(tot - want) <= 1e-10 * want:
            break
        if slope == 0.0:
            lo = np.inf
            for i in range(a.shape[0]):
                if not np.isnan(a[i]) and a[i] - want * b[i] < lo:
                    lo = a[i] - want * b[i]
            if not np.isfinite(lo):
                break
            lam = lo
            continue
        step = (tot - want) / slope
        lam += step
        if abs(step) <= 1e-15 * (abs(lam) + 1e-300):
            break
    return lam


@nb.njit(cache=True, fastmath=False)
def _pen_one(
    x,
    w0,
    u,
    G,
    F,
    fixF,
    fixG,
    lamF,
    tF,
    muF,
    lamG,
    tG,
    muG,
    phi,
    lam_fp,
    normalise,
    robust,
    alpha,
    robust_after,
    max_iter,
    tol,
    window,
):
    n, m = x.shape
    p = G.shape[1]
    R = x - G @ F
    w = w0.copy()
    hist = np.empty(max_iter)
    num = np.empty(m)
    den = np.empty(m)
    fnew = np.empty(m)
    tau = np.empty((n, p))
    ga = np.empty(n)
    lam_prev = np.zeros(p)
    gb = np.empty(n)
    q = 0.0
    aux = 0.0
    done = max_iter
    converged = False
    use_fp = phi != 0.0 and lam_fp > 0.0
    for it in range(max_iter):
        use_robust = robust and it >= robust_after
        if use_robust:
            for i in range(n):
                for j in range(m):
                    if w0[i, j] > 0.0:
                        r = abs(R[i, j]) / u[i, j]
                        w[i, j] = w0[i, j] * alpha / r if r > alpha else w0[i, j]
        if use_fp:  # Fpeak target: G (I + phi D) of the current iterate, negatives cut, each
            # column rescaled to the mean of G's column: the pull acts on the shape of G only
            # (an unscaled target has a mean of 1 + phi (p - 1): against the mean-1 constraint
            # of ``normalise`` its multiplier drove most contributions to zero)
            for i in range(n):
                s = 0.0
                for k in range(p):
                    s += G[i, k]
                for k in range(p):
                    t = G[i, k] + phi * (s - G[i, k])
                    tau[i, k] = t if t > 0.0 else 0.0
            for k in range(p):
                mg = 0.0
                mt = 0.0
                for i in range(n):
                    mg += G[i, k]
                    mt += tau[i, k]
                c = mg / mt if mt > 0.0 else 0.0
                for i in range(n):
                    tau[i, k] *= c
        for k in range(p):
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
                    a = num[j] + lamF[k, j] * tF[k, j] - 0.5 * muF[k, j]
                    b = den[j] + lamF[k, j]
                    v = a / b if b > 0.0 else 0.0
                    fnew[j] = v if v > _FLOOR else _FLOOR
            # G column: g_i = (a_i - lam) / b_i clipped; lam = 0, or (normalise) the multiplier
            # that keeps the column mean at 1 (exact block update of the normalised problem)
            fixed_sum = 0.0
            for i in range(n):
                gi = G[i, k]
                if not np.isnan(fixG[i, k]):
                    ga[i] = np.nan
                    gb[i] = 1.0
                    fixed_sum += fixG[i, k]
                    continue
                a = 0.0
                b = 0.0
                for j in range(m):
                    wf = w[i, j] * fnew[j]
                    a += wf * (R[i, j] + gi * F[k, j])
                    b += wf * fnew[j]
                a += lamG[i, k] * tG[i, k] - 0.5 * muG[i, k]
                b += lamG[i, k]
                if use_fp:
                    a += lam_fp * tau[i, k]
                    b += lam_fp
                ga[i] = a
                gb[i] = b if b > 0.0 else 1e-300
            lam = 0.0
            if normalise:
                lam = _mean_multiplier(ga, gb, n - fixed_sum, lam_prev[k])
                lam_prev[k] = lam
            for i in range(n):
                gi = G[i, k]
                if np.isnan(ga[i]):
                    g = fixG[i, k]
                else:
                    g = (ga[i] - lam) / gb[i]
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
        aux = 0.0
        for k in range(p):
            for j in range(m):
                d = F[k, j] - tF[k, j]
                aux += lamF[k, j] * d * d + muF[k, j] * F[k, j]
        for i in range(n):
            for k in range(p):
                d = G[i, k] - tG[i, k]
                aux += lamG[i, k] * d * d + muG[i, k] * G[i, k]
                if use_fp:
                    d = G[i, k] - tau[i, k]
                    aux += lam_fp * d * d
        hist[it] = q + aux
        judged = (not robust) or it >= robust_after + window
        if judged and it >= window and abs(hist[it - window] - hist[it]) < tol:
            done = it + 1
            converged = True
            break
    return q, aux, done, converged


@nb.njit(parallel=True, cache=True)
def _pen_batch(
    x,
    w0,
    u,
    G,
    F,
    fixF,
    fixG,
    lamF,
    tF,
    muF,
    lamG,
    tG,
    muG,
    phi,
    lam_fp,
    normalise,
    robust,
    alpha,
    robust_after,
    max_iter,
    tol,
    window,
):
    B = G.shape[0]
    q = np.empty(B)
    aux = np.empty(B)
    iters = np.empty(B, np.int64)
    conv = np.empty(B, np.bool_)
    for b in nb.prange(B):
        q[b], aux[b], iters[b], conv[b] = _pen_one(
            x,
            w0,
            u,
            G[b],
            F[b],
            fixF[b],
            fixG[b],
            lamF[b],
            tF[b],
            muF[b],
            lamG[b],
            tG[b],
            muG[b],
            phi[b],
            lam_fp[b],
            normalise,
            robust,
            alpha,
            robust_after,
            max_iter,
            tol,
            window,
        )
    return q, aux, iters, conv


def _batched(a: np.ndarray | None, shape: tuple[int, ...], fill: float) -> np.ndarray:
    if a is None:
        return np.full(shape, fill)
    a = np.asarray(a, dtype=np.float64)
    return np.ascontiguousarray(np.broadcast_to(a, shape), dtype=np.float64).copy()


def penalised_batch(
    x: np.ndarray,
    u: np.ndarray,
    G: np.ndarray,
    F: np.ndarray,
    *,
    fix_F: np.ndarray | None = None,
    fix_G: np.ndarray | None = None,
    lam_F: np.ndarray | None = None,
    target_F: np.ndarray | None = None,
    mu_F: np.ndarray | None = None,
    lam_G: np.ndarray | None = None,
    target_G: np.ndarray | None = None,
    mu_G: np.ndarray | None = None,
    phi: np.ndarray | float = 0.0,
    lam_fpeak: np.ndarray | float = 0.0,
    normalise: bool = True,
    robust: bool = True,
    alpha: float = 4.0,
    robust_after: int = 0,
    max_iter: int = 5000,
    tol: float = 0.01,
    window: int = 20,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Fit a batch of penalised starts (copies); starts run in parallel.

    Parameters
    ----------
    x, u : numpy.ndarray
        ``n x m`` data and uncertainties [data units]; NaN in ``x``: weight 0.
    G, F : numpy.ndarray
        ``B x n x p`` and ``B x p x m`` starting points.
    fix_F, fix_G : numpy.ndarray, optional
        Held cells (``B x p x m`` / ``B x n x p``, or broadcastable), NaN = free.
    lam_F, target_F, mu_F : numpy.ndarray, optional
        Quadratic pull weight [1 / unit^2], its target [unit] and linear push [1 / unit] on F.
    lam_G, target_G, mu_G : numpy.ndarray, optional
        The same on G.
    phi, lam_fpeak : float or numpy.ndarray, optional
        Fpeak strength and its pull weight per start (``B``).
    normalise : bool, optional
        Keep every column of G at a mean of 1 (profile-table scale).
    robust, alpha, robust_after, max_iter, tol, window
        As :func:`models.pmf.kernels.hals_batch` (``tol`` [Q units] over ``window`` sweeps).

    Returns
    -------
    G, F, q, aux, iterations, converged
        ``q`` is Q(robust) in robust mode else Q(true) [Q units]; ``aux`` the penalty terms.
    """
    missing = ~np.isfinite(x)
    x0 = np.ascontiguousarray(np.where(missing, 0.0, x), dtype=np.float64)
    u = np.ascontiguousarray(u, dtype=np.float64)
    w0 = np.where(missing, 0.0, 1.0 / (u * u))
    G = np.ascontiguousarray(G, dtype=np.float64).copy()
    F = np.ascontiguousarray(F, dtype=np.float64).copy()
    B = G.shape[0]
    sF, sG = F.shape, G.shape
    q, aux, iters, conv = _pen_batch(
        x0,
        w0,
        u,
        G,
        F,
        _batched(fix_F, sF, np.nan),
        _batched(fix_G, sG, np.nan),
        _batched(lam_F, sF, 0.0),
        _batched(target_F, sF, 0.0),
        _batched(mu_F, sF, 0.0),
        _batched(lam_G, sG, 0.0),
        _batched(target_G, sG, 0.0),
        _batched(mu_G, sG, 0.0),
        _batched(phi, (B,), 0.0),
        _batched(lam_fpeak, (B,), 0.0),
        bool(normalise),
        bool(robust),
        float(alpha),
        int(robust_after),
        int(max_iter),
        float(tol),
        int(window),
    )
    return G, F, q, aux, iters, conv
