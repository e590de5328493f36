"""Wind helpers: compass points to degrees, and speed/direction to u/v components."""

from __future__ import annotations

import numpy as np

__all__ = ["COMPASS16", "VALUE_MAPS", "decumulate_wind_speed", "from_direction", "wind_components"]

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


def from_direction(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Direction the wind blows from, of eastward and northward components [degree from north].

    The inverse of :func:`wind_components` (0 <= result < 360; NaN where either is NaN; a calm,
    u = v = 0, is 0).

    Examples
    --------
    >>> float(from_direction(np.array([1.0]), np.array([0.0]))[0])  # from the west
    270.0
    """
    return np.degrees(np.arctan2(-np.asarray(u, float), -np.asarray(v, float))) % 360.0


def decumulate_wind_speed(
    cumulated: np.ndarray, from_direction: np.ndarray | None = None
) -> np.ndarray:
    """Hourly wind speed from a speed cumulated since the wind direction last changed.

    Some records (e.g. the UCI PM2.5 data of five Chinese cities, column ``Iws``) publish the
    wind speed summed over the consecutive hours with the same direction. The speed of an hour is
    the increase over the previous hour; the sum restarts when the direction changes (or, without
    a direction, when it falls). After a missing hour the speed is unknown (NaN) unless the
    direction changed.

    Parameters
    ----------
    cumulated : numpy.ndarray
        ``... x T`` cumulated speed [m s-1], time along the last axis, regular steps.
    from_direction : numpy.ndarray, optional
        Same shape: direction the wind blows from [degree]; NaN (calm/variable) counts as one
        direction.

    Returns
    -------
    numpy.ndarray
        Wind speed [m s-1], same shape.

    Examples
    --------
    >>> decumulate_wind_speed(np.array([1.8, 4.9, 6.7, 0.9]), np.array([45.0, 45.0, 45.0, 315.0]))
    array([nan, 3.1, 1.8, 0.9])
    """
    c = np.asarray(cumulated, float)
    prev = np.full_like(c, np.nan)
    prev[..., 1:] = c[..., :-1]
    reset = c < prev
    if from_direction is not None:
        d = np.asarray(from_direction, float)
        before = np.full_like(d, np.nan)
        before[..., 1:] = d[..., :-1]
        same = (d == before) | (np.isnan(d) & np.isnan(before))
        same[..., 0] = False
        # a new direction restarts the sum: its value is the hour's speed, even after a gap
        reset |= ~same & (np.isfinite(before) | np.isfinite(d)) & np.isfinite(c)
        reset[..., 0] = False  # the first hour's sum may have begun before the record
    with np.errstate(invalid="ignore"):
        speed = np.where(reset, c, c - prev)
    return np.round(speed, 10)
