import numpy as np
import pytest

from features.geo import (
    KM_PER_DEGREE,
    area_outline,
    convex_hull,
    haversine_km,
    local_xy_km,
    pairwise_km,
    shift_deg,
)


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


def _inside(px, py, ring) -> bool:
    """Ray casting: is (px, py) inside the polygon ``ring`` of (x, y)?"""
    inside = False
    for (x1, y1), (x2, y2) in zip(ring, ring[1:] + ring[:1], strict=True):
        if (y1 > py) != (y2 > py) and px < x1 + (py - y1) * (x2 - x1) / (y2 - y1):
            inside = not inside
    return inside


def _edge_km(lat, lon, ring) -> float:
    """Shortest distance from a point to the edges of a (lat, lon) ring [km], locally planar."""
    lats, lons = np.array([r[0] for r in ring]), np.array([r[1] for r in ring])
    x, y = local_xy_km(lats, lons, lat, lon)
    a = np.c_[x, y]
    b = np.roll(a, -1, axis=0)
    ab = b - a
    t = np.clip(-(a * ab).sum(1) / np.maximum((ab * ab).sum(1), 1e-12), 0, 1)
    return float(np.hypot(*(a + t[:, None] * ab).T).min())


def test_convex_hull_counter_clockwise_without_inner_or_collinear_points():
    x = np.array([0, 2, 2, 0, 1, 1, 2, np.nan])
    y = np.array([0, 0, 2, 2, 1, 0, 1, 5])
    h = convex_hull(x, y)
    assert sorted(h.tolist()) == [0, 1, 2, 3]  # (1, 1) inside, (1, 0) and (2, 1) on edges
    ring = np.c_[x[h], y[h]]
    area2 = np.sum(ring[:, 0] * np.roll(ring[:, 1], -1) - np.roll(ring[:, 0], -1) * ring[:, 1])
    assert area2 > 0  # counter-clockwise
    assert convex_hull([1, 1, 1], [2, 2, 2]).tolist() == [0]
    assert sorted(convex_hull([0, 1, 2, 3], [0, 1, 2, 3]).tolist()) == [0, 3]
    assert convex_hull([], []).size == 0


@pytest.mark.parametrize(
    ("lats", "lons"),
    [
        ([39.9], [116.4]),  # a circle
        ([39.9, 40.1], [116.3, 116.5]),  # a stadium
        ([39.9, 40.0, 40.1], [116.3, 116.4, 116.5]),  # collinear: a stadium too
        ([39.8, 40.1, 39.95, 40.0, 39.9], [116.2, 116.3, 116.6, 116.4, 116.35]),
    ],
)
def test_area_outline_buffers_the_hull(lats, lons):
    ring = area_outline(lats, lons, buffer_km=3.0)
    assert len(ring) >= 12
    for lat, lon in zip(lats, lons, strict=True):
        assert _inside(lon, lat, [(b, a) for a, b in ring])
        assert _edge_km(lat, lon, ring) >= 3.0 * 0.99  # every station at least a buffer inside
    # the outline hugs the hull: its farthest vertex is one buffer from the nearest station
    lat0, lon0 = np.array(lats), np.array(lons)
    far = max(float(haversine_km(a, b, lat0, lon0).min()) for a, b in ring)
    assert far == pytest.approx(3.0, rel=0.01)
    if len(lats) == 1:
        d = haversine_km(lats[0], lons[0], *np.array(ring).T)
        assert np.allclose(d, 3.0, rtol=0.01)


def test_area_outline_edge_cases():
    assert area_outline([np.nan], [116.0]) == []
    with pytest.raises(ValueError, match="buffer_km"):
        area_outline([40.0], [116.0], buffer_km=0)
