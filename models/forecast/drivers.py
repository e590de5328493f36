"""Forecast driver attribution: what pushes a forecast away from climatology, in five groups.

For the LightGBM forecaster the forecast is ``climatology(target time) + rho_h x anomaly(now) +
shrink_h x sigma_h x z`` where ``z`` is the booster's output. ``z`` is split into exact per-feature
contributions by LightGBM's TreeSHAP (``pred_contrib=True``, the SHAP values of tree models) and
the anchor's anomaly term belongs to the recent local concentrations. Features are summed into:

* ``local``: recent local concentrations (lags, means and maxima of the target and of the other
  pollutants at the station, and the persistence anchor);
* ``meteorology``: weather observations (temperature, humidity, pressure, wind components, rain);
* ``weather_forecast``: the weather-forecast (NWP) feed at the valid time (``nwp_*`` features,
  :mod:`features.nwp_features`): the stagnation or ventilation the feed expects;
* ``regional``: the other stations of the network (regional level and the local excess over it:
  regional transport);
* ``calendar``: lead, hour, weekday, station identity;
* ``offset``: the booster's constant term.

So ``forecast mean ~ climatology + sum of the groups`` (up to the clipping at zero), in the
target's units.
"""

from __future__ import annotations

from collections.abc import Collection

import numpy as np

from features.nwp_features import PREFIX as NWP_PREFIX

__all__ = ["GROUPS", "driver_group", "group_contributions", "summarise_drivers"]

GROUPS = ("local", "meteorology", "weather_forecast", "regional", "calendar", "offset")
GROUP_NAMES = {
    "local": {"zh": "本地近期浓度", "en": "recent local concentrations"},
    "meteorology": {"zh": "气象条件", "en": "meteorology"},
    "weather_forecast": {"zh": "预报气象条件(数值预报)", "en": "forecast weather (NWP)"},
    "regional": {"zh": "区域传输(周边站点)", "en": "regional transport (other stations)"},
    "calendar": {"zh": "时间与日历", "en": "calendar"},
    "offset": {"zh": "模型常数项", "en": "model offset"},
}
_CALENDAR = {"lead", "hour_sin", "hour_cos", "dow", "station_index", "climatology"}


def driver_group(feature: str, target: str, pollutants: Collection[str]) -> str:
    """Group of one feature name of :mod:`features.forecast_features`.

    Parameters
    ----------
    feature : str
        Feature name, e.g. ``no2_mean24``.
    target : str
        Forecast target.
    pollutants : collection of str
        The air pollutants (:func:`features.units.pollutants` of the variable registry): their
        features are recent local concentrations, those of other variables meteorology.
    """
    if feature in _CALENDAR:
        return "calendar"
    if feature.startswith(NWP_PREFIX):
        return "weather_forecast"
    if feature.startswith(f"{target}_others") or feature == f"{target}_minus_others":
        return "regional"
    base = feature.rsplit("_", 1)[0]
    return "local" if base in pollutants or base == target else "meteorology"


def group_contributions(
    contrib: np.ndarray,
    names: list[str],
    target: str,
    scale: np.ndarray,
    anchor_anomaly: np.ndarray,
    *,
    pollutants: Collection[str],
) -> np.ndarray:
    """Sum per-feature contributions into :data:`GROUPS` (last axis).

    Parameters
    ----------
    contrib : numpy.ndarray
        ``... x (F + 1)`` TreeSHAP values of the standardised output (last column: the constant).
    scale : numpy.ndarray
        ``...`` factor from ``z`` to concentration (``shrink_h x sigma_h``).
    anchor_anomaly : numpy.ndarray
        ``...`` the anchor's ``rho_h x anomaly`` term [target units].
    pollutants : collection of str
        The air pollutants of the variable registry (see :func:`driver_group`).
    """
    groups = np.array([GROUPS.index(driver_group(n, target, pollutants)) for n in names])
    out = np.zeros((*contrib.shape[:-1], len(GROUPS)))
    for g in range(len(GROUPS) - 1):
        out[..., g] = contrib[..., :-1][..., groups == g].sum(axis=-1)
    out[..., GROUPS.index("offset")] = contrib[..., -1]
    out *= scale[..., None]
    out[..., GROUPS.index("local")] += anchor_anomaly
    return out


def summarise_drivers(values: np.ndarray) -> list[dict[str, object]]:
    """Mean contribution per group and its share of the absolute total, largest first.

    ``values`` is ``... x G`` (e.g. stations x hours of an episode); NaN rows are ignored.
    """
    v = np.asarray(values, float).reshape(-1, len(GROUPS))
    v = v[np.isfinite(v).all(axis=1)]
    if not len(v):
        return []
    mean = v.mean(axis=0)
    total = np.abs(mean[: GROUPS.index("offset")]).sum()
    out = [
        {
            "driver": g,
            "names": GROUP_NAMES[g],
            "contribution": round(float(mean[i]), 2),
            "share": round(float(abs(mean[i]) / total), 3) if total > 0 else 0.0,
        }
        for i, g in enumerate(GROUPS)
        if g != "offset"
    ]
    return sorted(out, key=lambda d: -abs(d["contribution"]))
