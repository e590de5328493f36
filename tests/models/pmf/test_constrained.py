"""Constrained runs and penalised Fpeak (PMF 5.0): pulls cost dQ, held cells hold, phi = 0 is free."""

from __future__ import annotations

import numpy as np
import pytest

from models.pmf.constrained import (
    ACCEPTABLE_DQ_PERCENT,
    Constraint,
    constrained_run,
    normalised_reference,
)
from models.pmf.core import fit_pmf
from models.pmf.fpeak import penalised_fpeak


def synthetic(n=100, m=9, p=3, seed=0):
    """Known non-negative G, F; data = GF + Gaussian noise of the stated uncertainty."""
    rng = np.random.default_rng(seed)
    F = rng.gamma(0.6, 1.0, (p, m)) * (rng.random((p, m)) > 0.3)
    G = rng.gamma(2.0, 1.0, (n, p))
    clean = G @ F
    u = 0.05 * clean + 0.02
    x = np.clip(clean + rng.normal(0, 1, clean.shape) * u, 1e-4, None)
    return x, u


@pytest.fixture(scope="module")
def fitted():
    x, u = synthetic()
    base = fit_pmf(x, u, 3, starts=4, seed=1)
    G0, F0, q0 = normalised_reference(x, u, base)
    return x, u, base, F0


def _largest(F0, k):
    return int(np.argmax(F0[k]))


def test_reference_is_the_base_on_the_profile_table_scale(fitted):
    x, u, base, F0 = fitted
    G0, F0b, q0 = normalised_reference(x, u, base)
    assert np.allclose(G0.mean(axis=0), 1.0)
    # same model as the base (the refit only finishes its convergence)
    assert np.abs(G0 @ F0b - base.G @ base.F).max() < 1e-2 * np.abs(base.G @ base.F).max()
    assert q0 == pytest.approx(base.q_robust, rel=1e-3)


def test_pull_down_lowers_the_element_at_a_positive_dq_within_the_limit(fitted):
    x, u, base, F0 = fitted
    j = _largest(F0, 0)
    res = constrained_run(x, u, base, [Constraint("pull down", 1, species=f"s{j}", dq=5.0)])
    row = res.constraints.iloc[0]
    assert row["achieved"] < row["base"] and row["change"] < 0
    assert row["base"] == pytest.approx(F0[0, j])
    assert res.F[0, j] == pytest.approx(row["achieved"])
    assert 0 < res.dq_robust <= 5.0 * 1.001
    assert res.dq_robust >= 0.5 * 5.0  # pulled maximally: most of the budget is used
    assert res.q_robust == pytest.approx(res.q_robust_base + res.dq_robust)
    assert res.dq_robust_percent == pytest.approx(100 * res.dq_robust / res.q_robust_base)
    assert res.acceptable == (res.dq_robust_percent <= ACCEPTABLE_DQ_PERCENT)
    assert "1 %" in res.guidance
    assert np.allclose(res.G.mean(axis=0), 1.0)  # contributions stay normalised
    assert list(res.profiles().columns) == ["factor_1", "factor_2", "factor_3"]


def test_pull_up_raises_and_a_larger_budget_pulls_further(fitted):
    x, u, base, F0 = fitted
    j = _largest(F0, 1)
    small = constrained_run(x, u, base, [Constraint("pull up", 2, species=j, dq=1.0)])
    large = constrained_run(x, u, base, [Constraint("pull up", 2, species=j, dq_percent=1.0)])
    assert F0[1, j] < small.F[1, j] < large.F[1, j]
    assert 0 < small.dq_robust <= 1.001
    assert large.constraints.loc[0, "dq_limit"] == pytest.approx(
        0.01 * large.q_robust_base, rel=1e-3
    )


def test_set_to_zero_gives_zero_and_set_to_value_holds_the_value(fitted):
    x, u, base, F0 = fitted
    j = _largest(F0, 2)
    zero = constrained_run(x, u, base, [Constraint("set to zero", 3, species=j)])
    assert zero.F[2, j] == 0.0 and zero.constraints.loc[0, "achieved"] == 0.0
    assert zero.dq_robust > 0
    held = constrained_run(
        x, u, base, [Constraint("set to value", 3, species=j, value=0.5 * F0[2, j])]
    )
    assert held.F[2, j] == pytest.approx(0.5 * F0[2, j])
    assert 0 < held.dq_robust < zero.dq_robust  # half way costs less than all the way


def test_contribution_constraints(fitted):
    x, u, base, F0 = fitted
    zero = constrained_run(x, u, base, [Constraint("set to zero", 1, samples=[0, 1, 2])])
    assert np.all(zero.G[[0, 1, 2], 0] == 0.0) and zero.dq_robust > 0
    down = constrained_run(x, u, base, [Constraint("pull down", 1, samples=["5", "6"], dq=3.0)])
    row = down.constraints.iloc[0]
    assert row["target"] == "contribution" and row["achieved"] < row["base"]
    assert 0 < down.dq_robust <= 3.0 * 1.001


def test_pull_ratio_to_value_moves_the_ratio_within_its_dq_and_reaches_it_when_cheap(fitted):
    """PMF 5.0's ratio expression: F[k, a] / F[k, b] pulled towards a value, dQ-limited."""
    x, u, base, F0 = fitted
    k = 0
    a, b = np.argsort(F0[k])[-2:]  # the factor's two largest species
    r0 = F0[k, a] / F0[k, b]
    goal = 0.5 * r0
    c = Constraint("pull ratio to value", k + 1, species=f"s{a}", over=f"s{b}", value=goal, dq=2.0)
    res = constrained_run(x, u, base, [c])
    row = res.constraints.iloc[0]
    assert row["target"] == "ratio" and row["element"] == f"s{a}/s{b}"
    assert row["base"] == pytest.approx(r0)
    assert row["achieved"] == pytest.approx(res.F[k, a] / res.F[k, b])
    assert goal < row["achieved"] < r0  # towards the value, not past it
    assert 0 < res.dq_robust <= 2.0 * 1.001
    # a larger budget gets closer; with a budget far above what the data resist, it arrives
    more = constrained_run(x, u, base, [Constraint(**{**c.__dict__, "dq": 50.0})])
    assert abs(more.constraints.loc[0, "achieved"] - goal) < abs(row["achieved"] - goal)
    cheap = constrained_run(x, u, base, [Constraint(**{**c.__dict__, "value": 0.98 * r0})])
    assert cheap.constraints.loc[0, "achieved"] == pytest.approx(0.98 * r0, rel=0.01)
    assert cheap.dq_robust < res.dq_robust
    with pytest.raises(ValueError, match="over"):
        Constraint("pull to value", 1, species="s0", over="s1", value=1.0)
    with pytest.raises(ValueError, match="positive"):
        Constraint("pull ratio to value", 1, species="s0", over="s1", value=-1.0)
    with pytest.raises(ValueError, match="itself"):
        constrained_run(
            x, u, base, [Constraint("pull ratio to value", 1, species="s0", over="s0", value=1)]
        )


def test_bad_constraints_are_refused(fitted):
    x, u, base, _ = fitted
    with pytest.raises(ValueError, match="unknown constraint kind"):
        Constraint("push", 1, species="s0")
    with pytest.raises(ValueError, match="either"):
        Constraint("pull down", 1, species="s0", samples=[1])
    with pytest.raises(ValueError, match="needs a value"):
        Constraint("pull to value", 1, species="s0")
    with pytest.raises(ValueError, match="factor 4"):
        constrained_run(x, u, base, [Constraint("set to zero", 4, species="s0")])
    with pytest.raises(ValueError, match="unknown species"):
        constrained_run(x, u, base, [Constraint("set to zero", 1, species="nope")])
    with pytest.raises(ValueError, match="no constraints"):
        constrained_run(x, u, base, [])


def test_fpeak_zero_costs_nothing_and_the_sign_sharpens_f_or_g(fitted):
    x, u, base, _ = fitted
    res = penalised_fpeak(x, u, base, (-0.5, 0.0, 0.5))
    t = res.table.set_index("strength")
    assert list(t.index) == [-0.5, 0.0, 0.5]
    assert abs(t.loc[0.0, "dq_robust"]) < 0.01  # no pull: the base (to the convergence tol)
    assert t.loc[0.0, "q_aux"] == 0.0
    assert t.loc[0.5, "dq_robust"] > 0 and t.loc[-0.5, "dq_robust"] > 0
    # positive Fpeak: sharper profiles (more zeros in F); negative: sharper contributions
    assert t.loc[0.5, "share_zero_F"] > t.loc[0.0, "share_zero_F"]
    assert t.loc[-0.5, "share_zero_G"] > t.loc[0.0, "share_zero_G"]
    assert t["converged"].all()
    G, F = res.solutions[0.5]
    assert np.allclose(G.mean(axis=0), 1.0)
    # the pull acts during the fit: the solution is not a rotation of the base with the same Q
    assert t.loc[0.5, "q_robust"] == pytest.approx(res.q_robust_reference + t.loc[0.5, "dq_robust"])


def test_positive_fpeak_does_not_collapse_the_contributions_on_baton_rouge():
    """Regression: the unscaled pull fought the mean-1 scale and zeroed 99.7 % of G at +0.5."""
    from pathlib import Path

    from models.pmf.prep import detect_total, prepare
    from pipelines.tracing.pmf_io import read_pmf_input

    data = Path(__file__).resolve().parents[3] / "data" / "esat_examples"
    d = read_pmf_input(
        data / "Dataset-BatonRouge-con.csv.xz", data / "Dataset-BatonRouge-unc.csv.xz"
    )
    p = prepare(d.x, d.u, d.species, d.samples, total=detect_total(d.species))
    base = fit_pmf(p.x, p.u, 6, starts=3, seed=42)
    t = penalised_fpeak(p.x, p.u, base, (0.5, 1.0)).table.set_index("strength")
    assert (t["share_zero_G"] < 0.2).all(), t
    assert (t["dq_robust_percent"] < 5.0).all(), t
    # and the stronger pull costs at least as much
    assert t.loc[1.0, "dq_robust"] >= t.loc[0.5, "dq_robust"] - 1e-6 * base.q_robust
