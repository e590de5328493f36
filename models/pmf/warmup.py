"""Compile the PMF kernels into numba's on-disk cache: ``python -m models.pmf.warmup``.

The HALS kernels (:mod:`models.pmf.kernels`: the fit and the penalised runs) are compiled
on their first call (about 10 s on 2 cores) and cached next to their modules (``cache=True``).
``make setup`` runs this once after installing, so that the first ``qingyuan trace pmf`` of a
fresh clone does not pay the compilation. Each kernel is called through its public wrapper
with the argument types real runs use, on a tiny problem.
"""

from __future__ import annotations

import time

import numpy as np

__all__ = ["warm_up"]


def warm_up() -> float:
    """Call every PMF kernel once on a tiny problem; return the seconds it took [s]."""
    from models.pmf.core import fit_pmf, optimise
    from models.pmf.kernels import penalised_batch

    t0 = time.perf_counter()
    rng = np.random.default_rng(0)
    x = rng.random((12, 5)) + 0.1
    u = np.full_like(x, 0.1)
    res = fit_pmf(x, u, 2, starts=2, max_iter=30)  # the fit (hals_batch)
    G, F = res.G[None], res.F[None]
    optimise(x, u, G.copy(), F.copy(), max_iter=5, update_F=False)  # transform, held profiles
    c = res.G.mean(axis=0)
    Gn, Fn = (res.G / c)[None], (res.F * c[:, None])[None]
    penalised_batch(x, u, Gn, Fn, max_iter=5)  # reference refits
    penalised_batch(x, u, Gn, Fn, phi=np.array([0.5]), lam_fpeak=np.array([1e-3]), max_iter=5)
    return time.perf_counter() - t0


if __name__ == "__main__":
    print(f"PMF kernels compiled and cached in {warm_up():.1f} s")
