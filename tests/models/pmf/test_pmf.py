"""PMF: recovery of known factors, Q definitions, reproducibility, robust mode, error estimates."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from models.pmf.core import fit_pmf, q_expected, q_values
from models.pmf.error_estimates import (
    DisplacementResult,
    bootstrap,
    displacement,
    match_factors,
)
from models.pmf.report import profile_tables

DATA = Path(__file__).resolve().parents[3] / "data" / "esat_examples"


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


def recovered(G, F, res) -> np.ndarray:
    """Cosine of every true profile with the fitted factor its contributions match."""
    order = match_factors(G, res.G).order
    a = F / np.linalg.norm(F, axis=1, keepdims=True)
    b = res.F[order] / np.linalg.norm(res.F[order], axis=1, keepdims=True)
    return (a * b).sum(axis=1)


def test_recovers_known_profiles_and_q_is_near_its_expectation():
    x, u, G, F = synthetic()
    res = fit_pmf(x, u, 3, starts=8, seed=1, robust=False)
    assert recovered(G, F, res).min() > 0.99
    assert match_factors(G, res.G).r_matched.min() > 0.99
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
    x, u, G, F = synthetic(seed=3, outliers=40)
    plain = fit_pmf(x, u, 3, starts=12, seed=2, robust=False)
    robust = fit_pmf(x, u, 3, starts=12, seed=2, robust=True)
    assert recovered(G, F, plain).min() < 0.9  # 40 gross outliers bend the plain fit
    assert recovered(G, F, robust).min() > 0.99  # robust mode recovers every profile
    assert robust.q_robust < plain.q_robust


def test_ls_nmf_engine_reaches_the_same_solution():
    x, u, G, F = synthetic(n=100, m=10)
    res = fit_pmf(x, u, 3, starts=4, seed=1, robust=False, method="ls-nmf", max_iter=5000)
    assert recovered(G, F, res).min() > 0.98


def test_bad_arguments_are_refused():
    x, u, _, _ = synthetic(n=30, m=6)
    with pytest.raises(ValueError, match="shape"):
        fit_pmf(x, u[:, :5], 2)
    with pytest.raises(ValueError, match="> 0"):
        fit_pmf(x, np.where(u > u.mean(), 0.0, u), 2)
    with pytest.raises(ValueError, match="factors"):
        fit_pmf(x, u, 6)


def test_missing_cells_get_zero_weight():
    x, u, G, F = synthetic(n=150, m=10, seed=5)
    x = x.copy()
    x[np.random.default_rng(0).random(x.shape) < 0.05] = np.nan
    res = fit_pmf(x, u, 3, starts=4, seed=1, robust=False)
    assert np.isfinite(res.q_true) and recovered(G, F, res).min() > 0.98


def test_match_factors_tells_apart_factors_one_species_dominates():
    """Two factors whose profiles have cosine 0.9999 (one species carries the mass) but distinct
    time series: the contributions tell them apart where a profile cosine could not."""
    rng = np.random.default_rng(0)
    G = rng.gamma(2.0, 1.0, (200, 2))
    F_ref = np.array([[100.0, 1.0, 0.0], [100.0, 0.0, 1.0]])
    # the other solution's factor 0 has factor 0's contributions but a profile that, by cosine,
    # is closer to reference factor 1 (and the reverse): a profile match would report a swap
    F_other = np.array([[100.0, 0.4, 0.6], [100.0, 0.6, 0.4]])
    a = F_ref / np.linalg.norm(F_ref, axis=1, keepdims=True)
    b = F_other / np.linalg.norm(F_other, axis=1, keepdims=True)
    cos = a @ b.T
    assert cos.min() > 0.9999 and cos[0, 1] > cos[0, 0]  # cosine points the wrong way
    G_other = G * [1.7, 0.3] + rng.normal(0, 0.05, G.shape)  # scale-free: r ignores units
    m = match_factors(G, G_other)
    assert list(m.assigned) == [0, 1] and list(m.order) == [0, 1] and not m.swapped
    assert m.r_matched.min() > 0.99
    swapped = match_factors(G, G_other[:, ::-1])
    assert swapped.swapped and list(swapped.assigned) == [1, 0] and list(swapped.order) == [1, 0]


def test_match_factors_pmf5_mapping_is_many_to_one_with_a_threshold():
    rng = np.random.default_rng(1)
    G = rng.gamma(2.0, 1.0, (300, 3))
    noise = rng.gamma(2.0, 1.0, 300)
    other = np.column_stack([G[:, 0], G[:, 0] + 0.1 * G[:, 1], noise])  # 2 x factor 0, 1 unrelated
    m = match_factors(G, other)
    assert list(m.assigned) == [0, 0, -1]  # r < 0.6: unmapped
    assert list(m.best_for_reference()) == [0, -1, -1]
    assert m.r.shape == (3, 3) and m.swapped
    assert list(match_factors(G, other, threshold=-1.0).assigned)[:2] == [0, 0]
    with pytest.raises(ValueError, match="same samples"):
        match_factors(G, other[:10])


def test_bootstrap_mapping_table_and_disp_on_the_profile_tables_scale():
    x, u, _, _ = synthetic(n=120, m=8, seed=4)
    base = fit_pmf(x, u, 3, starts=4, seed=1)
    conc, _, _ = profile_tables(base)
    bs = bootstrap(x, u, base, replicates=8, seed=2)
    assert bs.replicates == 8 and (bs.mapped_percent >= 80).all()
    # every bootstrap factor of every replicate is mapped to one base factor or unmapped
    assert (bs.counts.sum(axis=0) + bs.unmapped_boot == 8).all()
    table = bs.mapping
    assert list(table["base_factor"]) == ["factor_1", "factor_2", "factor_3", "unmapped"]
    assert [c for c in table.columns if c.startswith("boot_factor_")] == [
        "boot_factor_1",
        "boot_factor_2",
        "boot_factor_3",
    ]
    assert table.loc[:2, "unmapped"].tolist() == bs.unmapped_base.tolist()
    assert np.allclose(table.loc[:2, "mapped_percent"], bs.mapped_percent)
    np.testing.assert_allclose(bs.base_F, conc.to_numpy().T)  # the profile table's scale
    pct = bs.profile_percentiles(base.species)
    assert pct["base_within_p5_p95"].mean() > 0.8
    d = displacement(x, u, base, dq_max=(4, 16))
    iv = d.intervals
    base_conc = iv.apply(lambda r: conc.loc[r["species"], f"factor_{r['factor']}"], axis=1)
    # intervals in concentration units, around the base refit to DISP's convergence criterion
    np.testing.assert_allclose(iv["base"], base_conc, rtol=0.02, atol=1e-3 * base_conc.max())
    assert ((iv["low"] <= iv["base"] + 1e-12) & (iv["high"] >= iv["base"] - 1e-12)).all()
    wider = iv[iv.dq_max == 16].set_index(["factor", "species"])
    narrow = iv[iv.dq_max == 4].set_index(["factor", "species"])
    assert ((wider["high"] - wider["low"]) >= (narrow["high"] - narrow["low"]) - 1e-12).all()
    assert list(d.swaps["dq_max"]) == [4, 16]
    summary = d.summary()
    assert list(summary["dq_max"]) == [4, 16] and "contributions" in summary["match"].iloc[0]
    assert (
        summary["total_swaps"] == summary[["factor_1", "factor_2", "factor_3"]].sum(axis=1)
    ).all()


def test_disp_well_defined_reads_the_smallest_dq_max():
    swaps = pd.DataFrame({"dq_max": [8, 4], "factor_1": [3, 0], "factor_2": [1, 0]})
    assert DisplacementResult(pd.DataFrame(), swaps, 0.0).well_defined
    swaps.loc[1, "factor_2"] = 2  # a swap at dQmax 4
    d = DisplacementResult(pd.DataFrame(), swaps, 0.0)
    assert not d.well_defined and d.summary()["total_swaps"].tolist() == [4, 2]


def test_base_profile_lies_within_its_bootstrap_range_on_baton_rouge():
    """EPA PMF5's Baton Rouge example: on the old raw scale only 8-19 of 41 species were inside."""
    from models.pmf.prep import prepare
    from pipelines.tracing.pmf_io import read_pmf_input

    data = read_pmf_input(
        DATA / "Dataset-BatonRouge-con.csv.xz", DATA / "Dataset-BatonRouge-unc.csv.xz"
    )
    prep = prepare(data.x, data.u, data.species, data.samples, total="TNMOC")
    base = fit_pmf(prep.x, prep.u, 6, starts=4, seed=42, species=prep.species)
    bs = bootstrap(prep.x, prep.u, base, replicates=30, seed=42)
    pct = bs.profile_percentiles(prep.species)
    inside = pct.groupby("factor")["base_within_p5_p95"].mean()
    assert len(prep.species) == 41 and (inside >= 0.8).all(), inside
    assert (bs.mapped_percent >= 80).all()
