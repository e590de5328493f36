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


def test_cumulated_wind_speed_is_decoded_per_hour():
    """Iws-style records: a network with only the cumulated speed forecast without wind."""
    import numpy as np
    import pandas as pd
    import xarray as xr

    from features.forecast_features import panel_from_dataset
    from features.wind import COMPASS16, decumulate_wind_speed

    iws = np.array([[0.89, 1.78, 2.67, 0.89, 1.79, 0.45, 0.89, 5.0, 1.0]])
    cbwd = ["NW", "NW", "NW", "SE", "SE", "CV", "CV", "CV", "CV"]
    wd = np.array([[COMPASS16[c.upper()] for c in cbwd]])
    got = decumulate_wind_speed(iws, wd)
    np.testing.assert_allclose(got, [[np.nan, 0.89, 0.89, 0.89, 0.9, 0.45, 0.44, 4.11, 1.0]])
    iws_gap = iws.copy()
    iws_gap[0, 2] = np.nan  # after a missing hour the speed is unknown
    gap = decumulate_wind_speed(iws_gap, wd)[0]
    assert np.isnan(gap[2]) and gap[3] == pytest.approx(0.89)  # a new direction restarts
    iws_gap[0, 4] = np.nan
    assert np.isnan(decumulate_wind_speed(iws_gap, wd)[0, 5]) is np.False_  # CV after SE: new
    iws_gap[0, 6] = np.nan
    assert np.isnan(decumulate_wind_speed(iws_gap, wd)[0, 7])  # same direction after a gap
    # without a direction, a fall marks the restart
    np.testing.assert_allclose(decumulate_wind_speed(iws)[0, 3], 0.89)
    times = pd.date_range("2015-01-01", periods=9, freq="h")
    ds = xr.Dataset(
        {
            "wind_speed_cumulated": (("station", "time"), iws),
            "wind_from_direction": (("station", "time"), wd),
        },
        coords={"station": ["S"], "time": times},
    )
    panel = panel_from_dataset(ds, "Asia/Shanghai")
    np.testing.assert_allclose(panel.values["wind_speed"], got)
    assert {"wind_u", "wind_v"} <= set(panel.values)
    assert panel.values["wind_u"][0, 2] == pytest.approx(0.89 * np.sin(np.radians(45)))


def test_from_direction_inverts_wind_components():
    from features.wind import from_direction, wind_components

    d = np.array([0.0, 45.0, 90.0, 180.0, 270.0, 315.0, 359.0])
    u, v = wind_components(np.full(d.shape, 2.5), d)
    assert from_direction(u, v) == pytest.approx(d, abs=1e-9)
    assert np.isnan(from_direction(np.array([np.nan]), np.array([1.0]))[0])
