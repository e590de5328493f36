"""The map page (一张图): stations by AQI category or water class, areas, warnings in force.

Pollution sources (``kind: source`` networks) are shown only to roles that may read their
dataset (``by_kind`` of ``configs/access.yml``: ``enterprise``): as a network of their own
(stacks ★ and outfalls ◆ coloured by their enterprise's supervision alert) and as enterprise
stars over the air and water maps they lie in.
"""

from __future__ import annotations

import functools
import json
import logging

from fastapi import APIRouter, Depends, Query, Request

from pipelines import results as R
from pipelines.errors import StoreCorrupted
from qingyuan.web.accounts import Principal
from qingyuan.web.deps import kind_dataset, readable, readable_kind, reader
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
log = logging.getLogger("qingyuan.web")


@functools.lru_cache(maxsize=64)
def _map_svg(spec: str, network: str) -> str:
    """Render the map SVG of a JSON spec (memoised: the same data draws the same map)."""
    from qingyuan.web.charts import station_map

    s = json.loads(spec)
    links = {p["id"]: p["href"] for p in s["points"] if p.get("href")}
    return station_map(
        s["points"],
        areas=s["areas"],
        title=s["title"],
        legend=[tuple(x) for x in s["legend"]],
        link=lambda sid: links.get(sid, f"/station/{network}/{sid}"),
    )


#: Marker colours of a source without an alert in force: within its limits, above, no data.
SOURCE_OK, SOURCE_OVER, SOURCE_NONE = "#2e7d32", "#b71c1c", "#9e9e9e"


def _source_fill(alert: dict | None, exceeds: bool | None) -> str:
    if alert and alert.get("level_colour"):
        return alert["level_colour"]
    return SOURCE_NONE if exceeds is None else (SOURCE_OVER if exceeds else SOURCE_OK)


def _source_label(s: dict, lang: str) -> tuple[str, str]:
    """Short marker label and row text of a stack / outfall: its worst ratio to the limit."""
    pols = s.get("pollutants") or {}
    ratios = [(p["ratio"], v) for v, p in pols.items() if p.get("ratio") is not None]
    text = "; ".join(
        f"{v} {p['value']:.4g}/{p['limit']:.4g} {p.get('units', '')}"
        for v, p in pols.items()
        if p.get("value") is not None and p.get("limit") is not None
    )
    if not ratios:
        return "", text
    r, _ = max(ratios)
    return f"{r:.1f}×", text


def _enterprise_overlay(request: Request, who: Principal, bbox: tuple, lang: str) -> list[dict]:
    """Enterprise stars of every source network inside ``bbox`` (lat0, lat1, lon0, lon1)."""
    ws = request.app.state.settings.workspace
    out = []
    for n in R.networks(ws).data:
        if n["kind"] != "source" or not readable_kind(request, who, "status", "source"):
            continue
        for e in R.enterprises(ws, n["name"], status=False).data:
            if not (bbox[0] <= e["lat"] <= bbox[1] and bbox[2] <= e["lon"] <= bbox[3]):
                continue
            if not e["stations"]:
                continue
            alert = e.get("alert")
            level = ((alert or {}).get("level_names") or {}).get(lang, "")
            name = e["name"] if lang == "zh" else (e.get("name_en") or e["name"])
            out.append(
                {
                    "id": f"enterprise-{n['name']}-{e['id']}",
                    "name": name,
                    "lat": e["lat"],
                    "lon": e["lon"],
                    "fill": (alert or {}).get("level_colour") or "#5f6b76",
                    "label": "",
                    "kind": "star",
                    "class_": "qy-enterprise",
                    "tooltip": f"{name} ({e.get('industry', '')}){' · ' + level if level else ''}",
                    "href": f"/station/{n['name']}/{e['stations'][0]['id']}",
                }
            )
    return out


def map_view(request: Request, who: Principal, network: str | None) -> dict:
    """Everything the map page shows for one network."""
    ws = request.app.state.settings.workspace
    lang = lang_of(request)
    nets = [
        n
        for n in R.networks(ws).data
        if n["has_store"] and readable_kind(request, who, "networks", n["kind"])
    ]
    if not nets:
        return {
            "networks": [],
            "net": None,
            "svg": "",
            "rows": [],
            "warnings": [],
            "expired": [],
            "legend": [],
            "damaged": None,
        }
    names = [n["name"] for n in nets]
    if network is None:
        network = names[0]
    if network not in names:
        raise ApiError(404, f"unknown network {network!r}; known: {', '.join(names)}")
    net = next(n for n in nets if n["name"] == network)
    tz = net["time_zone"]
    dataset = kind_dataset(request, "status", net["kind"])
    damaged = net.get("damaged")
    try:
        status = R.current_status(ws, network).data if readable(request, who, dataset) else []
    except StoreCorrupted as exc:  # the map, the areas and the warnings still show
        status = []
        damaged = {"file": exc.path.rsplit("/", 1)[-1], "reason": exc.reason.split(":")[0]}
    if damaged:  # the stations where they are, without a status (none can be read)
        log.error("map of %s drawn without status: %s", network, damaged)
        status = [
            {**s, "time": None, "aqi": None, "class": None} for s in R.stations(ws, network).data
        ]
    points, rows = [], []
    for s in status:
        if net["kind"] == "source":
            fill = _source_fill(s.get("alert"), s.get("exceeds"))
            label, text = _source_label(s, lang)
            alert = s.get("alert") or {}
            level = (alert.get("level_names") or {}).get(lang, "")
        elif net["kind"] == "air":
            level = ""
            cat = aqi_category(s.get("aqi"))
            fill = cat["colour"] if cat else "#9e9e9e"
            label = "" if s.get("aqi") is None else f"{s['aqi']:.0f}"
            text = category_name(cat, lang)
        else:
            level = ""
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
                "kind": _marker_kind(net["kind"], s.get("medium")),
                "tooltip": tip,
            }
        )
        rows.append(
            {
                **s,
                "fill": fill,
                "label": label,
                "category": text,
                "alert_name": level if net["kind"] == "source" else "",
                "local_time": local(s.get("time"), tz),
            }
        )
    areas: dict[str, dict] = {}  # by area id: cities sharing a network share their areas
    in_force, stale = [], []
    cities = [
        c
        for c in R.cities(ws).data
        if c["network"] == network and readable_kind(request, who, "warnings", c["kind"])
    ]
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
    if net["kind"] == "source":
        legend = _source_legend(cities, lang)
    elif net["kind"] == "air":
        legend = [(c["colour"], f"{category_name(c, lang)} ≤{c['max']}") for c in category_table()]
    else:
        legend = [(water_colour(k), k) for k in ("I", "II", "III", "IV", "V", "劣V")]
    if net["kind"] != "source" and points:
        lats, lons = [p["lat"] for p in points], [p["lon"] for p in points]
        bbox = (min(lats) - 0.1, max(lats) + 0.1, min(lons) - 0.1, max(lons) + 0.1)
        extra = _enterprise_overlay(request, who, bbox, lang)
        if extra:
            points = points + extra
            legend = [
                *legend,
                ("#5f6b76", "企业 (污染源)" if lang == "zh" else "enterprise", "star"),
            ]
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
        "rows": [] if damaged else rows,
        "warnings": in_force,
        "expired": stale,
        "legend": legend,
        "damaged": damaged,
    }


def _marker_kind(kind: str, medium: str | None) -> str:
    """Marker shape key of :func:`qingyuan.web.charts.station_map`: stacks ★, outfalls ◆."""
    if kind != "source":
        return kind
    return "star" if medium == "air" else "outfall"


def _source_legend(cities: list[dict], lang: str) -> list[tuple]:
    zh = lang == "zh"
    legend: list[tuple] = [
        ("#5f6b76", "排气筒" if zh else "stack", "star"),
        ("#5f6b76", "废水排放口" if zh else "outfall", "diamond"),
        (SOURCE_OK, "达标 (最近一小时)" if zh else "within limits (latest hour)"),
        (SOURCE_OVER, "超标 (最近一小时)" if zh else "above a limit (latest hour)"),
        (SOURCE_NONE, "无数据" if zh else "no data"),
    ]
    seen = set()
    for c in cities:
        for lv in sorted(c["levels"], key=lambda x: -x["rank"]):
            if lv["name"] not in seen:
                seen.add(lv["name"])
                legend.append((lv["colour"], lv["names"].get(lang, lv["name"])))
    return legend


@router.get("/")
def map_page(
    request: Request,
    network: str | None = Query(None, pattern=IDENT),
    who: Principal = Depends(reader("stations")),
):
    """Return the map of one network (default: the first with stored data)."""
    return render(request, "map.html", map_view(request, who, network))
