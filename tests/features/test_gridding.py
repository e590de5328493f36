"""Gridding: IDW and ordinary kriging reproduce known fields; the registry refuses unknowns."""

from __future__ import annotations

import numpy as np
import pytest

from features.geo import haversine_km
from features.gridding import GRIDDERS, interpolate, regular_grid


def test_regular_grid_covers_the_stations_plus_the_margin():
    glat, glon = regular_grid(np.array([39.9, 40.1]), np.array([116.3, 116.6]), 0.05, margin=0.1)
    assert glat[0] == pytest.approx(39.8) and glat[-1] >= 40.2 - 1e-9
    assert glon[0] == pytest.approx(116.2) and glon[-1] >= 116.7 - 1e-9
    assert np.allclose(np.diff(glat), 0.05) and len(glon) == int(np.ceil(0.5 / 0.05)) + 1


def test_idw_is_exact_at_stations_and_weights_by_inverse_squared_distance():
    lat, lon = np.array([40.0, 40.0]), np.array([116.0, 116.2])
    values = np.array([10.0, 30.0])
    # at the stations (distance clipped at 1e-6 km) the grid takes the station value
    z = interpolate(lat, lon, values, np.array([40.0]), lon, "idw")
    assert z.shape == (1, 2) and np.allclose(z, [[10.0, 30.0]], atol=1e-6)
    # a point a quarter of the way: weights 1/d^2 of the great-circle distances
    p = np.array([116.05])
    d = haversine_km(40.0, p[0], lat, lon)
    expect = float(np.sum(values / d**2) / np.sum(1 / d**2))
    got = float(interpolate(lat, lon, values, np.array([40.0]), p, "idw")[0, 0])
    assert got == pytest.approx(expect, rel=1e-9) and 10.0 < got < 20.0
    # a constant field stays constant, with any power
    flat = interpolate(lat, lon, np.array([7.0, 7.0]), np.array([39.9, 40.1]), p, "idw", power=3)
    assert np.allclose(flat, 7.0)


def test_kriging_reproduces_a_linear_field_and_honours_the_stations():
    rng = np.random.default_rng(0)
    lat = 39.8 + 0.4 * rng.random(25)
    lon = 116.2 + 0.4 * rng.random(25)
    field = lambda la, lo: 50.0 + 40.0 * (la - 40.0) - 25.0 * (lo - 116.4)  # noqa: E731
    values = field(lat, lon)
    glat, glon = np.array([39.9, 40.0, 40.1]), np.array([116.3, 116.4, 116.5])
    z = interpolate(lat, lon, values, glat, glon, "ordinary_kriging")
    assert z.shape == (3, 3)
    truth = field(glat[:, None], glon[None, :])
    assert np.max(np.abs(z - truth)) < 0.5  # a smooth field inside the network: close
    at_station = interpolate(lat, lon, values, lat[:1], lon[:1], "ordinary_kriging")
    assert at_station[0, 0] == pytest.approx(values[0], abs=1e-3)


def test_missing_values_fallback_and_unknown_method():
    lat, lon = np.array([40.0, 40.1, 40.2]), np.array([116.0, 116.1, 116.2])
    glat, glon = np.array([40.05]), np.array([116.05])
    nan = np.full(3, np.nan)
    assert np.isnan(interpolate(lat, lon, nan, glat, glon)).all()
    two = np.array([1.0, np.nan, 3.0])  # fewer than 3 stations: IDW instead of kriging
    assert interpolate(lat, lon, two, glat, glon) == pytest.approx(
        interpolate(lat, lon, two, glat, glon, "idw")
    )
    with pytest.raises(KeyError, match="unknown gridding method"):
        interpolate(lat, lon, two, glat, glon, "spline")
    assert set(GRIDDERS) == {"idw", "ordinary_kriging"}
