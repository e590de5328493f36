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
