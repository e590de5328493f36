"""The scikit-learn-style PMF estimator: same numbers as the functional API, estimator contract."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from models.pmf.core import fit_pmf
from models.pmf.estimator import PMF


def synthetic(n=200, m=12, p=3, seed=0):
    """Known non-negative G, F; data = GF + Gaussian noise of the stated uncertainty."""
    rng = np.random.default_rng(seed)
    F = rng.gamma(0.6, 1.0, (p, m)) * (rng.random((p, m)) > 0.3)
    G = rng.gamma(2.0, 1.0, (n, p))
    clean = G @ F
    u = 0.05 * clean + 0.02
    x = np.clip(clean + rng.normal(0, 1, clean.shape) * u, 1e-4, None)
    return x, u, G, F


def test_fit_returns_self_with_the_same_solution_as_fit_pmf():
    x, u, _, _ = synthetic(n=80, m=8, seed=4)
    est = PMF(3, starts=4, seed=7)
    assert est.fit(x, u) is est
    ref = fit_pmf(x, u, 3, starts=4, seed=7)
    assert est.q_true_ == ref.q_true and est.q_robust_ == ref.q_robust
    assert est.q_exp_ == ref.q_exp and est.best_run_ == ref.best
    assert np.array_equal(est.profiles_, ref.F) and np.array_equal(est.contributions_, ref.G)
    assert est.profiles_.shape == (3, 8) and est.contributions_.shape == (80, 3)
    assert est.n_features_in_ == 8
    assert len(est.runs_) == 4 and est.runs_["best"].sum() == 1
    np.testing.assert_allclose(est.reconstruct(), ref.G @ ref.F)


def test_every_parameter_reaches_the_engine():
    x, u, _, _ = synthetic(n=60, m=8, seed=1)
    est = PMF(2, starts=3, seed=3, method="ls-nmf", robust=False, max_iter=300, window=20)
    est.fit(x, u)
    ref = fit_pmf(x, u, 2, starts=3, seed=3, method="ls-nmf", robust=False, max_iter=300, window=20)
    assert est.q_true_ == ref.q_true
    assert est.result_.settings == ref.settings
    assert (
        PMF(2, starts=3, seed=4).fit(x, u).q_robust_ != PMF(2, starts=3, seed=3).fit(x, u).q_robust_
    )


def test_dataframes_name_species_and_samples():
    x, u, _, _ = synthetic(n=40, m=6, seed=2)
    cols = [f"sp{j}" for j in range(6)]
    idx = pd.date_range("2024-01-01", periods=40, freq="D").strftime("%Y-%m-%d")
    est = PMF(2, starts=2, seed=0).fit(pd.DataFrame(x, idx, cols), pd.DataFrame(u, idx, cols))
    assert list(est.feature_names_in_) == cols
    assert est.result_.species == cols and est.result_.samples[0] == "2024-01-01"
    est.fit(x, u)  # refit on arrays: the names of the previous fit are gone
    assert not hasattr(est, "feature_names_in_")


def test_estimator_contract_params_and_clone():
    est = PMF(4, starts=5, robust=False)
    params = est.get_params()
    assert params["n_factors"] == 4 and params["starts"] == 5 and params["robust"] is False
    assert set(params) == {
        "n_factors",
        "starts",
        "seed",
        "method",
        "robust",
        "alpha",
        "max_iter",
        "tol",
        "window",
    }
    assert est.set_params(seed=9) is est and est.seed == 9
    with pytest.raises(ValueError, match="invalid parameter"):
        est.set_params(factors=2)
    assert not hasattr(est, "profiles_")  # nothing learned before fit
    with pytest.raises(RuntimeError, match="not fitted"):
        est.reconstruct()
    base = pytest.importorskip("sklearn.base")
    twin = base.clone(est)
    assert twin is not est and twin.get_params() == est.get_params()


def test_bad_input_is_refused_by_the_engine():
    x, u, _, _ = synthetic(n=30, m=6)
    with pytest.raises(ValueError, match="factors"):
        PMF(6).fit(x, u)


def test_transform_gives_contributions_of_new_samples():
    from models.pmf.error_estimates import match_factors

    x, u, G, _ = synthetic(n=240, m=10, seed=5)
    est = PMF(3, starts=4, seed=1).fit(x[:180], u[:180])
    # the training samples: transform reproduces the fitted contributions
    again = est.transform(x[:180], u[:180])
    assert np.allclose(again, est.contributions_, rtol=0.05, atol=0.02 * est.contributions_.mean())
    # new samples: their contributions follow the true sources (up to order and scale)
    new = est.transform(x[180:], u[180:])
    assert new.shape == (60, 3) and (new >= 0).all()
    assert (match_factors(G[180:], new).r_matched > 0.95).all()
    with pytest.raises(ValueError, match="n x 10"):
        est.transform(x[:5, :4], u[:5, :4])
    with pytest.raises(RuntimeError, match="not fitted"):
        PMF(3).transform(x, u)


def test_warm_up_compiles_every_kernel_a_run_uses(tmp_path):
    """``make setup``'s warm-up leaves nothing to compile for a fit, DISP and Fpeak."""
    import subprocess
    import sys

    env = {"NUMBA_CACHE_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    root = Path(__file__).resolve().parents[3]
    run = [sys.executable, "-m", "models.pmf.warmup"]
    subprocess.run(run, check=True, cwd=root, env=env, capture_output=True)
    cached = {p.name.split(".")[0] for p in tmp_path.rglob("*.nbi")}
    assert "kernels" in {c.split("-")[0] for c in cached}, cached
    # a second process finds the kernels in the cache: nothing compiles
    probe = (
        "import numba, time, numpy as np;"
        "from models.pmf.core import fit_pmf;"
        "from models.pmf.kernels import _batch, _pen_batch;"
        "r = fit_pmf(np.random.default_rng(1).random((20, 6)) + 0.1, np.full((20, 6), 0.1), 3,"
        " starts=2, max_iter=20);"
        "print(_batch.stats.cache_hits, _batch.stats.cache_misses)"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], check=True, cwd=root, env=env, capture_output=True, text=True
    )
    hits, misses = out.stdout.split()[-2:]
    assert hits != "Counter()" and misses == "Counter()", out.stdout
