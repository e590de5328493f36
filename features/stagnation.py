"""Stagnation features from (forecast or observed) weather: ventilation, pressure tendency, calm, humidity.

Heavy-pollution episodes in North China form in stagnant, humid air under a low boundary layer;
these are the derived weather features of issue #12. All functions are pure and work on numpy
arrays whose **last axis is time** at a regular step (hourly by default).

It also holds :func:`boundary_layer_height_proxy`, a diagnostic boundary-layer height for feeds
that have none (the synthetic NWP feed: boundary-layer height is not observed at the stations).
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "MAGNUS_A",
    "MAGNUS_B_DEGC",
    "boundary_layer_height_proxy",
    "calm_hours",
    "pressure_tendency",
    "relative_humidity",
    "solar_elevation_deg",
    "ventilation_index",
]

#: Magnus coefficients over water (Alduchov and Eskridge 1996, J. Appl. Meteor. 35, 601-609) [1].
MAGNUS_A = 17.625
#: [degC].
MAGNUS_B_DEGC = 243.04


def relative_humidity(air_temperature, dew_point_temperature) -> np.ndarray:
    """Relative humidity from temperature and dew point by the Magnus formula [%].

    ``RH = 100 exp(a Td / (b + Td) - a T / (b + T))`` with ``a = 17.625``, ``b = 243.04 degC``
    (Alduchov and Eskridge 1996; saturation over water). A dew point above the temperature (a
    forecast error) is capped at 100 %.

    Parameters
    ----------
    air_temperature, dew_point_temperature : array_like
        Temperature and dew point [degC].

    Returns
    -------
    numpy.ndarray
        Relative humidity [%], in [0, 100]; NaN where an input is NaN.

    Examples
    --------
    >>> round(float(relative_humidity(20.0, 10.0)), 2)
    52.54
    """
    t = np.asarray(air_temperature, float)
    td = np.asarray(dew_point_temperature, float)
    rh = 100.0 * np.exp(MAGNUS_A * td / (MAGNUS_B_DEGC + td) - MAGNUS_A * t / (MAGNUS_B_DEGC + t))
    return np.minimum(rh, 100.0)


def ventilation_index(wind_speed, boundary_layer_height) -> np.ndarray:
    """Ventilation index: wind speed times boundary-layer height [m2 s-1].

    Parameters
    ----------
    wind_speed : array_like
        10-m (or boundary-layer mean) wind speed [m s-1].
    boundary_layer_height : array_like
        Boundary-layer height [m].

    Returns
    -------
    numpy.ndarray
        Ventilation index [m2 s-1]; NaN where either input is NaN (a feed without boundary-layer
        height gives NaN: the feature is "where available").

    Examples
    --------
    >>> float(ventilation_index(2.0, 500.0))
    1000.0
    """
    return np.asarray(wind_speed, float) * np.asarray(boundary_layer_height, float)


def pressure_tendency(pressure, *, hours: int = 24, step_h: float = 1.0) -> np.ndarray:
    """Pressure change over the preceding ``hours``: ``p(t) - p(t - hours)`` [units of pressure].

    Parameters
    ----------
    pressure : array_like
        Pressure, time on the last axis at a regular step [hPa or any pressure unit].
    hours : int
        Tendency interval [h] (24 for the 24-h tendency).
    step_h : float
        Time step of the last axis [h].

    Returns
    -------
    numpy.ndarray
        Same shape; NaN for the first ``hours / step_h`` times and where either value is NaN.

    Raises
    ------
    ValueError
        If ``hours`` is not a whole number of steps.

    Examples
    --------
    >>> pressure_tendency([1010.0, 1012.0, 1015.0], hours=2).tolist()
    [nan, nan, 5.0]
    """
    p = np.asarray(pressure, float)
    lag = hours / step_h
    if lag != int(lag) or lag < 1:
        raise ValueError(
            f"pressure tendency over {hours} h is not a whole number of {step_h} h steps"
        )
    lag = int(lag)
    out = np.full_like(p, np.nan)
    if p.shape[-1] > lag:
        out[..., lag:] = p[..., lag:] - p[..., :-lag]
    return out


def calm_hours(
    wind_speed, *, threshold: float = 1.0, window_h: int = 24, step_h: float = 1.0
) -> np.ndarray:
    """Hours of calm (wind speed below a threshold) in the trailing window ending at each time [h].

    Parameters
    ----------
    wind_speed : array_like
        Wind speed, time on the last axis at a regular step [m s-1].
    threshold : float
        Calm means ``wind_speed < threshold`` [m s-1].
    window_h : int
        Length of the trailing window, including the current time [h].
    step_h : float
        Time step of the last axis [h].

    Returns
    -------
    numpy.ndarray
        Calm hours among the non-missing values of the window [h]; NaN until the window is full
        and where the whole window is missing.

    Raises
    ------
    ValueError
        If ``window_h`` is not a whole number of steps.

    Examples
    --------
    >>> calm_hours([0.5, 2.0, 0.2, 0.9], threshold=1.0, window_h=3).tolist()
    [nan, nan, 2.0, 2.0]
    """
    ws = np.asarray(wind_speed, float)
    n = window_h / step_h
    if n != int(n) or n < 1:
        raise ValueError(f"calm window of {window_h} h is not a whole number of {step_h} h steps")
    n = int(n)
    calm = np.where(np.isnan(ws), 0.0, ws < threshold).astype(float)
    seen = (~np.isnan(ws)).astype(float)
    pad = [(0, 0)] * (ws.ndim - 1) + [(1, 0)]
    c = np.cumsum(np.pad(calm, pad), axis=-1)
    s = np.cumsum(np.pad(seen, pad), axis=-1)
    out = np.full_like(ws, np.nan)
    if ws.shape[-1] >= n:
        cnt = c[..., n:] - c[..., :-n]
        got = s[..., n:] - s[..., :-n]
        out[..., n - 1 :] = np.where(got > 0, cnt * step_h, np.nan)
    return out


def solar_elevation_deg(time_utc, *, lat, lon) -> np.ndarray:
    """Solar elevation angle (simple astronomical formula, about 1 degree accurate) [degree].

    Parameters
    ----------
    time_utc : array_like of numpy.datetime64
        UTC instants (naive), broadcast against ``lat``/``lon``.
    lat, lon : array_like
        Coordinates [degrees].

    Returns
    -------
    numpy.ndarray
        Elevation of the sun above the horizon [degree], negative at night.
    """
    t = np.asarray(time_utc, dtype="datetime64[s]")
    year_start = t.astype("datetime64[Y]").astype("datetime64[s]")
    doy = (t - year_start).astype("int64") / 86400.0  # fractional day of the year, from 0
    hour = (t - t.astype("datetime64[D]").astype("datetime64[s]")).astype("int64") / 3600.0
    gamma = 2 * np.pi * doy / 365.0
    decl = (
        0.006918
        - 0.399912 * np.cos(gamma)
        + 0.070257 * np.sin(gamma)
        - 0.006758 * np.cos(2 * gamma)
    )
    hour_angle = np.radians(15.0 * (hour - 12.0) + np.asarray(lon, float))
    la = np.radians(np.asarray(lat, float))
    sin_el = np.sin(la) * np.sin(decl) + np.cos(la) * np.cos(decl) * np.cos(hour_angle)
    return np.degrees(np.arcsin(np.clip(sin_el, -1, 1)))


def boundary_layer_height_proxy(
    time_utc,
    wind_speed,
    *,
    lat,
    lon,
    air_temperature,
    dew_point_temperature,
    convective_max_m: float = 1500.0,
    mechanical_m_per_ms: float = 100.0,
    floor_m: float = 50.0,
    ceiling_m: float = 3000.0,
) -> np.ndarray:
    """Diagnose a boundary-layer height from surface weather and the sun [m].

    ``max(mechanical, convective, floor)``, capped at ``ceiling_m``:

    - mechanical (neutral/stable) layer ``h = 0.2 u* / f`` with ``u* ~ 0.05 U10`` and
      ``f ~ 1e-4 s-1`` at mid latitudes, i.e. ``mechanical_m_per_ms * U10``;
    - convective (daytime) layer ``convective_max_m * sin(solar elevation) * dryness``, where
      ``dryness = clip((T - Td) / 10 degC, 0.2, 1)``: a moist surface (small dew-point depression)
      spends its energy on evaporation and grows a shallower layer;
    - at night (sun below the horizon) only the mechanical layer remains, so calm nights give the
      floor, windy days the deepest layers.

    It is a proxy, not a measurement: good enough to give the synthetic feed a boundary-layer
    height with the right diurnal cycle and the right sign of response to wind and humidity.

    Parameters
    ----------
    time_utc : array_like of numpy.datetime64
        UTC instants (naive).
    wind_speed : array_like
        10-m wind speed [m s-1].
    lat, lon : array_like
        Coordinates [degrees].
    air_temperature, dew_point_temperature : array_like
        2-m temperature and dew point [degC].
    convective_max_m : float
        Convective height with the sun at the zenith over dry ground [m].
    mechanical_m_per_ms : float
        Mechanical height per unit wind speed [m / (m s-1)].
    floor_m, ceiling_m : float
        Bounds [m].

    Returns
    -------
    numpy.ndarray
        Boundary-layer height [m]; NaN where wind, temperature or dew point is NaN.
    """
    ws = np.asarray(wind_speed, float)
    spread = np.asarray(air_temperature, float) - np.asarray(dew_point_temperature, float)
    dryness = np.clip(spread / 10.0, 0.2, 1.0)
    sun = np.sin(np.radians(solar_elevation_deg(time_utc, lat=lat, lon=lon)))
    convective = convective_max_m * np.clip(sun, 0.0, None) * dryness
    mechanical = mechanical_m_per_ms * ws
    h = np.clip(np.maximum(np.maximum(mechanical, convective), floor_m), None, ceiling_m)
    return np.where(np.isnan(ws) | np.isnan(spread), np.nan, h)
