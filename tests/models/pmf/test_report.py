"""PMF report tables are data (no files): PMF5's normalisation, shares and residual statistics."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.pmf.core import fit_pmf
from models.pmf.report import (
    TABLES_WITHOUT_INDEX,
    normalise,
    observed_predicted_series,
    pmf_tables,
    profile_tables,
    scaled_residuals,
)


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
        "profiles_percent_of_factor_total",
        "contributions_normalised",
        "contributions_total_variable",
        "factor_share_of_total",
        "residuals",
        "scaled_residuals",
        "observed_predicted_regression",
        "residual_diagnostics",
        "runs",
    ]
    share = tables["factor_share_of_total"]
    assert isinstance(share, pd.Series) and share.name == "percent_of_PM2.5"
    assert share.sum() == pytest.approx(100.0)
    without = pmf_tables(x, u, res, total="NOx")
    assert "factor_share_of_total" not in without and "contributions_total_variable" not in without
    diag = tables["residual_diagnostics"]
    r = scaled_residuals(x, u, res)
    assert diag["q_over_n"].to_numpy() == pytest.approx((r**2).mean(axis=0))
    assert (diag["r2_observed_modelled"] > 0.99).all()
    assert set(TABLES_WITHOUT_INDEX) <= set(tables)


def test_percent_of_factor_total_and_contributions_in_total_units(solution):
    x, u, res = solution
    tables = pmf_tables(x, u, res, total="PM2.5")
    conc = tables["profiles_concentration"]
    pft = tables["profiles_percent_of_factor_total"]
    assert "PM2.5" not in pft.index and list(pft.index) == ["a", "b", "c", "d"]
    assert np.allclose(pft.sum(axis=0), 100.0)
    # % of factor total: the factor's profile over the species other than the total
    assert pft.loc["b", "factor_1"] == pytest.approx(
        100 * conc.loc["b", "factor_1"] / conc.loc[["a", "b", "c", "d"], "factor_1"].sum()
    )
    mass = tables["contributions_total_variable"]
    assert mass.shape == (60, 2) and list(mass.index) == res.samples
    # PMF5's mass contributions: G x F[total]; they add up to the modelled total variable
    modelled_total = (res.G @ res.F)[:, res.species.index("PM2.5")]
    assert np.allclose(mass.sum(axis=1), modelled_total)
    assert np.allclose(
        mass["factor_2"],
        tables["contributions_normalised"]["factor_2"] * conc.loc["PM2.5", "factor_2"],
    )
    # shares of the total are the shares of the mean mass contributions
    assert np.allclose(tables["factor_share_of_total"], 100 * mass.mean() / mass.mean().sum())


def test_residual_matrices_and_observed_predicted(solution):
    x, u, res = solution
    x = x.copy()
    x[3, 1] = np.nan  # a missing observation
    tables = pmf_tables(x, u, res)
    model = res.G @ res.F
    resid, scaled = tables["residuals"], tables["scaled_residuals"]
    assert resid.shape == (60, 5) and list(resid.columns) == res.species
    assert list(resid.index) == res.samples
    np.testing.assert_allclose(resid.to_numpy(), x - model)
    np.testing.assert_allclose(scaled.to_numpy(), (x - model) / u)
    reg = tables["observed_predicted_regression"]
    assert list(reg.columns) == ["slope", "intercept", "r2", "n"] and list(reg.index) == res.species
    assert reg.loc["b", "n"] == 59 and reg.loc["a", "n"] == 60
    ok = np.isfinite(x[:, 1])
    slope, icpt = np.polyfit(x[ok, 1], model[ok, 1], 1)  # predicted on observed
    assert reg.loc["b", "slope"] == pytest.approx(slope) and reg.loc[
        "b", "intercept"
    ] == pytest.approx(icpt)
    assert (reg["r2"] > 0.99).all() and np.allclose(reg["slope"], 1.0, atol=0.05)
    series = observed_predicted_series(x, res)
    assert list(series) == res.species
    s = series["c"]
    assert list(s.columns) == ["observed", "predicted", "residual"] and list(s.index) == res.samples
    np.testing.assert_allclose(s["predicted"], model[:, 2])
    np.testing.assert_allclose(s["residual"], x[:, 2] - model[:, 2])


def test_normalise_keeps_the_model():
    rng = np.random.default_rng(3)
    G, F = rng.gamma(2.0, 1.0, (30, 3)) * [1.0, 50.0, 0.01], rng.random((3, 4))
    Gn, Fn, scale = normalise(G, F)
    assert np.allclose(Gn.mean(axis=0), 1.0) and np.allclose(Gn @ Fn, G @ F)
    assert np.allclose(scale, G.mean(axis=0))
