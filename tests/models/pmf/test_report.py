"""PMF report tables are data (no files): PMF5's normalisation, shares and residual statistics."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.pmf.core import fit_pmf
from models.pmf.report import TABLES_WITHOUT_INDEX, pmf_tables, profile_tables, scaled_residuals


@pytest.fixture(scope="module")
def solution():
    rng = np.random.default_rng(0)
    G = rng.gamma(2.0, 1.0, (60, 2))
    F = np.array([[1.0, 0.5, 0.0, 0.2, 0.6], [0.0, 0.3, 1.0, 0.4, 0.4]])
    x = G @ F + 0.01
    u = 0.05 * x + 0.01
    sp = ["a", "b", "c", "d", "PM2.5"]
    return x, u, fit_pmf(x, u, 2, starts=3, seed=1, species=sp)


def test_tables_keep_the_model_and_normalise_contributions(solution):
    x, u, res = solution
    conc, pct, contrib = profile_tables(res)
    assert np.allclose(contrib.mean(axis=0), 1.0)
    assert np.allclose(contrib.to_numpy() @ conc.to_numpy().T, res.G @ res.F)  # same model
    assert np.allclose(pct.sum(axis=1), 100.0)
    assert list(conc.index) == res.species and list(contrib.columns) == ["factor_1", "factor_2"]


def test_pmf_tables_names_order_and_share_of_total(solution):
    x, u, res = solution
    tables = pmf_tables(x, u, res, total="PM2.5")
    assert list(tables) == [
        "profiles_concentration",
        "profiles_percent_of_species",
        "contributions_normalised",
        "residual_diagnostics",
        "runs",
        "factor_share_of_total",
    ]
    share = tables["factor_share_of_total"]
    assert isinstance(share, pd.Series) and share.name == "percent_of_PM2.5"
    assert share.sum() == pytest.approx(100.0)
    assert "factor_share_of_total" not in pmf_tables(x, u, res, total="NOx")
    diag = tables["residual_diagnostics"]
    r = scaled_residuals(x, u, res)
    assert diag["q_over_n"].to_numpy() == pytest.approx((r**2).mean(axis=0))
    assert (diag["r2_observed_modelled"] > 0.99).all()
    assert set(TABLES_WITHOUT_INDEX) <= set(tables)
