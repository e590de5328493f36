"""Wind helpers: compass names and u/v components."""

from __future__ import annotations

import numpy as np
import pytest

from features.wind import COMPASS16, VALUE_MAPS, wind_components


def test_compass_points_and_calm():
    assert len(COMPASS16) == 17 and COMPASS16["N"] == 0.0 and COMPASS16["E"] == 90.0
    assert COMPASS16["SSW"] == 202.5 and COMPASS16["NNW"] == 337.5
    assert np.isnan(COMPASS16["CV"]) and VALUE_MAPS["compass16"] is COMPASS16


@pytest.mark.parametrize(
    ("from_deg", "u", "v"),
    [(0.0, 0.0, -2.0), (90.0, -2.0, 0.0), (180.0, 0.0, 2.0), (270.0, 2.0, 0.0)],
)
def test_components_point_where_the_wind_blows_to(from_deg, u, v):
    uu, vv = wind_components(np.array([2.0]), np.array([from_deg]))
    assert uu[0] == pytest.approx(u, abs=1e-12) and vv[0] == pytest.approx(v, abs=1e-12)


def test_components_keep_the_speed_and_propagate_nan():
    rng = np.random.default_rng(1)
    ws, wd = rng.gamma(2, 2, 50), rng.uniform(0, 360, 50)
    u, v = wind_components(ws, wd)
    assert np.allclose(np.hypot(u, v), ws)
    u, v = wind_components(np.array([1.0, np.nan]), np.array([np.nan, 10.0]))
    assert np.isnan(u).all() and np.isnan(v).all()
