"""BS-DISP (PMF 5.0): no swaps on a well-defined solution, swaps when two factors are alike."""

from __future__ import annotations

import numpy as np
import pytest

from models.pmf.bsdisp import BSDISP_LEVELS, block_rows, bsdisp
from models.pmf.core import fit_pmf
from models.pmf.error_estimates import bootstrap


def synthetic(n=80, m=8, seed=0, split=False):
    """Three known factors; ``split``: two true sources fitted with three factors.

    Fitting three factors to two sources gives two near-identical factors (one source shared
    between them in any proportion): a badly determined solution.
    """
    rng = np.random.default_rng(seed)
    F = rng.gamma(0.6, 1.0, (3, m)) * (rng.random((3, m)) > 0.3)
    G = rng.gamma(2.0, 1.0, (n, 3))
    if split:
        G[:, 2] = 0.0
    clean = G @ F
    u = 0.05 * clean + 0.02
    x = np.clip(clean + rng.normal(0, 1, clean.shape) * u, 1e-4, None)
    return x, u


@pytest.fixture(scope="module")
def well_defined():
    x, u = synthetic()
    base = fit_pmf(x, u, 3, starts=4, seed=1)
    return x, u, base, bsdisp(x, u, base, replicates=3, seed=2)


def test_well_defined_solution_has_no_swaps_and_every_case_accepted(well_defined):
    x, u, base, res = well_defined
    sw = res.swaps.set_index("dq_max")
    assert list(sw.index) == list(BSDISP_LEVELS) == [0.5, 1.0, 2.0, 4.0]
    assert (sw[["factor_1", "factor_2", "factor_3"]].loc[4.0] == 0).all()
    assert (sw["accepted_percent"] == 100.0).all()
    assert (sw["trials"] == 2 * 8 * 3).all()
    assert res.summary["best_fit_swaps"] == 0 and res.summary["disp_swap_replicates"] == 0
    assert len(res.mapping) == 3 * 3 and (res.mapping["r"] > 0.9).all()


def test_intervals_are_on_the_profile_table_scale_and_widen_with_dqmax(well_defined):
    x, u, base, res = well_defined
    iv = res.intervals
    assert len(iv) == 3 * 8 * 4
    conc = base.F * base.G.mean(axis=0)[:, None]  # the profile table (concentration units)
    one = iv[iv.dq_max == 4.0].sort_values(["factor", "species"])
    assert np.allclose(one["base"].to_numpy(), conc.ravel())
    assert (iv["low"] <= iv["high"]).all() and (iv["low"] >= 0).all()
    assert (iv["low"] <= iv["low_p5"] + 1e-12).all() and (
        iv["high_p95"] <= iv["high"] + 1e-12
    ).all()
    # a large profile value lies inside its BS-DISP interval at dQmax = 4
    big = one[one["base"] > 0.2 * one["base"].max()]
    assert ((big["low"] <= big["base"]) & (big["base"] <= big["high"])).mean() >= 0.8
    # nested levels: the interval at dQmax 4 contains the one at 0.5
    a = iv[iv.dq_max == 0.5].set_index(["factor", "species"])
    b = iv[iv.dq_max == 4.0].set_index(["factor", "species"])
    assert (b["low"] <= a["low"] + 1e-9).all() and (b["high"] >= a["high"] - 1e-9).all()
    assert ((b["high"] - b["low"]) > (a["high"] - a["low"])).mean() > 0.5


def test_badly_determined_solution_swaps():
    x, u = synthetic(split=True)
    base = fit_pmf(x, u, 3, starts=4, seed=1)
    res = bsdisp(x, u, base, replicates=3, seed=2)
    sw = res.swaps.set_index("dq_max")
    assert sw[["factor_1", "factor_2", "factor_3"]].loc[4.0].sum() > 0
    assert sw.loc[4.0, "accepted_percent"] < 100.0
    assert res.summary["disp_swap_replicates"] > 0


def test_bootstrap_stage_uses_the_rows_and_fits_of_error_estimates_bootstrap(well_defined):
    x, u, base, res = well_defined
    bs = bootstrap(x, u, base, replicates=3, seed=2)
    assert np.allclose(res.q, bs.q)
    rows = block_rows(80, 3, res.summary["block"], 2)
    assert rows.shape == (3, 80) and rows.min() >= 0 and rows.max() < 80


def test_species_subset_only_displaces_those():
    x, u = synthetic(n=60, m=6, seed=3)
    base = fit_pmf(x, u, 3, starts=3, seed=1)
    res = bsdisp(x, u, base, replicates=1, seed=2, species=["s1", 4], dq_max=(1.0,))
    iv = res.intervals
    done = iv.dropna(subset=["low"])
    assert set(done["species"]) == {"s1", "s4"} and iv["low"].isna().sum() == 3 * 4
    assert res.swaps["trials"].iloc[0] == 2 * 2
