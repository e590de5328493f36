"""View helpers shared by the pages: names, colours, local times, health advice, area outlines."""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import pandas as pd

from pipelines.config import aqi_standards
from pipelines.config.warnings import load_warning_config

__all__ = [
    "aqi_category",
    "area_polygons",
    "category_name",
    "category_table",
    "expired",
    "local",
    "scheme_levels",
    "water_colour",
]


@functools.cache
def category_table(family: str = "hj633") -> list[dict[str, Any]]:
    """AQI categories of the newest edition: level, upper AQI, name, colour, effects, advice."""
    std = aqi_standards(family)[-1]
    out = []
    for c in std.categories:
        d = c if isinstance(c, dict) else getattr(c, "__dict__", {})
        out.append(dict(d))
    return out


def category_name(cat: dict[str, Any] | None, lang: str) -> str:
    """Return the category's name in ``lang`` (the standard names it "优 excellent")."""
    if not cat:
        return ""
    zh, _, en = str(cat["name"]).partition(" ")
    return zh if lang == "zh" else (en or zh)


def aqi_category(aqi: float | None, family: str = "hj633") -> dict[str, Any] | None:
    """Return the category record of an AQI value (None for a missing value)."""
    from features.aqi import category_of

    if aqi is None or pd.isna(aqi):
        return None
    level = int(category_of(np.array([aqi]), aqi_standards(family)[-1])[0])  # the one lookup
    return category_table(family)[level - 1]


def expired(w: dict[str, Any], reference: Any) -> bool:
    """Whether an active warning's period ended before ``reference`` (UTC; None: never).

    The lifecycle store keeps a warning active until a warning run lifts it; a warning whose
    expiry lies before the network's newest data is shown as expired, not as in force.
    """
    if reference is None or not w.get("expires"):
        return False
    end = pd.Timestamp(w["expires"])
    end = end.tz_convert("UTC").tz_localize(None) if end.tzinfo else end
    ref = pd.Timestamp(reference)
    ref = ref.tz_convert("UTC").tz_localize(None) if ref.tzinfo else ref
    return end <= ref


def local(t: Any, tz: str, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """Return a UTC time (ISO text or timestamp) in the network's local time, formatted."""
    if t is None or (isinstance(t, float) and pd.isna(t)) or t == "":
        return ""
    ts = pd.Timestamp(t)
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts
    return ts.tz_convert(tz).strftime(fmt)


@functools.cache
def scheme_levels(city: str) -> dict[str, dict[str, Any]]:
    """Warning levels of a city's scheme: name -> {names, colour, rank}."""
    scheme, _ = load_warning_config(city)
    return {
        lv.name: {"names": lv.names, "colour": lv.colour, "rank": lv.rank} for lv in scheme.levels
    }


@functools.lru_cache(maxsize=256)
def _outline(points: tuple[tuple[float, float], ...], buffer_km: float) -> tuple:
    from qingyuan.web.charts import area_outline

    lats, lons = zip(*points, strict=True)
    return tuple(area_outline(list(lats), list(lons), buffer_km=buffer_km))


def area_polygons(
    city: dict[str, Any], where: dict[str, tuple[float, float]], *, buffer_km: float = 3.0
) -> list[dict[str, Any]]:
    """Outline of every area of a city: the buffered hull of its stations.

    No administrative boundaries are bundled (they cannot be downloaded here), so an area is
    drawn as the convex hull of its stations buffered by ``buffer_km`` [km] (memoised by the
    stations' coordinates).

    Parameters
    ----------
    where : dict
        Station id -> (lat, lon) [degrees] of the city's network.
    """
    out = []
    for a in city["areas"]:
        pts = tuple(where[s] for s in a["stations"] if s in where)
        if pts:
            out.append({**a, "polygon": list(_outline(pts, buffer_km))})
    return out


def water_colour(cls: str | None) -> str:
    """Colour of a water class (unknown: grey)."""
    from qingyuan.web.charts import WATER_CLASS_COLOURS

    return WATER_CLASS_COLOURS.get(cls or "", "#9e9e9e")
