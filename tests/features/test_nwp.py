import numpy as np
import pytest

from features.nwp import (
    bilinear,
    convert_nwp_units,
    deaccumulate,
    grid_coverage,
    nearest_points,
    relative_humidity,
)


def test_bilinear_exact_for_linear_field():
    lat = np.array([38.0, 39.0, 40.0, 41.0])
    lon = np.array([115.0, 116.0, 117.0, 118.0, 119.0])
    field = 2.0 * lat[:, None] - 0.5 * lon[None, :] + 3.0
    plat = np.array([39.87, 40.29, 38.0, 41.0])
    plon = np.array([116.37, 116.17, 119.0, 115.0])
    got = bilinear(lat, lon, np.stack([field, field + 1]), plat, plon)
    want = 2.0 * plat - 0.5 * plon + 3.0
    np.testing.assert_allclose(got[0], want, atol=1e-12)
    np.testing.assert_allclose(got[1], want + 1, atol=1e-12)


def test_coverage_and_outside_error():
    lat, lon = np.array([38.0, 41.0]), np.array([115.0, 119.0])
    inside = grid_coverage(lat, lon, np.array([39.0, 42.0]), np.array([116.0, 116.0]))
    assert inside.tolist() == [True, False]
    with pytest.raises(ValueError, match="outside"):
        bilinear(lat, lon, np.zeros((2, 2)), np.array([42.0]), np.array([116.0]))


def test_longitudes_0_360():
    lat, lon = np.array([0.0, 1.0]), np.array([350.0, 360.0])
    f = np.tile(lon, (2, 1))
    np.testing.assert_allclose(bilinear(lat, lon, f, np.array([0.5]), np.array([-5.0])), [355.0])


def test_nearest_points():
    idx, d = nearest_points(
        np.array([40.0, 39.0]), np.array([116.0, 116.0]), np.array([39.1]), np.array([116.0])
    )
    assert idx.tolist() == [1] and 10 < d[0] < 12


def test_deaccumulate_and_rh_and_units():
    acc = np.array([[0.0, 1.0, 3.0, 2.999999]])
    out = deaccumulate(acc, axis=1)
    assert np.isnan(out[0, 0]) and out[0, 1:].tolist() == [1.0, 2.0, 0.0]
    assert relative_humidity(np.array([20.0]), np.array([20.0]))[0] == pytest.approx(100.0)
    assert 40 < relative_humidity(np.array([20.0]), np.array([6.0]))[0] < 45
    np.testing.assert_allclose(convert_nwp_units(np.array([2.0]), "kg m**-2", "mm"), [2.0])
    np.testing.assert_allclose(convert_nwp_units(np.array([0.002]), "m", "mm"), [2.0])
    np.testing.assert_allclose(convert_nwp_units(np.array([273.15]), "K", "degC"), [0.0])
