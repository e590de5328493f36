"""Wind helpers: compass points to degrees, and speed/direction to u/v components."""

from __future__ import annotations

import numpy as np

__all__ = ["COMPASS16", "VALUE_MAPS", "wind_components"]

_POINTS = "N NNE NE ENE E ESE SE SSE S SSW SW WSW W WNW NW NNW".split()
#: 16-point compass names -> direction the wind blows from [degree]; ``CV`` (calm/variable) -> NaN.
COMPASS16: dict[str, float] = {p: i * 22.5 for i, p in enumerate(_POINTS)} | {"CV": float("nan")}

#: Named value maps a network column may use (``value_map: compass16``).
VALUE_MAPS: dict[str, dict[str, float]] = {"compass16": COMPASS16}


def wind_components(speed: np.ndarray, from_direction: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Eastward and northward wind components [same units as speed].

    Parameters
    ----------
    speed : numpy.ndarray
        Wind speed [m s-1].
    from_direction : numpy.ndarray
        Direction the wind blows from [degree, clockwise from north].

    Returns
    -------
    u, v : numpy.ndarray
        Eastward and northward components.

    Examples
    --------
    >>> u, v = wind_components(np.array([1.0]), np.array([270.0]))  # westerly wind
    >>> round(float(u[0]), 6), round(float(v[0]), 6)
    (1.0, 0.0)
    """
    rad = np.radians(from_direction)
    return -speed * np.sin(rad), -speed * np.cos(rad)
