"""Variogram fit, ordinary and indicator kriging, leave-one-out cross-validation, IDW.

The experimental variogram and its model are fitted with scikit-gstat (``skgstat.Variogram``,
spherical / exponential / gaussian model with a nugget, lag cutoff one third of the bounding-box
diagonal as gstat's default). Kriging solves the ordinary-kriging system in the variogram form,

    [Γ 1; 1ᵀ 0] [λ; μ] = [γ0; 1],   Ẑ = λᵀ z,   σ² = λᵀ γ0 + μ,

for many targets at once (numpy batched solves): globally (every sample) or in a local
neighbourhood of the ``n_neighbours`` nearest samples (scipy ``cKDTree``), which is what makes a
100,000-sample survey tractable. Results agree with ``pykrige.OrdinaryKriging`` (tested).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from scipy.spatial import cKDTree

__all__ = [
    "CrossValidation",
    "VariogramModel",
    "fit_variogram",
    "idw",
    "idw_loo",
    "indicator_kriging",
    "kriging_loo",
    "ordinary_kriging",
    "regular_grid",
]

Model = Literal["spherical", "exponential", "gaussian"]


@dataclass(frozen=True)
class VariogramModel:
    """A fitted variogram model: ``nugget`` + ``psill`` * f(h / ``range``) [z units squared].

    ``range`` is the effective range [m], with scikit-gstat's forms (its fitted parameters are
    used here): exponential ``1 - exp(-3 h / r)`` (95 % of the sill at r), gaussian
    ``1 - exp(-(2 h / r)^2)`` (98 % at r).
    """

    model: Model
    nugget: float
    psill: float
    range: float
    bins: tuple[float, ...] = field(default=(), compare=False)
    experimental: tuple[float, ...] = field(default=(), compare=False)
    n_points: int = 0

    @property
    def sill(self) -> float:
        """Total sill (nugget + partial sill)."""
        return self.nugget + self.psill

    def __call__(self, h: np.ndarray) -> np.ndarray:
        """Semivariance at lag distances ``h`` [m]; 0 at h = 0 (the nugget is a discontinuity)."""
        h = np.asarray(h, float)
        r = max(self.range, 1e-12)
        if self.model == "spherical":
            x = np.minimum(h / r, 1.0)
            f = 1.5 * x - 0.5 * x**3
        elif self.model == "exponential":
            f = 1.0 - np.exp(-3.0 * h / r)
        else:
            f = 1.0 - np.exp(-((2.0 * h / r) ** 2))
        return np.where(h > 0, self.nugget + self.psill * f, 0.0)

    def describe(self) -> str:
        """One line, e.g. ``spherical: nugget 0.05, partial sill 0.59, range 896 m``."""
        return (
            f"{self.model}: nugget {self.nugget:.3g}, partial sill {self.psill:.3g}, "
            f"range {self.range:.0f} m ({self.n_points} points)"
        )


def fit_variogram(
    xy: np.ndarray,
    z: np.ndarray,
    *,
    model: Model = "spherical",
    n_lags: int = 15,
    maxlag: float | None = None,
    max_points: int = 1500,
    seed: int = 0,
    n_neighbours: int | None = None,
) -> VariogramModel:
    """Fit a variogram model to the experimental variogram of ``z`` (scikit-gstat).

    With a local kriging neighbourhood (``n_neighbours``) on more than ``max_points`` samples,
    the fit is of the lags the kriging uses: the subset is half random samples, half clusters of
    nearest neighbours (so that pairs at the survey's own spacing are in the experimental
    variogram: a random subset of a dense survey has none, and misses its nugget), and the lag
    cutoff is three times the median distance to the ``n_neighbours``-th neighbour (kriging
    weights within a neighbourhood depend on the variogram within it only), short lags weighted
    more.

    Parameters
    ----------
    xy : numpy.ndarray
        Sample coordinates, shape (n, 2) [m] (projected).
    z : numpy.ndarray
        Values (e.g. log contents).
    model : str
        ``spherical``, ``exponential`` or ``gaussian``.
    n_lags : int
        Number of lag classes.
    n_neighbours : int, optional
        The local kriging neighbourhood the model is for (None: global kriging).
    maxlag : float, optional
        Lag cutoff [m]; default one third of the bounding-box diagonal (gstat's default).
    max_points : int
        Above this many samples a random subset of that size is used (the experimental
        variogram needs all pairs: 100,000 samples would be 5e9 pairs).
    seed : int
        Seed of that subset.
    """
    import skgstat

    xy = np.asarray(xy, float)
    z = np.asarray(z, float)
    ok = np.isfinite(z) & np.isfinite(xy).all(axis=1)
    xy, z = xy[ok], z[ok]
    local_lag = None
    if len(z) > max_points:
        gen = np.random.default_rng(seed)
        if n_neighbours is not None and n_neighbours < len(z) - 1:
            tree = cKDTree(xy)
            probe = gen.choice(len(z), min(len(z), 2000), replace=False)
            d_k = tree.query(xy[probe], k=n_neighbours + 1)[0][:, -1]
            local_lag = 3.0 * float(np.median(d_k))
            size = max(2, min(n_neighbours, max_points // 20))
            seeds = gen.choice(len(z), max(1, (max_points // 2) // size), replace=False)
            near = tree.query(xy[seeds], k=size)[1].ravel()
            rest = gen.choice(len(z), max_points - len(np.unique(near)), replace=False)
            pick = np.unique(np.concatenate([near, rest]))
        else:
            pick = gen.choice(len(z), max_points, replace=False)
        xy, z = xy[pick], z[pick]
    if maxlag is None:
        maxlag = float(np.hypot(*(xy.max(axis=0) - xy.min(axis=0)))) / 3.0
        if local_lag is not None:
            maxlag = min(maxlag, local_lag)
    if np.ptp(z) == 0:  # constant (e.g. an indicator never exceeded): pure nugget of 0
        return VariogramModel(model, 0.0, 0.0, maxlag, n_points=len(z))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # skgstat warns about bins and fitting details
        # local: short lags weighted more (their uncertainty taken as growing with the lag,
        # skgstat's fit_sigma="linear"): the nugget and the slope near the origin are what a
        # neighbourhood's weights depend on, and an unweighted fit of lags still rising gave
        # a zero nugget and kriging variances 5x too small on a dense survey
        try:
            v = skgstat.Variogram(
                xy,
                z,
                model=model,
                n_lags=n_lags,
                maxlag=maxlag,
                use_nugget=True,
                fit_method="trf",
                fit_sigma="linear" if local_lag is not None else None,
            )
        except ValueError:  # no variance at any lag (e.g. a rare indicator's pairs all 0-0)
            return VariogramModel(model, float(np.var(z)), 0.0, maxlag, n_points=len(z))
        rng, psill, nugget = (float(p) for p in v.parameters[:3])
        bins, exp = tuple(map(float, v.bins)), tuple(map(float, v.experimental))
    if not np.isfinite(psill + nugget) or psill + nugget <= 1e-12 * float(np.var(z)):
        # a degenerate fit (e.g. an indicator with a handful of ones): pure nugget at the
        # sample variance, i.e. every estimate is the local mean
        return VariogramModel(model, float(np.var(z)), 0.0, maxlag, bins, exp, n_points=len(z))
    return VariogramModel(model, nugget, psill, rng, bins, exp, n_points=len(z))


def _solve_ok(
    gamma_ss: np.ndarray, gamma_s0: np.ndarray, z_s: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Batched ordinary-kriging solve: (m, k, k) Γ, (m, k) γ0, (m, k) z -> estimate, variance."""
    m, k = gamma_s0.shape
    a = np.ones((m, k + 1, k + 1))
    a[:, :k, :k] = gamma_ss
    a[:, k, k] = 0.0
    # coincident samples make two rows equal: a tiny negative semivariance at h = 0 (a
    # covariance bump of 1e-10 of the largest semivariance) keeps the system solvable
    diag = np.arange(k)
    a[:, diag, diag] = -1e-10 * max(float(np.max(gamma_ss, initial=0.0)), 1e-300)
    b = np.ones((m, k + 1))
    b[:, :k] = gamma_s0
    w = np.linalg.solve(a, b[..., None])[..., 0]
    est = np.einsum("mk,mk->m", w[:, :k], z_s)
    var = np.einsum("mk,mk->m", w[:, :k], gamma_s0) + w[:, k]
    return est, np.maximum(var, 0.0)


def ordinary_kriging(
    xy: np.ndarray,
    z: np.ndarray,
    targets: np.ndarray,
    vm: VariogramModel,
    *,
    n_neighbours: int | None = None,
    chunk: int = 4096,
) -> tuple[np.ndarray, np.ndarray]:
    """Ordinary kriging estimate and variance at ``targets``.

    Parameters
    ----------
    xy : numpy.ndarray
        Sample coordinates (n, 2) [m].
    z : numpy.ndarray
        Sample values (n,).
    targets : numpy.ndarray
        Target coordinates (m, 2) [m].
    vm : VariogramModel
        The variogram model.
    n_neighbours : int, optional
        Local neighbourhood: the nearest samples of each target (default: all samples).
    chunk : int
        Targets solved per batch (memory: chunk x (k+1)^2 floats).

    Returns
    -------
    estimate, variance : numpy.ndarray
        Kriging estimate (z units) and kriging variance (z units squared), shape (m,).
    """
    xy = np.asarray(xy, float)
    z = np.asarray(z, float)
    t = np.asarray(targets, float).reshape(-1, 2)
    n = len(z)
    est = np.empty(len(t))
    var = np.empty(len(t))
    if n_neighbours is None or n_neighbours >= n:
        d_ss = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))
        a = np.ones((n + 1, n + 1))
        a[:n, :n] = vm(d_ss)
        a[n, n] = 0.0
        a[np.arange(n), np.arange(n)] = -1e-10 * max(float(a[:n, :n].max(initial=0.0)), 1e-300)
        lu = np.linalg.inv(a)  # one factorisation for all targets
        for s in range(0, len(t), chunk):
            tt = t[s : s + chunk]
            b = np.ones((n + 1, len(tt)))
            b[:n] = vm(np.hypot(xy[:, 0:1] - tt[None, :, 0], xy[:, 1:2] - tt[None, :, 1]))
            w = lu @ b
            est[s : s + chunk] = z @ w[:n]
            var[s : s + chunk] = np.maximum(np.einsum("nm,nm->m", w[:n], b[:n]) + w[n], 0.0)
        return est, var
    tree = cKDTree(xy)
    for s in range(0, len(t), chunk):
        tt = t[s : s + chunk]
        d0, idx = tree.query(tt, k=n_neighbours)
        p = xy[idx]  # (m, k, 2)
        d_ss = np.hypot(p[:, :, None, 0] - p[:, None, :, 0], p[:, :, None, 1] - p[:, None, :, 1])
        est[s : s + chunk], var[s : s + chunk] = _solve_ok(vm(d_ss), vm(d0), z[idx])
    return est, var


@dataclass(frozen=True)
class CrossValidation:
    """Leave-one-out cross-validation of an interpolator.

    ``rmse`` [z units], ``me`` (mean error, bias) and, for kriging, ``msse``: the mean
    standardised squared error mean(e² / σ²), 1 when the kriging variance is right.
    """

    errors: np.ndarray
    variance: np.ndarray | None
    rmse: float
    me: float
    msse: float | None


def _cv(pred: np.ndarray, z: np.ndarray, var: np.ndarray | None) -> CrossValidation:
    e = pred - z
    msse = None if var is None else float(np.mean(e**2 / np.maximum(var, 1e-300)))
    return CrossValidation(e, var, float(np.sqrt(np.mean(e**2))), float(np.mean(e)), msse)


def _loo_neighbours(
    xy: np.ndarray, k: int, at: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Return the k nearest other samples of each sample (of ``at``), itself left out."""
    at = np.arange(len(xy)) if at is None else np.asarray(at, int)
    d, idx = cKDTree(xy).query(xy[at], k=k + 1)
    own = idx == at[:, None]
    # drop the sample itself (or, if coincident points hide it, the last neighbour)
    keep = ~own
    keep[~own.any(axis=1), -1] = False
    return d[keep].reshape(len(at), k), idx[keep].reshape(len(at), k)


def kriging_loo(
    xy: np.ndarray,
    z: np.ndarray,
    vm: VariogramModel,
    *,
    n_neighbours: int | None = None,
    at: np.ndarray | None = None,
) -> CrossValidation:
    """Leave-one-out cross-validation of ordinary kriging with a fixed variogram model.

    Each sample is estimated from the others (all of them, or its ``n_neighbours`` nearest).
    With ``at`` (indices; local neighbourhoods only) only those samples are left out in turn,
    each estimated from its neighbours among *all* the other samples: a check of a large
    survey's map at the survey's own density.
    """
    xy = np.asarray(xy, float)
    z = np.asarray(z, float)
    n = len(z)
    if n_neighbours is None or n_neighbours >= n - 1:
        if at is not None:
            raise ValueError("at: a subset of held-out samples needs a local neighbourhood")
        # closed form (Dubrule 1983): with A the kriging matrix of all samples and
        # b = [z; 0], the LOO error at i is -(A^-1 b)_i / (A^-1)_ii and its variance
        # -1 / (A^-1)_ii: one inversion instead of n solves (equal to them, tested)
        d_ss = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))
        a = np.ones((n + 1, n + 1))
        a[:n, :n] = vm(d_ss)
        a[n, n] = 0.0
        a[np.arange(n), np.arange(n)] = -1e-10 * max(float(a[:n, :n].max(initial=0.0)), 1e-300)
        ai = np.linalg.inv(a)
        diag = np.diag(ai)[:n]
        err = -(ai @ np.r_[z, 0.0])[:n] / diag
        return _cv(z + err, z, np.maximum(-1.0 / diag, 0.0))
    k = min(n_neighbours, n - 1)
    d0, idx = _loo_neighbours(xy, k, at)
    p = xy[idx]
    d_ss = np.hypot(p[:, :, None, 0] - p[:, None, :, 0], p[:, :, None, 1] - p[:, None, :, 1])
    est, var = _solve_ok(vm(d_ss), vm(d0), z[idx])
    return _cv(est, z if at is None else z[np.asarray(at, int)], var)


def idw(
    xy: np.ndarray,
    z: np.ndarray,
    targets: np.ndarray,
    *,
    power: float = 2.0,
    n_neighbours: int | None = None,
) -> np.ndarray:
    """Inverse-distance-weighted estimate at ``targets`` (weights d^-power; exact at a sample)."""
    xy = np.asarray(xy, float)
    z = np.asarray(z, float)
    t = np.asarray(targets, float).reshape(-1, 2)
    k = len(z) if n_neighbours is None else min(n_neighbours, len(z))
    d, idx = cKDTree(xy).query(t, k=k)
    d, idx = d.reshape(len(t), k), idx.reshape(len(t), k)
    with np.errstate(divide="ignore"):
        w = 1.0 / d**power
    exact = ~np.isfinite(w)
    w = np.where(exact.any(axis=1, keepdims=True), exact.astype(float), w)
    return (w * z[idx]).sum(axis=1) / w.sum(axis=1)


def idw_loo(
    xy: np.ndarray,
    z: np.ndarray,
    *,
    power: float = 2.0,
    n_neighbours: int | None = None,
    at: np.ndarray | None = None,
) -> CrossValidation:
    """Leave-one-out cross-validation of inverse-distance weighting (``at`` as in kriging_loo)."""
    xy = np.asarray(xy, float)
    z = np.asarray(z, float)
    k = len(z) - 1 if n_neighbours is None else min(n_neighbours, len(z) - 1)
    d, idx = _loo_neighbours(xy, k, at)
    w = 1.0 / np.maximum(d, 1e-9) ** power
    est = (w * z[idx]).sum(axis=1) / w.sum(axis=1)
    return _cv(est, z if at is None else z[np.asarray(at, int)], None)


def indicator_kriging(
    xy: np.ndarray,
    exceeds: np.ndarray,
    targets: np.ndarray,
    *,
    model: Model = "spherical",
    n_neighbours: int | None = None,
) -> tuple[np.ndarray, VariogramModel]:
    """Probability of exceeding a threshold by ordinary kriging of the indicator 1(z > t).

    Returns the probability at ``targets`` (clipped to [0, 1]) and the indicator variogram.
    With every indicator equal (never or always exceeded) the probability is that constant.
    """
    ind = np.asarray(exceeds, float)
    vm = fit_variogram(xy, ind, model=model, n_neighbours=n_neighbours)
    if np.ptp(ind) == 0:
        return np.full(len(np.asarray(targets).reshape(-1, 2)), ind[0] if len(ind) else np.nan), vm
    p, _ = ordinary_kriging(xy, ind, targets, vm, n_neighbours=n_neighbours)
    return np.clip(p, 0.0, 1.0), vm


def regular_grid(
    xy: np.ndarray, *, resolution: float, margin: float = 0.0, max_cells: int = 250_000
) -> tuple[np.ndarray, np.ndarray]:
    """Cell-centre coordinates of a regular grid over the samples' bounding box [m].

    The resolution is coarsened when the grid would exceed ``max_cells`` cells.
    """
    lo = np.asarray(xy, float).min(axis=0) - margin
    hi = np.asarray(xy, float).max(axis=0) + margin
    span = hi - lo
    res = max(resolution, float(np.sqrt(span[0] * span[1] / max_cells)))
    gx = lo[0] + res / 2 + res * np.arange(max(1, int(np.ceil(span[0] / res))))
    gy = lo[1] + res / 2 + res * np.arange(max(1, int(np.ceil(span[1] / res))))
    return gx, gy
