"""Stagnation features: hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from features.stagnation import (
    boundary_layer_height_proxy,
    calm_hours,
    pressure_tendency,
    relative_humidity,
    solar_elevation_deg,
    ventilation_index,
)


def _magnus(t: float) -> float:
    return 6.1094 * math.exp(17.625 * t / (243.04 + t))


def test_relative_humidity_by_hand():
    # e_s(10) / e_s(20) = 12.272 / 23.367 hPa
    assert float(relative_humidity(20.0, 10.0)) == pytest.approx(
        100 * _magnus(10) / _magnus(20), rel=1e-12
    )
    assert float(relative_humidity(20.0, 10.0)) == pytest.approx(52.54, abs=0.01)
    assert float(relative_humidity(-5.0, -5.0)) == pytest.approx(100.0)
    assert float(relative_humidity(5.0, 7.0)) == 100.0  # dew point above temperature: capped
    assert np.isnan(relative_humidity(np.nan, 1.0))
    np.testing.assert_allclose(relative_humidity([0.0, 30.0], [-10.0, 20.0]), [
        100 * _magnus(-10) / _magnus(0), 100 * _magnus(20) / _magnus(30)
    ])  # fmt: skip


def test_ventilation_index():
    np.testing.assert_allclose(ventilation_index([0.5, 3.0], [200.0, 1200.0]), [100.0, 3600.0])
    assert np.isnan(ventilation_index(2.0, np.nan))  # no boundary-layer height: not available


def test_pressure_tendency_24h():
    p = 1000.0 + np.arange(30.0)  # +1 hPa per hour
    p[27] = np.nan
    out = pressure_tendency(p)
    assert np.isnan(out[:24]).all()
    assert out[24] == pytest.approx(24.0) and out[29] == pytest.approx(24.0)
    assert np.isnan(out[27])
    # 3-hourly data, 2-D (station, time)
    q = np.array([[1010.0, 1008, 1006, 1004, 1002, 1000, 998, 996, 994]])
    np.testing.assert_allclose(pressure_tendency(q, step_h=3.0)[0, 8], -16.0)
    with pytest.raises(ValueError, match="whole number"):
        pressure_tendency(q, hours=24, step_h=5.0)


def test_calm_hours():
    ws = np.array([0.2, 0.5, 3.0, 0.9, np.nan, 1.0, 0.1])
    out = calm_hours(ws, threshold=1.0, window_h=3)
    # windows: [0.2,0.5,3.0]=2, [0.5,3.0,0.9]=2, [3.0,0.9,nan]=1, [0.9,nan,1.0]=1, [nan,1.0,0.1]=1
    np.testing.assert_array_equal(out[2:], [2, 2, 1, 1, 1])
    assert np.isnan(out[:2]).all()
    assert np.isnan(calm_hours([np.nan, np.nan, np.nan], window_h=2)[1:]).all()
    # 2-D and a 3-hourly step: each calm value counts 3 h
    two = calm_hours(np.array([[0.1, 0.1, 5.0]]), window_h=6, step_h=3.0)
    np.testing.assert_array_equal(two[0, 1:], [6.0, 3.0])


def test_solar_elevation():
    # Beijing, local solar noon at the solstices: 90 - 39.9 +/- 23.44 degrees
    t = np.array(["2016-06-21T04:14", "2016-12-21T04:14"], dtype="datetime64[m]")
    el = solar_elevation_deg(t, lat=39.9, lon=116.4)
    np.testing.assert_allclose(el, [90 - 39.9 + 23.44, 90 - 39.9 - 23.44], atol=1.0)
    assert solar_elevation_deg(np.datetime64("2016-12-21T16:00"), lat=39.9, lon=116.4) < -60


def test_boundary_layer_height_proxy():
    noon = np.datetime64("2016-06-21T04:14")
    night = np.datetime64("2016-06-21T16:14")
    kw = {"lat": 39.9, "lon": 116.4}
    # night, calm -> floor; night, windy -> 100 m per m/s
    assert float(boundary_layer_height_proxy(night, 0.2, air_temperature=20.0,
                                             dew_point_temperature=10.0, **kw)) == 50.0  # fmt: skip
    assert float(boundary_layer_height_proxy(night, 6.0, air_temperature=20.0,
                                             dew_point_temperature=10.0, **kw)) == pytest.approx(600.0)  # fmt: skip
    # summer noon, dry: 1500 sin(73.5 deg) ~ 1438 m; humid (spread 2 K): x 0.2
    sun = math.sin(math.radians(float(solar_elevation_deg(noon, **kw))))
    dry = boundary_layer_height_proxy(
        noon, 1.0, air_temperature=30.0, dew_point_temperature=10.0, **kw
    )
    humid = boundary_layer_height_proxy(
        noon, 1.0, air_temperature=22.0, dew_point_temperature=20.0, **kw
    )
    assert float(dry) == pytest.approx(1500 * sun)
    assert float(humid) == pytest.approx(1500 * sun * 0.2)
    assert np.isnan(boundary_layer_height_proxy(noon, np.nan, air_temperature=1.0,
                                                dew_point_temperature=0.0, **kw))  # fmt: skip
