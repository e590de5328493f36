"""Geodesy: the one Earth radius, great-circle distances and local kilometre projections.

Every distance in Qingyuan comes from here, so that station neighbourhoods, trajectories,
CAP circles and river lengths agree. Also the planar convex hull and the buffered station
outline that stands in for an area's boundary when no boundary file is configured.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "EARTH_RADIUS_KM",
    "EARTH_RADIUS_M",
    "KM_PER_DEGREE",
    "area_outline",
    "convex_hull",
    "haversine_km",
    "local_xy_km",
    "pairwise_km",
    "shift_deg",
]

#: Mean Earth radius (IUGG, R1) [km].
EARTH_RADIUS_KM = 6371.0088
#: Mean Earth radius [m].
EARTH_RADIUS_M = EARTH_RADIUS_KM * 1000.0
#: Length of one degree of latitude (and of longitude on the equator) on that sphere [km].
KM_PER_DEGREE = EARTH_RADIUS_KM * math.pi / 180.0


def haversine_km(lat1, lon1, lat2, lon2) -> np.ndarray:
    """Great-circle distance between points, broadcasting like numpy [km].

    Parameters
    ----------
    lat1, lon1, lat2, lon2 : array_like
        Coordinates [degrees].

    Returns
    -------
    numpy.ndarray
        Distances [km].
    """
    la1, lo1, la2, lo2 = (np.radians(np.asarray(x, float)) for x in (lat1, lon1, lat2, lon2))
    a = np.sin((la2 - la1) / 2) ** 2 + np.cos(la1) * np.cos(la2) * np.sin((lo2 - lo1) / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0, 1)))


def pairwise_km(lat, lon) -> np.ndarray:
    """Great-circle distances between all pairs of points [km].

    Parameters
    ----------
    lat, lon : array_like
        Coordinates of ``S`` points [degrees].

    Returns
    -------
    numpy.ndarray
        ``S x S`` matrix of distances [km].
    """
    lat, lon = np.asarray(lat, float), np.asarray(lon, float)
    return haversine_km(lat[:, None], lon[:, None], lat[None, :], lon[None, :])


def local_xy_km(lat, lon, lat0: float | None = None, lon0: float | None = None):
    """Equirectangular projection around a reference point: east and north offsets [km].

    Accurate to well under 1 % over a city or a river basin (a few hundred kilometres), which
    is what the local methods (neighbour geometry, CAP circles, map extents) need.

    Parameters
    ----------
    lat, lon : array_like
        Coordinates [degrees].
    lat0, lon0 : float, optional
        Reference point [degrees]; default the mean of ``lat`` / ``lon`` (NaN ignored).

    Returns
    -------
    x, y : numpy.ndarray
        East and north offsets from the reference point [km].
    """
    lat, lon = np.asarray(lat, float), np.asarray(lon, float)
    lat0 = float(np.nanmean(lat)) if lat0 is None else float(lat0)
    lon0 = float(np.nanmean(lon)) if lon0 is None else float(lon0)
    x = (lon - lon0) * KM_PER_DEGREE * math.cos(math.radians(lat0))
    y = (lat - lat0) * KM_PER_DEGREE
    return x, y


def shift_deg(lat, lon, east_m, north_m):
    """Move points by a displacement on the local tangent plane [degrees].

    Parameters
    ----------
    lat, lon : array_like
        Start points [degrees].
    east_m, north_m : array_like
        Displacement towards east and north [m].

    Returns
    -------
    lat, lon : numpy.ndarray
        End points [degrees].
    """
    lat = np.asarray(lat, float)
    dlat = np.degrees(np.asarray(north_m, float) / EARTH_RADIUS_M)
    dlon = np.degrees(np.asarray(east_m, float) / (EARTH_RADIUS_M * np.cos(np.radians(lat))))
    return lat + dlat, np.asarray(lon, float) + dlon


def convex_hull(x, y) -> np.ndarray:
    """Vertices of the convex hull of planar points, counter-clockwise (Andrew's monotone chain).

    Parameters
    ----------
    x, y : array_like
        Coordinates of ``N`` points [any planar unit, e.g. km]; non-finite points are ignored.

    Returns
    -------
    numpy.ndarray
        Indices into ``x`` / ``y`` of the hull vertices, counter-clockwise, starting at the
        lowest-``x`` (then lowest-``y``) point, without repeating it. Duplicate points count
        once and points on an edge are not vertices, so all-equal points give one index and
        collinear points give the two end points.
    """
    x, y = np.asarray(x, float).ravel(), np.asarray(y, float).ravel()
    if x.shape != y.shape:
        raise ValueError("x and y differ in length")
    ok = np.flatnonzero(np.isfinite(x) & np.isfinite(y))
    order = ok[np.lexsort((y[ok], x[ok]))]
    uniq: list[int] = []
    for i in order:
        if not uniq or x[i] != x[uniq[-1]] or y[i] != y[uniq[-1]]:
            uniq.append(int(i))
    if len(uniq) <= 2:
        return np.asarray(uniq, dtype=int)

    def cross(o: int, a: int, b: int) -> float:
        return (x[a] - x[o]) * (y[b] - y[o]) - (y[a] - y[o]) * (x[b] - x[o])

    lower: list[int] = []
    for i in uniq:
        while len(lower) >= 2 and cross(lower[-2], lower[-1], i) <= 0:
            lower.pop()
        lower.append(i)
    upper: list[int] = []
    for i in reversed(uniq):
        while len(upper) >= 2 and cross(upper[-2], upper[-1], i) <= 0:
            upper.pop()
        upper.append(i)
    return np.asarray(lower[:-1] + upper[:-1], dtype=int)


def area_outline(
    lats, lons, *, buffer_km: float = 3.0, step_deg: float = 10.0
) -> list[tuple[float, float]]:
    """Outline of an area from its stations: their convex hull buffered by ``buffer_km``.

    The hull is computed on the local kilometre plane (:func:`local_xy_km`) and grown by a
    round buffer (straight offset edges joined by circular arcs), so one station gives a circle,
    two (or collinear) stations a stadium and more a rounded polygon.

    Parameters
    ----------
    lats, lons : array_like
        Station coordinates [degrees]; non-finite ones are ignored.
    buffer_km : float, optional
        Buffer distance around the hull [km], > 0.
    step_deg : float, optional
        Largest angle between the vertices of an arc [degrees].

    Returns
    -------
    list of tuple of float
        The outline as ``(lat, lon)`` vertices [degrees], counter-clockwise, first vertex not
        repeated at the end; empty when no station has finite coordinates.
    """
    if not buffer_km > 0:
        raise ValueError(f"buffer_km must be > 0, got {buffer_km!r}")
    lat, lon = np.asarray(lats, float).ravel(), np.asarray(lons, float).ravel()
    ok = np.isfinite(lat) & np.isfinite(lon)
    if not ok.any():
        return []
    lat, lon = lat[ok], lon[ok]
    lat0, lon0 = float(lat.mean()), float(lon.mean())
    x, y = local_xy_km(lat, lon, lat0, lon0)
    hull = convex_hull(x, y)
    step = math.radians(step_deg)
    ring: list[tuple[float, float]] = []
    n = len(hull)
    for k, i in enumerate(hull):
        if n == 1:
            a_in, sweep = 0.0, 2 * math.pi
        else:
            p, q = hull[k - 1], hull[(k + 1) % n]
            # outward normals of the incoming and outgoing edges of a counter-clockwise ring
            a_in = math.atan2(-(x[i] - x[p]), y[i] - y[p])
            a_out = math.atan2(-(x[q] - x[i]), y[q] - y[i])
            sweep = (a_out - a_in) % (2 * math.pi) or 2 * math.pi
        segs = max(1, math.ceil(sweep / step - 1e-9))
        last = segs if n > 1 else segs - 1  # a full circle does not repeat its start
        for j in range(last + 1):
            a = a_in + sweep * j / segs
            ring.append(
                (float(x[i]) + buffer_km * math.cos(a), float(y[i]) + buffer_km * math.sin(a))
            )
    k_lon = KM_PER_DEGREE * math.cos(math.radians(lat0))
    return [(lat0 + ry / KM_PER_DEGREE, lon0 + rx / k_lon) for rx, ry in ring]
