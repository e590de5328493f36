"""Geodesy: the one Earth radius, great-circle distances and local kilometre projections.

Every distance in Qingyuan comes from here, so that station neighbourhoods, trajectories,
CAP circles and river lengths agree.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "EARTH_RADIUS_KM",
    "EARTH_RADIUS_M",
    "KM_PER_DEGREE",
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
