"""Kriging on the Meuse survey (read from the installed scikit-gstat): CV, IDW, pykrige parity."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.soil.kriging import (
    fit_variogram,
    idw,
    idw_loo,
    indicator_kriging,
    kriging_loo,
    ordinary_kriging,
    regular_grid,
)
from pipelines.soil.sources import meuse_file


@pytest.fixture(scope="module")
def meuse():
    d = pd.read_csv(meuse_file())
    return d[["x", "y"]].to_numpy(float), d


@pytest.fixture(scope="module")
def zinc(meuse):
    xy, d = meuse
    z = np.log(d["zinc"].to_numpy(float))
    return xy, z, fit_variogram(xy, z)


def test_meuse_log_zinc_variogram_is_plausible(zinc):
    # gstat's documentation fits ln(zinc) by eye with vgm(.55, "Sph", 900, .05)
    _, _, vm = zinc
    assert vm.model == "spherical"
    assert 0.4 < vm.psill < 0.8 and 700 < vm.range < 1200 and 0 <= vm.nugget < 0.15


def test_kriging_beats_idw_on_log_zinc(zinc):
    xy, z, vm = zinc
    ok = kriging_loo(xy, z, vm)
    iv = idw_loo(xy, z)
    assert ok.rmse < 0.9 * iv.rmse  # measured 0.397 vs 0.514
    assert 0.7 < ok.msse < 1.5  # the kriging variance is about right
    assert abs(ok.me) < 0.05


def test_closed_form_loo_equals_explicit_loo(zinc):
    xy, z, vm = zinc
    fast = kriging_loo(xy, z, vm)
    slow = kriging_loo(xy, z, vm, n_neighbours=len(z) - 2)  # batched path, nearly all others
    explicit = []
    for i in range(0, len(z), 31):
        keep = np.arange(len(z)) != i
        e, v = ordinary_kriging(xy[keep], z[keep], xy[i : i + 1], vm)
        explicit.append((e[0] - z[i], v[0]))
    np.testing.assert_allclose(fast.errors[::31], [e for e, _ in explicit], atol=1e-9)
    np.testing.assert_allclose(fast.variance[::31], [v for _, v in explicit], atol=1e-9)
    assert abs(slow.rmse - fast.rmse) < 0.02


def test_matches_pykrige(zinc):
    from pykrige.ok import OrdinaryKriging

    xy, z, vm = zinc
    gx, gy = regular_grid(xy, resolution=200)
    ok = OrdinaryKriging(
        xy[:, 0],
        xy[:, 1],
        z,
        variogram_model="spherical",
        variogram_parameters={"sill": vm.sill, "range": vm.range, "nugget": vm.nugget},
    )
    zz, ss = ok.execute("grid", gx, gy)
    t = np.stack(np.meshgrid(gx, gy), -1).reshape(-1, 2)
    est, var = ordinary_kriging(xy, z, t, vm)
    np.testing.assert_allclose(est, np.asarray(zz).ravel(), atol=1e-8)
    np.testing.assert_allclose(var, np.asarray(ss).ravel(), atol=1e-8)


def test_local_neighbourhood_close_to_global_inside_the_data(zinc):
    xy, z, vm = zinc
    g, _ = ordinary_kriging(xy, z, xy + 25.0, vm)
    loc, _ = ordinary_kriging(xy, z, xy + 25.0, vm, n_neighbours=40)
    assert np.median(np.abs(g - loc)) < 0.02


def test_idw_exact_at_samples(meuse):
    xy, d = meuse
    z = d["lead"].to_numpy(float)
    np.testing.assert_allclose(idw(xy, z, xy[:5]), z[:5])


def test_indicator_kriging_probability(zinc):
    xy, z, _ = zinc
    exceeds = np.exp(z) > 300
    p, vm = indicator_kriging(xy, exceeds, xy + 10.0)
    assert ((p >= 0) & (p <= 1)).all()
    assert p[exceeds].mean() > 0.7 > 0.3 > p[~exceeds].mean()
    never, _ = indicator_kriging(xy, np.zeros(len(z), bool), xy[:3])
    assert never.tolist() == [0.0, 0.0, 0.0]


@pytest.mark.parametrize("model", ["spherical", "exponential", "gaussian"])
def test_model_forms_are_scikit_gstats(model):
    """The fitted parameters come from scikit-gstat, so the model must be its function."""
    from skgstat import models

    from features.soil.kriging import VariogramModel

    vm = VariogramModel(model=model, nugget=0.05, psill=0.6, range=900.0)
    h = np.array([10.0, 200.0, 450.0, 899.0, 900.0, 1500.0])
    ref = np.array([getattr(models, model)(x, 900.0, 0.6, 0.05) for x in h])
    np.testing.assert_allclose(vm(h), ref, rtol=1e-12)


def _dense_survey(n=20000, nugget_sd=0.3, seed=0):
    """A dense survey (~2 km spacing over 300 km): smooth structure at 8-20 km plus a nugget."""
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 300e3, (n, 2))
    smooth = (
        np.sin(xy[:, 0] / 20e3)
        + np.cos(xy[:, 1] / 15e3)
        + 0.5 * np.sin((xy[:, 0] + xy[:, 1]) / 8e3)
    )
    return xy, smooth + rng.normal(0, nugget_sd, n), rng


def test_loo_of_a_subset_equals_the_full_loo_at_those_samples():
    from features.soil.kriging import VariogramModel

    xy, z, rng = _dense_survey(n=600)
    vm = VariogramModel("spherical", 0.05, 0.5, 30e3)
    at = rng.choice(len(z), 50, replace=False)
    full = kriging_loo(xy, z, vm, n_neighbours=16)
    part = kriging_loo(xy, z, vm, n_neighbours=16, at=at)
    assert part.errors == pytest.approx(full.errors[at])
    assert part.variance == pytest.approx(full.variance[at])
    assert idw_loo(xy, z, n_neighbours=16, at=at).errors == pytest.approx(
        idw_loo(xy, z, n_neighbours=16).errors[at]
    )
    with pytest.raises(ValueError, match="local neighbourhood"):
        kriging_loo(xy, z, vm, at=at)


def test_a_dense_survey_variogram_sees_its_nugget_when_kriged_locally():
    """A random 1,500 of 20,000 samples has no pairs at the survey's spacing: its fit has no
    nugget and the local kriging variance is ~5x too small (MSSE ~5). Fitted for the
    neighbourhood (clusters, lags within it, short lags weighted), the nugget is found, the
    variance is right and kriging beats IDW."""
    xy, z, rng = _dense_survey()
    at = rng.choice(len(z), 3000, replace=False)
    broad = fit_variogram(xy, z)
    local = fit_variogram(xy, z, n_neighbours=32)
    assert 0.03 < local.nugget < 0.135  # the true nugget is 0.09
    ok_b = kriging_loo(xy, z, broad, n_neighbours=32, at=at)
    ok_l = kriging_loo(xy, z, local, n_neighbours=32, at=at)
    iv = idw_loo(xy, z, n_neighbours=32, at=at)
    assert ok_b.msse > 3 and 0.7 < ok_l.msse < 1.5
    assert ok_l.rmse < iv.rmse < ok_b.rmse


def test_an_indicator_without_variance_at_any_lag_is_a_pure_nugget_not_an_error():
    """Exceedances only at isolated points farther apart than the lag cutoff: every pair the
    experimental variogram holds is 0-0 or 1-1 (scikit-gstat cannot bound its fit); the fit
    falls back to a pure nugget and indicator kriging still gives probabilities."""
    rng = np.random.default_rng(5)
    dense = rng.uniform(0, 20e3, (3000, 2))  # a dense block of samples below the threshold
    far = np.column_stack([np.arange(1, 61) * 500e3, np.full(60, 1e6)])  # isolated exceedances
    xy = np.vstack([dense, far])
    exceeds = np.r_[np.zeros(len(dense)), np.ones(len(far))]
    vm = fit_variogram(xy, exceeds, n_neighbours=16)
    assert vm.psill == 0 and vm.nugget == pytest.approx(np.var(exceeds), rel=0.5)
    p, _ = indicator_kriging(xy, exceeds.astype(bool), dense[:200], n_neighbours=16)
    assert np.isfinite(p).all() and (0 <= p).all() and (p <= 1).all()
