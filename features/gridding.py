"""Station values to a regular latitude/longitude grid, by a registry of named methods.

``ordinary_kriging`` uses PyKrige (great-circle distances, ``coordinates_type="geographic"``);
``idw`` is inverse-distance weighting on great-circle distances (:func:`features.geo.haversine_km`). Both are pure functions.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from features.geo import haversine_km

__all__ = ["GRIDDERS", "interpolate", "regular_grid"]


def regular_grid(
    lat: np.ndarray, lon: np.ndarray, resolution: float = 0.01, margin: float = 0.05
) -> tuple[np.ndarray, np.ndarray]:
    """Build a regular grid covering the stations plus a margin.

    Parameters
    ----------
    lat, lon : numpy.ndarray
        Station coordinates [degrees].
    resolution : float
        Grid spacing [degrees].
    margin : float
        Extra extent around the stations [degrees].

    Returns
    -------
    grid_lat, grid_lon : numpy.ndarray
        1-D cell-centre coordinates [degrees].
    """
    lat0, lat1 = np.nanmin(lat) - margin, np.nanmax(lat) + margin
    lon0, lon1 = np.nanmin(lon) - margin, np.nanmax(lon) + margin
    n_lat = int(np.ceil((lat1 - lat0) / resolution)) + 1
    n_lon = int(np.ceil((lon1 - lon0) / resolution)) + 1
    return lat0 + resolution * np.arange(n_lat), lon0 + resolution * np.arange(n_lon)


def _idw(lat, lon, values, grid_lat, grid_lon, power: float = 2.0, **_: Any) -> np.ndarray:
    glat, glon = np.meshgrid(grid_lat, grid_lon, indexing="ij")
    d = haversine_km(glat[..., None], glon[..., None], lat[None, None, :], lon[None, None, :])
    d = np.maximum(d, 1e-6)
    w = 1.0 / d**power
    return np.sum(w * values, axis=-1) / np.sum(w, axis=-1)


def _kriging(
    lat, lon, values, grid_lat, grid_lon, variogram_model: str = "linear", **_: Any
) -> np.ndarray:
    from pykrige.ok import OrdinaryKriging

    ok = OrdinaryKriging(
        lon,
        lat,
        values,
        variogram_model=variogram_model,
        coordinates_type="geographic",
        verbose=False,
        enable_plotting=False,
    )
    z, _ss = ok.execute("grid", grid_lon, grid_lat)
    return np.asarray(z, dtype=float)


#: Method name -> function(lat, lon, values, grid_lat, grid_lon, **options) -> (n_lat, n_lon).
GRIDDERS: dict[str, Callable[..., np.ndarray]] = {"idw": _idw, "ordinary_kriging": _kriging}


def interpolate(
    lat: np.ndarray,
    lon: np.ndarray,
    values: np.ndarray,
    grid_lat: np.ndarray,
    grid_lon: np.ndarray,
    method: str = "ordinary_kriging",
    **options: Any,
) -> np.ndarray:
    """Interpolate station values to a grid.

    Stations with NaN values are left out; with fewer than 3 stations kriging is not attempted
    and IDW is used instead.

    Returns
    -------
    numpy.ndarray
        ``(len(grid_lat), len(grid_lon))`` field; all NaN when no station has a value.

    Raises
    ------
    KeyError
        For an unknown method.
    """
    if method not in GRIDDERS:
        raise KeyError(f"unknown gridding method {method!r}; known: {sorted(GRIDDERS)}")
    ok = ~np.isnan(values)
    if ok.sum() == 0:
        return np.full((len(grid_lat), len(grid_lon)), np.nan)
    if method == "ordinary_kriging" and ok.sum() < 3:
        method = "idw"
    return GRIDDERS[method](
        np.asarray(lat)[ok],
        np.asarray(lon)[ok],
        np.asarray(values, float)[ok],
        grid_lat,
        grid_lon,
        **options,
    )
