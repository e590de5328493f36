"""Compiled (numba) weighted HALS kernels for PMF: one start per thread, starts in parallel.

:func:`hals_batch` (the fit): each sweep updates, for every factor k in turn, row k of F and
then column k of G by their exact weighted least-squares solutions clipped at a small positive
floor, keeping the residual ``R = X - G F`` current. Robust mode re-weights cells whose scaled
residual exceeds ``alpha`` at the start of every sweep (PMF5's robust uncertainty
``u sqrt(|r| / alpha)``). A start stops when its objective fell by less than ``tol`` over the
last ``window`` sweeps (ESAT's criterion).

:func:`penalised_batch` (constrained runs, Fpeak, scale-fixed displacement) is the same sweep,
built from the same steps, with extra terms in the objective:

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
* ratio pulls ``lam (F[k, a] - r F[k, b])^2`` (``ridx``: ``k, a, b``; ``rval``: ``r``) of a
  factor's profile elements towards a ratio (PMF 5.0's expressions), each element stepped
  against the other's current value;
* ``normalise``: every column of G is held at a mean of 1 (its update is the exact constrained
  least-squares step, a Lagrange multiplier found by Newton steps), so F is on the profile table's
  scale and the scaling ambiguity cannot absorb a held or pulled profile element. Start from a
  normalised G.

The objective minimised is ``Q + aux``: ``Q`` is Q(robust) in robust mode (after
``robust_after`` sweeps) else Q(true); ``aux`` is the sum of the penalty terms. A start stops
when ``Q + aux`` changes by less than ``tol`` over ``window`` sweeps.
"""

from __future__ import annotations

import numba as nb
import numpy as np

__all__ = ["hals_batch", "penalised_batch"]

_FLOOR = 1e-12


# --------------------------------------------------------------------------- shared steps
# Both kernels below are built from these (numba inlines them); they live in this one module so
# that numba's on-disk cache, which checks only the defining file, never keeps a stale copy.
@nb.njit(cache=True, fastmath=False)
def _reweight(w, w0, R, u, alpha):
    """Robust weights in place: ``w0 alpha / r`` where the scaled residual ``r > alpha``."""
    n, m = R.shape
    for i in range(n):
        for j in range(m):
            if w0[i, j] > 0.0:
                r = abs(R[i, j]) / u[i, j]
                w[i, j] = w0[i, j] * alpha / r if r > alpha else w0[i, j]


@nb.njit(cache=True, fastmath=False)
def _f_sums(G, F, R, w, k, num, den):
    """Normal-equation sums of row ``k`` of F with the other factors held (into num, den)."""
    n, m = R.shape
    for j in range(m):
        num[j] = 0.0
        den[j] = 0.0
    for i in range(n):
        gi = G[i, k]
        for j in range(m):
            wij = w[i, j]
            num[j] += gi * wij * (R[i, j] + gi * F[k, j])
            den[j] += gi * gi * wij


@nb.njit(cache=True, fastmath=False)
def _g_sums(G, F, R, w, fnew, i, k):
    """Normal-equation sums ``(a, b)`` of ``G[i, k]`` given the new row ``fnew`` of F."""
    gi = G[i, k]
    a = 0.0
    b = 0.0
    for j in range(R.shape[1]):
        wf = w[i, j] * fnew[j]
        a += wf * (R[i, j] + gi * F[k, j])
        b += wf * fnew[j]
    return a, b


@nb.njit(cache=True, fastmath=False)
def _set_g(G, F, R, fnew, i, k, g):
    """Set ``G[i, k] = g`` with row k of F becoming ``fnew``, keeping ``R = X - G F`` current."""
    gi = G[i, k]
    for j in range(R.shape[1]):
        R[i, j] += gi * F[k, j] - g * fnew[j]
    G[i, k] = g


@nb.njit(cache=True, fastmath=False)
def _objective(R, w0, u, alpha, use_robust):
    """Q(robust) when ``use_robust`` else Q(true), over the cells with data."""
    q = 0.0
    for i in range(R.shape[0]):
        for j in range(R.shape[1]):
            if w0[i, j] > 0.0:
                r = abs(R[i, j]) / u[i, j]
                q += alpha * r if (use_robust and r > alpha) else r * r
    return q


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
            _reweight(w, w0, R, u, alpha)
        for k in range(p):
            if update_F:
                _f_sums(G, F, R, w, k, num, den)
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
                a, b = _g_sums(G, F, R, w, fnew, i, k)
                g = a / b if b > 0.0 else 0.0
                _set_g(G, F, R, fnew, i, k, g if g > _FLOOR else _FLOOR)
            for j in range(m):
                F[k, j] = fnew[j]
        q = _objective(R, w0, u, alpha, use_robust)
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


# --------------------------------------------------------------------------- penalised
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
    ridx,
    rval,
    rlam,
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
    ra = np.zeros(m)
    rb = np.zeros(m)
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
            _reweight(w, w0, R, u, alpha)
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
            _f_sums(G, F, R, w, k, num, den)
            # ratio pulls lam (F[k, a] - r F[k, b])^2 of this factor, each element against the
            # other's current value (a coordinate step on each)
            for j in range(m):
                ra[j] = 0.0
                rb[j] = 0.0
            for e in range(ridx.shape[0]):
                if ridx[e, 0] == k and rlam[e] > 0.0:
                    ja, jb, r = ridx[e, 1], ridx[e, 2], rval[e]
                    ra[ja] += rlam[e] * r * F[k, jb]
                    rb[ja] += rlam[e]
                    ra[jb] += rlam[e] * r * F[k, ja]
                    rb[jb] += rlam[e] * r * r
            for j in range(m):
                if not np.isnan(fixF[k, j]):
                    fnew[j] = fixF[k, j]
                else:
                    a = num[j] + lamF[k, j] * tF[k, j] - 0.5 * muF[k, j] + ra[j]
                    b = den[j] + lamF[k, j] + rb[j]
                    v = a / b if b > 0.0 else 0.0
                    fnew[j] = v if v > _FLOOR else _FLOOR
            # G column: g_i = (a_i - lam) / b_i clipped; lam = 0, or (normalise) the multiplier
            # that keeps the column mean at 1 (exact block update of the normalised problem)
            fixed_sum = 0.0
            for i in range(n):
                if not np.isnan(fixG[i, k]):
                    ga[i] = np.nan
                    gb[i] = 1.0
                    fixed_sum += fixG[i, k]
                    continue
                a, b = _g_sums(G, F, R, w, fnew, i, k)
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
                if np.isnan(ga[i]):
                    g = fixG[i, k]
                else:
                    g = (ga[i] - lam) / gb[i]
                    if g < _FLOOR:
                        g = _FLOOR
                _set_g(G, F, R, fnew, i, k, g)
            for j in range(m):
                F[k, j] = fnew[j]
        q = _objective(R, w0, u, alpha, use_robust)
        aux = 0.0
        for e in range(ridx.shape[0]):
            d = F[ridx[e, 0], ridx[e, 1]] - rval[e] * F[ridx[e, 0], ridx[e, 2]]
            aux += rlam[e] * d * d
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
    ridx,
    rval,
    rlam,
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
            ridx,
            rval,
            rlam[b],
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
    ratios: np.ndarray | None = None,
    lam_ratio: np.ndarray | None = None,
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
    ratios : numpy.ndarray, optional
        ``R x 4`` ratio pulls ``(k, a, b, r)``: profile elements ``F[k, a] / F[k, b]`` pulled to
        ``r`` by the term ``lam (F[k, a] - r F[k, b])^2`` (PMF 5.0's ratio expressions).
    lam_ratio : numpy.ndarray, optional
        Their weights ``lam`` [1 / unit^2] (``R``, or ``B x R`` per start).
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
    rat = np.zeros((0, 4)) if ratios is None else np.asarray(ratios, dtype=np.float64)
    R_ = rat.shape[0]
    ridx = np.ascontiguousarray(rat[:, :3], dtype=np.int64).reshape(R_, 3)
    rval = np.ascontiguousarray(rat[:, 3], dtype=np.float64)
    if R_ and (ridx.min() < 0 or (ridx[:, 0] >= sF[1]).any() or (ridx[:, 1:] >= sF[2]).any()):
        raise ValueError(f"ratio pulls {ratios} outside F ({sF[1]} x {sF[2]})")
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
        ridx,
        rval,
        _batched(lam_ratio, (B, R_), 0.0),
        bool(normalise),
        bool(robust),
        float(alpha),
        int(robust_after),
        int(max_iter),
        float(tol),
        int(window),
    )
    return G, F, q, aux, iters, conv
