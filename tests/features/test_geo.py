import numpy as np
import pytest

from features.geo import KM_PER_DEGREE, haversine_km, local_xy_km, pairwise_km, shift_deg


def test_haversine_known_distance_and_symmetry():
    # Beijing (39.9042, 116.4074) to Shanghai (31.2304, 121.4737): about 1,068 km
    d = haversine_km(39.9042, 116.4074, 31.2304, 121.4737)
    assert d == pytest.approx(1067.3, abs=2.0)
    m = pairwise_km([39.9, 31.2, 23.1], [116.4, 121.5, 113.3])
    assert np.allclose(m, m.T) and np.allclose(np.diag(m), 0)
    assert m[0, 1] == pytest.approx(haversine_km(39.9, 116.4, 31.2, 121.5))


def test_local_projection_matches_great_circle_over_a_city():
    lat, lon = np.array([39.8, 40.1]), np.array([116.2, 116.6])
    x, y = local_xy_km(lat, lon)
    assert np.hypot(x[1] - x[0], y[1] - y[0]) == pytest.approx(
        float(haversine_km(lat[0], lon[0], lat[1], lon[1])), rel=2e-3
    )
    assert KM_PER_DEGREE == pytest.approx(111.195, abs=1e-3)


def test_shift_round_trip():
    lat, lon = shift_deg(40.0, 116.0, 1000.0, 2000.0)
    x, y = local_xy_km(lat, lon, 40.0, 116.0)
    assert float(x) == pytest.approx(1.0, rel=1e-3) and float(y) == pytest.approx(2.0, rel=1e-6)
