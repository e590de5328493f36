"""PMF: recovery of known factors, Q definitions, reproducibility, robust mode, error estimates."""

from __future__ import annotations

import numpy as np
import pytest

from models.pmf.core import fit_pmf, q_expected, q_values
from models.pmf.error_estimates import bootstrap, displacement, fpeak, match_factors


def synthetic(n=200, m=12, p=3, seed=0, outliers=0):
    """Known non-negative G, F; data = GF + Gaussian noise of the stated uncertainty."""
    rng = np.random.default_rng(seed)
    F = rng.gamma(0.6, 1.0, (p, m)) * (rng.random((p, m)) > 0.3)  # sparse-ish profiles
    G = rng.gamma(2.0, 1.0, (n, p))
    clean = G @ F
    u = 0.05 * clean + 0.02
    x = np.clip(clean + rng.normal(0, 1, clean.shape) * u, 1e-4, None)
    if outliers:
        idx = rng.choice(x.size, outliers, replace=False)
        x.flat[idx] *= 20
    return x, u, G, F


def test_recovers_known_profiles_and_q_is_near_its_expectation():
    x, u, _, F = synthetic()
    res = fit_pmf(x, u, 3, starts=8, seed=1, robust=False)
    _, cos = match_factors(F, res.F)
    assert cos.min() > 0.99
    # with correct uncertainties Q(true) ~ Q_exp = nm - p(n+m)
    assert res.q_exp == q_expected(200, 12, 3) == 200 * 12 - 3 * 212
    assert 0.7 < res.q_true / res.q_exp < 1.3
    qt, qr = q_values(x, u, res.G, res.F)
    assert qt == pytest.approx(res.q_true) and qr <= qt
    table = res.runs_table()
    assert len(table) == 8 and table["best"].sum() == 1 and table["converged"].all()


def test_same_seed_same_answer_and_different_seed_different_starts():
    x, u, _, _ = synthetic(n=80, m=8)
    a = fit_pmf(x, u, 3, starts=4, seed=7)
    b = fit_pmf(x, u, 3, starts=4, seed=7)
    c = fit_pmf(x, u, 3, starts=4, seed=8)
    assert np.array_equal(a.F, b.F) and a.q_robust == b.q_robust
    assert [r.seed for r in a.runs] != [r.seed for r in c.runs]


def test_robust_mode_resists_outliers():
    x, u, _, F = synthetic(seed=3, outliers=40)
    plain = fit_pmf(x, u, 3, starts=12, seed=2, robust=False)
    robust = fit_pmf(x, u, 3, starts=12, seed=2, robust=True)
    assert match_factors(F, plain.F)[1].min() < 0.9  # 40 gross outliers bend the plain fit
    assert match_factors(F, robust.F)[1].min() > 0.99  # robust mode recovers every profile
    assert robust.q_robust < plain.q_robust


def test_ls_nmf_engine_reaches_the_same_solution():
    x, u, _, F = synthetic(n=100, m=10)
    res = fit_pmf(x, u, 3, starts=4, seed=1, robust=False, method="ls-nmf", max_iter=5000)
    assert match_factors(F, res.F)[1].min() > 0.98


def test_bad_arguments_are_refused():
    x, u, _, _ = synthetic(n=30, m=6)
    with pytest.raises(ValueError, match="shape"):
        fit_pmf(x, u[:, :5], 2)
    with pytest.raises(ValueError, match="> 0"):
        fit_pmf(x, np.where(u > u.mean(), 0.0, u), 2)
    with pytest.raises(ValueError, match="factors"):
        fit_pmf(x, u, 6)


def test_missing_cells_get_zero_weight():
    x, u, _, F = synthetic(n=150, m=10, seed=5)
    x = x.copy()
    x[np.random.default_rng(0).random(x.shape) < 0.05] = np.nan
    res = fit_pmf(x, u, 3, starts=4, seed=1, robust=False)
    assert np.isfinite(res.q_true) and match_factors(F, res.F)[1].min() > 0.98


def test_bootstrap_maps_a_well_defined_solution_and_disp_brackets_the_base():
    x, u, _, _ = synthetic(n=120, m=8, seed=4)
    base = fit_pmf(x, u, 3, starts=4, seed=1)
    bs = bootstrap(x, u, base, replicates=6, seed=2)
    assert (bs.mapping["mapped_percent"] >= 80).all()
    d = displacement(x, u, base, dq_max=(4, 16), up_steps=(0.05, 0.2), down_steps=(0.8, 0.5))
    iv = d.intervals
    assert ((iv["low"] <= iv["base"] + 1e-12) & (iv["high"] >= iv["base"] - 1e-12)).all()
    wider = iv[iv.dq_max == 16].set_index(["factor", "species"])
    narrow = iv[iv.dq_max == 4].set_index(["factor", "species"])
    assert ((wider["high"] - wider["low"]) >= (narrow["high"] - narrow["low"]) - 1e-12).all()
    assert list(d.swaps["dq_max"]) == [4, 16]


def test_fpeak_rotation_sharpens_profiles_at_a_q_cost():
    x, u, _, _ = synthetic(n=120, m=8, seed=6)
    base = fit_pmf(x, u, 3, starts=4, seed=1)
    table, sols = fpeak(x, u, base, (0.0, 0.3))
    zero = table.set_index("strength")
    assert zero.loc[0.3, "share_of_near_zero_F"] >= zero.loc[0.0, "share_of_near_zero_F"]
    assert zero.loc[0.3, "dq_robust"] >= zero.loc[0.0, "dq_robust"] - 1e-6
