"""Numerical-weather-prediction fields at stations: interpolation, coverage, derived quantities.

Pure functions (no I/O) used by the NWP readers of :mod:`pipelines.nwp`:

- :func:`grid_coverage` / :func:`bilinear`: a regular latitude/longitude grid at station points;
- :func:`nearest_points`: the nearest forecast point of a point table to each station;
- :func:`deaccumulate`: precipitation accumulated from the run start -> amount per step;
- :func:`relative_humidity`: RH from air and dew-point temperature (Magnus formula; the one
  implementation is :func:`features.stagnation.relative_humidity`, re-exported here);
- :func:`convert_nwp_units`: :func:`features.units.convert` plus the water-equivalent rule
  ``1 kg m-2 = 1 mm`` of liquid water (GRIB ``tp`` is in ``kg m-2``, the registry's
  precipitation in ``mm``).
"""

from __future__ import annotations

import numpy as np

from features.geo import haversine_km
from features.stagnation import relative_humidity
from features.units import UnitError, convert

__all__ = [
    "bilinear",
    "convert_nwp_units",
    "deaccumulate",
    "grid_coverage",
    "nearest_points",
    "relative_humidity",
    "wrap_longitudes",
]

# Magnus coefficients over water (Alduchov & Eskridge 1996, J. Appl. Meteor. 35, 601-609)


def wrap_longitudes(lon: np.ndarray, grid_lon: np.ndarray) -> np.ndarray:
    """Express station longitudes in the convention of the grid (-180..180 or 0..360).

    Parameters
    ----------
    lon : numpy.ndarray
        Station longitudes [degrees_east].
    grid_lon : numpy.ndarray
        Grid longitudes [degrees_east], ascending.

    Returns
    -------
    numpy.ndarray
        Longitudes shifted by 360 degrees where that brings them into the grid's range.
    """
    lon = np.asarray(lon, dtype="float64").copy()
    lo, hi = float(np.min(grid_lon)), float(np.max(grid_lon))
    lon = np.where((lon < lo) & (lon + 360.0 <= hi), lon + 360.0, lon)
    return np.where((lon > hi) & (lon - 360.0 >= lo), lon - 360.0, lon)


def grid_coverage(
    grid_lat: np.ndarray, grid_lon: np.ndarray, lat: np.ndarray, lon: np.ndarray
) -> np.ndarray:
    """Which points lie inside a regular grid (edges included).

    Parameters
    ----------
    grid_lat, grid_lon : numpy.ndarray
        Grid axes [degrees_north], [degrees_east], ascending.
    lat, lon : numpy.ndarray
        Points [degrees_north], [degrees_east].

    Returns
    -------
    numpy.ndarray of bool
        True where the point can be interpolated bilinearly.
    """
    lat = np.asarray(lat, dtype="float64")
    lon = wrap_longitudes(lon, grid_lon)
    eps = 1e-9
    return (
        (lat >= grid_lat[0] - eps)
        & (lat <= grid_lat[-1] + eps)
        & (lon >= grid_lon[0] - eps)
        & (lon <= grid_lon[-1] + eps)
    )


def _axis_weights(axis: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lower index and fractional weight of ``x`` on an ascending axis (clamped to the ends)."""
    if axis.size == 1:
        return np.zeros(x.shape, dtype=int), np.zeros(x.shape)
    i = np.clip(np.searchsorted(axis, x, side="right") - 1, 0, axis.size - 2)
    w = (x - axis[i]) / (axis[i + 1] - axis[i])
    return i, np.clip(w, 0.0, 1.0)


def bilinear(
    grid_lat: np.ndarray,
    grid_lon: np.ndarray,
    field: np.ndarray,
    lat: np.ndarray,
    lon: np.ndarray,
) -> np.ndarray:
    """Bilinear interpolation of a regular latitude/longitude grid to points.

    Parameters
    ----------
    grid_lat : numpy.ndarray
        Latitudes of the grid rows [degrees_north], ascending, shape ``(ny,)``.
    grid_lon : numpy.ndarray
        Longitudes of the grid columns [degrees_east], ascending, shape ``(nx,)``.
    field : numpy.ndarray
        Values, shape ``(..., ny, nx)`` (leading axes, e.g. forecast step, are kept).
    lat, lon : numpy.ndarray
        Points [degrees_north], [degrees_east], shape ``(n,)``; they must lie inside the grid
        (check with :func:`grid_coverage`).

    Returns
    -------
    numpy.ndarray
        Values at the points, shape ``(..., n)``; exact for a field linear in latitude and
        longitude. A NaN at any of the four surrounding grid points gives NaN.

    Raises
    ------
    ValueError
        If a point lies outside the grid or the axes are not ascending.
    """
    grid_lat = np.asarray(grid_lat, dtype="float64")
    grid_lon = np.asarray(grid_lon, dtype="float64")
    field = np.asarray(field, dtype="float64")
    if np.any(np.diff(grid_lat) <= 0) or np.any(np.diff(grid_lon) <= 0):
        raise ValueError("grid axes must be strictly ascending")
    if field.shape[-2:] != (grid_lat.size, grid_lon.size):
        raise ValueError(f"field shape {field.shape} does not match the grid axes")
    lat = np.asarray(lat, dtype="float64")
    lon = wrap_longitudes(lon, grid_lon)
    inside = grid_coverage(grid_lat, grid_lon, lat, lon)
    if not inside.all():
        raise ValueError(f"{int((~inside).sum())} point(s) outside the grid")
    iy, wy = _axis_weights(grid_lat, lat)
    ix, wx = _axis_weights(grid_lon, lon)
    iy1 = np.minimum(iy + 1, grid_lat.size - 1)
    ix1 = np.minimum(ix + 1, grid_lon.size - 1)
    f00 = field[..., iy, ix]
    f01 = field[..., iy, ix1]
    f10 = field[..., iy1, ix]
    f11 = field[..., iy1, ix1]
    return (1 - wy) * ((1 - wx) * f00 + wx * f01) + wy * ((1 - wx) * f10 + wx * f11)


def nearest_points(
    point_lat: np.ndarray,
    point_lon: np.ndarray,
    lat: np.ndarray,
    lon: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Nearest forecast point to each station (great-circle distance).

    Parameters
    ----------
    point_lat, point_lon : numpy.ndarray
        Forecast points [degrees_north], [degrees_east], shape ``(m,)``.
    lat, lon : numpy.ndarray
        Stations [degrees_north], [degrees_east], shape ``(n,)``.

    Returns
    -------
    index : numpy.ndarray of int
        Index of the nearest point for each station, shape ``(n,)``.
    distance_km : numpy.ndarray
        Its distance [km].
    """
    d = haversine_km(
        np.asarray(lat, dtype="float64")[:, None],
        np.asarray(lon, dtype="float64")[:, None],
        np.asarray(point_lat, dtype="float64")[None, :],
        np.asarray(point_lon, dtype="float64")[None, :],
    )
    idx = np.argmin(d, axis=1)
    return idx, d[np.arange(d.shape[0]), idx]


def deaccumulate(accumulated: np.ndarray, *, axis: int = -1) -> np.ndarray:
    """Amount per step from an amount accumulated since the run start.

    Parameters
    ----------
    accumulated : numpy.ndarray
        Accumulation at each forecast step (e.g. [mm]), steps along ``axis`` in ascending order
        and without gaps.
    axis : int, optional
        The step axis.

    Returns
    -------
    numpy.ndarray
        Amount in the interval (previous step, this step]; NaN at the first step (no interval
        ends there). Small negative differences (packing noise) are set to 0.
    """
    acc = np.asarray(accumulated, dtype="float64")
    diff = np.diff(acc, axis=axis)
    diff = np.where(diff < 0, 0.0, diff)
    pad_shape = list(acc.shape)
    pad_shape[axis] = 1
    return np.concatenate([np.full(pad_shape, np.nan), diff], axis=axis)


def convert_nwp_units(values: np.ndarray, from_units: str, to_units: str) -> np.ndarray:
    """Convert NWP values to registry units, with ``kg m-2`` of water = ``mm`` of depth.

    Parameters
    ----------
    values : numpy.ndarray
        Values in ``from_units``.
    from_units, to_units : str
        UDUNITS-style unit strings (``m s**-1`` from ecCodes is accepted).

    Returns
    -------
    numpy.ndarray
        Values in ``to_units``.

    Raises
    ------
    features.units.UnitError
        If the units are unknown or cannot be converted.
    """
    src, dst = from_units.replace("**", ""), to_units.replace("**", "")
    try:
        return convert(values, src, dst)
    except UnitError:
        try:  # an areal mass of liquid water to a depth: 1 kg m-2 = 1 mm (density 1000 kg m-3)
            as_mass = convert(values, src, "kg m-2")
            return convert(as_mass, "mm", dst)
        except UnitError:
            pass
        try:  # and back
            as_depth = convert(values, src, "mm")
            return convert(as_depth, "kg m-2", dst)
        except UnitError:
            raise UnitError(f"cannot convert {from_units!r} to {to_units!r}") from None
