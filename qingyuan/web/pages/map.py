"""The map page (一张图): stations by AQI category or water class, areas, warnings in force."""

from __future__ import annotations

import functools
import json

from fastapi import APIRouter, Depends, Query, Request

from pipelines import results as R
from qingyuan.web.accounts import Principal
from qingyuan.web.deps import readable, reader
from qingyuan.web.errors import ApiError
from qingyuan.web.pages.present import (
    aqi_category,
    area_polygons,
    category_name,
    category_table,
    expired,
    local,
    scheme_levels,
    water_colour,
)
from qingyuan.web.params import IDENT
from qingyuan.web.render import lang_of, render

__all__ = ["map_view", "router"]

router = APIRouter(include_in_schema=False)


@functools.lru_cache(maxsize=64)
def _map_svg(spec: str, network: str) -> str:
    """Render the map SVG of a JSON spec (memoised: the same data draws the same map)."""
    from qingyuan.web.charts import station_map

    s = json.loads(spec)
    return station_map(
        s["points"],
        areas=s["areas"],
        title=s["title"],
        legend=[tuple(x) for x in s["legend"]],
        link=lambda sid: f"/station/{network}/{sid}",
    )


def map_view(request: Request, who: Principal, network: str | None) -> dict:
    """Everything the map page shows for one network."""
    ws = request.app.state.settings.workspace
    lang = lang_of(request)
    nets = [n for n in R.networks(ws).data if n["has_store"]]
    if not nets:
        return {
            "networks": [],
            "net": None,
            "svg": "",
            "rows": [],
            "warnings": [],
            "expired": [],
            "legend": [],
        }
    names = [n["name"] for n in nets]
    if network is None:
        network = names[0]
    if network not in names:
        raise ApiError(404, f"unknown network {network!r}; known: {', '.join(names)}")
    net = next(n for n in nets if n["name"] == network)
    tz = net["time_zone"]
    dataset = "aqi" if net["kind"] == "air" else "water_class"
    status = R.current_status(ws, network).data if readable(request, who, dataset) else []
    points, rows = [], []
    for s in status:
        if net["kind"] == "air":
            cat = aqi_category(s.get("aqi"))
            fill = cat["colour"] if cat else "#9e9e9e"
            label = "" if s.get("aqi") is None else f"{s['aqi']:.0f}"
            text = category_name(cat, lang)
        else:
            fill = water_colour(s.get("class"))
            label = s.get("class") or ""
            text = label
        tip = f"{s['name']} · {local(s.get('time'), tz)} · {label} {text}"
        points.append(
            {
                "id": s["id"],
                "name": s["name"],
                "lat": s["lat"],
                "lon": s["lon"],
                "fill": fill,
                "label": label,
                "kind": net["kind"],
                "tooltip": tip,
            }
        )
        rows.append(
            {
                **s,
                "fill": fill,
                "label": label,
                "category": text,
                "local_time": local(s.get("time"), tz),
            }
        )
    areas: dict[str, dict] = {}  # by area id: cities sharing a network share their areas
    in_force, stale = [], []
    cities = [c for c in R.cities(ws).data if c["network"] == network]
    if not readable(request, who, "warnings"):
        cities = []
    where = {s["id"]: (s["lat"], s["lon"]) for s in R.stations(ws, network).data}
    active = R.warnings(ws, status="active").data if cities else []
    for c in cities:
        levels = scheme_levels(c["name"])
        mine = [w for w in active if w["city"] == c["name"]]
        stale.extend(
            {**w, "area_name": w["area"], "expires_local": local(w.get("expires"), tz)}
            for w in mine
            if expired(w, net.get("last_time"))
        )
        warned = {w["area"]: w for w in mine if not expired(w, net.get("last_time"))}
        for a in area_polygons(c, where):
            w = warned.get(a["id"])
            lv = levels.get(w["level"]) if w else None
            shown = areas.get(a["id"])
            if shown is None or (lv and (shown["rank"] is None or lv["rank"] < shown["rank"])):
                areas[a["id"]] = {
                    "id": a["id"],
                    "name": a["names"].get(lang, a["id"]),
                    "polygon": a["polygon"],
                    "fill": lv["colour"] if lv else None,
                    "level_label": lv["names"].get(lang) if lv else None,
                    "rank": lv["rank"] if lv else None,
                }
            if w:
                in_force.append(
                    {
                        **w,
                        "level_name": lv["names"].get(lang) if lv else w["level"],
                        "colour": lv["colour"] if lv else "#999",
                        "area_name": a["names"].get(lang, a["id"]),
                        "city_name": c["name"],
                        "onset_local": local(w.get("onset"), tz),
                        "expires_local": local(w.get("expires"), tz),
                    }
                )
    if net["kind"] == "air":
        legend = [(c["colour"], f"{category_name(c, lang)} ≤{c['max']}") for c in category_table()]
    else:
        legend = [(water_colour(k), k) for k in ("I", "II", "III", "IV", "V", "劣V")]
    svg = _map_svg(
        json.dumps(
            {
                "points": points,
                "areas": list(areas.values()),
                "title": net["title"],
                "legend": legend,
            },
            sort_keys=True,
            default=str,
        ),
        network,
    )
    return {
        "networks": nets,
        "net": net,
        "svg": svg,
        "rows": rows,
        "warnings": in_force,
        "expired": stale,
        "legend": legend,
    }


@router.get("/")
def map_page(
    request: Request,
    network: str | None = Query(None, pattern=IDENT),
    who: Principal = Depends(reader("stations")),
):
    """Return the map of one network (default: the first with stored data)."""
    return render(request, "map.html", map_view(request, who, network))
