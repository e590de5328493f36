"""The SVG charts: well-formed, accessible, self-contained, escaped, and drawing what they get."""

from __future__ import annotations

import datetime as dt
import math
import re
import xml.etree.ElementTree as ET

import numpy as np
import pandas as pd
import pytest

from features.geo import haversine_km
from qingyuan.web.charts import (
    AQI_COLOURS,
    FONT_FAMILY,
    NO_DATA,
    WARNING_COLOURS,
    WATER_CLASS_COLOURS,
    area_outline,
    bar_chart,
    calendar,
    grid_map,
    station_map,
    time_series,
)

NS = "{http://www.w3.org/2000/svg}"
EVIL = '<script>alert("x")</script> & Co'


def parse(svg: str) -> ET.Element:
    """Parse the SVG and check what every chart must have."""
    root = ET.fromstring(svg)
    assert root.tag == f"{NS}svg"
    assert root.get("role") == "img" and root.get("width") in (
        "100%",
        root.get("viewBox").split()[2],
    )
    assert re.fullmatch(r"0 0 [\d.]+ [\d.]+", root.get("viewBox"))
    assert root.get("font-family") == FONT_FAMILY
    assert root[0].tag == f"{NS}title" and root[0].text
    # self-contained: no script, no external reference, no inline style
    assert "<script" not in svg and "url(" not in svg and "style=" not in svg
    assert not root.findall(f".//{NS}script") and not root.findall(f".//{NS}image")
    assert not re.search(r'href="(?!/)', svg)  # only the links we asked for (relative)
    assert "@import" not in svg and "http://" not in svg.replace(
        'xmlns="http://www.w3.org/2000/svg"', ""
    )
    return root


def by_class(root: ET.Element, name: str) -> list[ET.Element]:
    return [e for e in root.iter() if name in (e.get("class") or "").split()]


def translate(el: ET.Element) -> tuple[float, float]:
    m = re.match(r"translate\(([-\d.]+) ([-\d.]+)\)", el.get("transform"))
    return float(m.group(1)), float(m.group(2))


def path_points(d: str) -> list[tuple[float, float]]:
    nums = [float(v) for v in re.findall(r"-?\d+(?:\.\d+)?", d)]
    return list(zip(nums[::2], nums[1::2], strict=True))


# ---------------------------------------------------------------------------------------------
# station_map


def _stations():
    return [
        dict(
            id="n",
            name="北站",
            lat=40.3,
            lon=116.4,
            fill=AQI_COLOURS[1],
            label="42",
            kind="air",
            tooltip="北站 AQI 42",
        ),
        dict(
            id="s",
            name="南站",
            lat=39.8,
            lon=116.4,
            fill=AQI_COLOURS[4],
            label="156",
            kind="air",
            tooltip="南站 AQI 156",
        ),
        dict(
            id="e",
            name="东站",
            lat=40.0,
            lon=116.7,
            fill=AQI_COLOURS[6],
            label="312",
            kind="air",
            tooltip="东站",
        ),
        dict(
            id="w",
            name="西断面",
            lat=40.0,
            lon=116.1,
            fill=WATER_CLASS_COLOURS["劣V"],
            label="劣V",
            kind="water",
            tooltip="西断面 劣V类",
        ),
    ]


def test_station_map_markers_areas_and_projection():
    pts = _stations()
    ring = area_outline([39.8, 40.0], [116.4, 116.7], buffer_km=5)
    areas = [
        dict(
            id="a1",
            name="城区",
            polygon=ring,
            fill=WARNING_COLOURS["orange"],
            level_label="橙色预警",
        ),
        dict(
            id="a2",
            name="郊区",
            polygon=[(40.2, 116.0), (40.4, 116.0), (40.4, 116.3)],
            fill=None,
            level_label=None,
        ),
    ]
    svg = station_map(pts, areas=areas, title="实时 AQI", legend=[(AQI_COLOURS[1], "优")])
    root = parse(svg)
    markers = [e for e in root.iter() if e.get("data-station") is not None]
    assert [m.get("data-station") for m in markers] == ["n", "s", "e", "w"]
    assert len(root.findall(f".//{NS}g[@class='qy-stations']//{NS}circle")) == 3
    assert len(by_class(root, "qy-marker-water")) == 1
    paths = [e for e in root.iter(f"{NS}path") if e.get("data-area")]
    assert [p.get("data-area") for p in paths] == ["a1", "a2"]
    assert by_class(root, "qy-area-warned") == [paths[0]]
    # areas under the stations
    order = [e for e in root.iter() if e.get("data-area") or e.get("data-station")]
    assert order.index(paths[1]) < order.index(markers[0])
    # projection: north up, east right, distances to scale (equirectangular, cos(mean lat))
    xy = {m.get("data-station"): translate(m) for m in markers}
    assert xy["n"][1] < xy["e"][1] < xy["s"][1]
    assert xy["w"][0] < xy["n"][0] < xy["e"][0]
    assert xy["n"][0] == pytest.approx(xy["s"][0], abs=0.1)
    ns_px = xy["s"][1] - xy["n"][1]
    we_px = xy["e"][0] - xy["w"][0]
    ns_km = float(haversine_km(40.3, 116.4, 39.8, 116.4))
    we_km = float(haversine_km(40.0, 116.1, 40.0, 116.7))
    assert we_px / ns_px == pytest.approx(we_km / ns_km, rel=0.01)
    # tooltips, labels, legend, scale bar, north arrow, area labels
    texts = "".join(root.itertext())
    assert "南站 AQI 156" in texts and "312" in texts and "劣V" in texts
    assert "城区" in texts and "橙色预警" in texts and "优" in texts
    assert by_class(root, "qy-scale-bar") and by_class(root, "qy-north-arrow")
    assert re.search(r"\d+ km", texts)
    # everything inside the view box
    w, h = (float(v) for v in root.get("viewBox").split()[2:])
    for x, y in xy.values():
        assert 0 < x < w and 0 < y < h


def test_station_map_links_and_escaping():
    pts = _stations()
    pts[0]["name"] = pts[0]["tooltip"] = EVIL
    pts[0]["label"] = "<b>"
    pts[0]["id"] = 'a"b&c'
    pts[1]["fill"] = "url(http://evil.example/x)"  # not a colour: replaced
    areas = [
        dict(
            id="<x>",
            name=EVIL,
            polygon=[(40.0, 116.0), (40.1, 116.0), (40.1, 116.1)],
            fill="red",
            level_label="&lt;",
        )
    ]
    svg = station_map(
        pts,
        areas=areas,
        title=EVIL,
        link=lambda i: f"/stations/{i}" if i != "e" else "javascript:alert(1)",
        legend=[("red", EVIL)],
    )
    root = parse(svg)
    assert "&lt;script&gt;" in svg and "&amp; Co" in svg
    assert root[0].text == EVIL
    texts = list(root.itertext())
    assert EVIL in texts and "<b>" in texts and "&lt;" in texts
    links = root.findall(f".//{NS}a")
    assert [a.get("href") for a in links] == ['/stations/a"b&c', "/stations/s", "/stations/w"]
    assert links[0].find(f"{NS}title").text == EVIL  # the tooltip names the link
    assert root.find(f".//{NS}g[@data-station='a\"b&c']") is not None
    fills = {
        e.get("data-station"): e.find(f"{NS}circle").get("fill")
        for e in by_class(root, "qy-marker-air")
    }
    assert fills["s"] == "#8c99a6"


def test_station_map_degenerate_inputs():
    assert NO_DATA in "".join(parse(station_map([], title="空")).itertext())
    one = station_map([dict(id="x", name="x", lat=30.0, lon=120.0, kind="air")], title="一个")
    root = parse(one)
    assert len([e for e in root.iter() if e.get("data-station")]) == 1
    nan = station_map([dict(id="x", name="x", lat=float("nan"), lon=120.0)], title="t")
    assert NO_DATA in nan
    only_area = station_map(
        [], areas=[dict(id="a", name="a", polygon=area_outline([30], [120]))], title="t"
    )
    assert len([e for e in parse(only_area).iter() if e.get("data-area")]) == 2  # path + label


# ---------------------------------------------------------------------------------------------
# area_outline (features.geo) as used for maps


def test_area_outline_contains_its_stations():
    lats, lons = [39.8, 40.1, 39.95, 40.0], [116.2, 116.3, 116.6, 116.4]
    ring = area_outline(lats, lons, buffer_km=3.0)
    poly = np.array(ring)
    from matplotlib.path import Path as MplPath

    inside = MplPath(poly[:, ::-1]).contains_points(np.c_[lons, lats])
    assert inside.all()
    d = haversine_km(
        np.array(lats)[:, None], np.array(lons)[:, None], poly[None, :, 0], poly[None, :, 1]
    )
    assert d.min() == pytest.approx(3.0, rel=0.02)


# ---------------------------------------------------------------------------------------------
# time_series


TIMES = pd.date_range("2016-12-15", periods=48, freq="h")


def _series_paths(root: ET.Element, name: str) -> list[ET.Element]:
    g = root.find(f".//{NS}g[@data-series='{name}']")
    return g.findall(f"{NS}path")


def test_time_series_gaps_split_the_line():
    v = np.arange(48, dtype=float)
    v[10:13] = np.nan  # one gap
    v[30] = np.nan  # another
    v[47] = np.nan
    svg = time_series(
        TIMES, [dict(name="obs", values=v, class_="qy-obs")], title="t", y_label="PM2.5 [µg/m³]"
    )
    root = parse(svg)
    paths = _series_paths(root, "obs")
    assert len(paths) == 3
    assert [len(path_points(p.get("d"))) for p in paths] == [10, 17, 16]
    assert all("qy-line" in p.get("class") for p in paths)
    g = root.find(f".//{NS}g[@data-series='obs']")
    assert "qy-obs" in g.get("class")
    # an isolated value is a dot, not lost
    v2 = np.full(48, np.nan)
    v2[5] = 3.0
    root2 = parse(
        time_series(TIMES, [dict(name="x", values=v2, class_="")], title="t", y_label="y")
    )
    assert len(by_class(root2, "qy-dot")) == 1 and not _series_paths(root2, "x")


def test_time_series_flags_sit_on_their_points():
    v = np.linspace(10, 80, 48)
    v[20] = np.nan  # invalidated: the flag goes on the axis
    flags = [
        dict(index=[3, 17], label="可疑 suspect", class_="qy-suspect"),
        dict(times=[TIMES[20], TIMES[40]], label="无效 invalid", class_="qy-invalid"),
    ]
    svg = time_series(
        TIMES, [dict(name="obs", values=v, class_="")], flags=flags, title="t", y_label="y"
    )
    root = parse(svg)
    pts = [p for path in _series_paths(root, "obs") for p in path_points(path.get("d"))]
    xs = {i: pts[i][0] for i in range(20)} | {i: pts[i - 1][0] for i in range(21, 48)}
    ys = {i: pts[i][1] for i in range(20)} | {i: pts[i - 1][1] for i in range(21, 48)}
    sus = by_class(root, "qy-suspect")[0].findall(f"{NS}g")
    inv = by_class(root, "qy-invalid")[0].findall(f"{NS}g")
    assert [int(g.get("data-index")) for g in sus] == [3, 17]
    assert [int(g.get("data-index")) for g in inv] == [20, 40]
    for g in sus:
        i = int(g.get("data-index"))
        assert translate(g) == pytest.approx((xs[i], ys[i]), abs=0.11)
    x40 = translate(inv[1])
    assert x40 == pytest.approx((xs[40], ys[40]), abs=0.11)
    x20 = translate(inv[0])[0]
    assert xs[19] < x20 < xs[21]
    assert translate(inv[0])[1] > max(ys.values())  # on the axis, below every value
    # distinct shapes, and a legend entry each
    assert sus[0].find(f"{NS}path").get("d") != inv[0].find(f"{NS}path").get("d")
    legend = "".join(by_class(root, "qy-legend")[0].itertext())
    assert "可疑 suspect" in legend and "无效 invalid" in legend and "obs" in legend


def test_time_series_band_thresholds_and_ticks():
    v = 50 + 40 * np.sin(np.arange(48) / 6)
    lower, upper = v - 10, v + 10
    upper[24:26] = np.nan
    svg = time_series(
        TIMES,
        [dict(name="P50", values=v, class_="qy-fc", dash=True)],
        band=dict(lower=lower, upper=upper, name="P10–P90"),
        thresholds=[(75, "良 75"), (10_000, "far away")],
        title="预报",
        y_label="AQI",
        tz="Asia/Shanghai",
    )
    root = parse(svg)
    assert len(by_class(root, "qy-band-area")) == 2
    thr = by_class(root, "qy-threshold")
    assert len(thr) == 1 and "良 75" in "".join(thr[0].itertext())
    yt = [e.text for e in by_class(root, "qy-tick-y")]
    assert 5 <= len(yt) <= 7
    vals = [float(t.replace(",", "")) for t in yt]
    steps = np.diff(vals)
    assert np.allclose(steps, steps[0]) and vals[0] <= lower.min() and vals[-1] >= np.nanmax(upper)
    xt = [e.text for e in by_class(root, "qy-tick-x")]
    assert xt and all(re.fullmatch(r"\d\d:00", t) for t in xt)  # 2 days: hours
    # local time: the first day starts at 08:00 Beijing time
    assert "UTC+08:00" in "".join(root.itertext())
    assert any(t == "2016-12-15" for t in (e.text for e in by_class(root, "qy-tick-x2")))


@pytest.mark.parametrize(
    ("periods", "freq", "pattern"),
    [
        (24 * 30, "h", r"\d\d-\d\d"),
        (400, "D", r"\d{4}-\d\d"),
        (24 * 3, "h", r"\d\d:00"),
        (24 * 6, "h", r"\d\d-\d\d"),
    ],
)
def test_time_axis_units_follow_the_span(periods, freq, pattern):
    t = pd.date_range("2016-01-01", periods=periods, freq=freq)
    root = parse(
        time_series(t, [dict(name="a", values=np.ones(periods), class_="")], title="t", y_label="y")
    )
    xt = [e.text for e in by_class(root, "qy-tick-x")]
    assert 2 <= len(xt) <= 12 and all(re.fullmatch(pattern, s) for s in xt)


def test_time_series_no_data():
    for svg in (
        time_series([], [], title="空", y_label="y"),
        time_series(
            TIMES, [dict(name="a", values=[None] * 48, class_="")], title="空", y_label="y"
        ),
        time_series(
            TIMES,
            [dict(name="a", values=np.full(48, np.nan), class_="")],
            title="空",
            y_label="y",
            band=dict(lower=np.full(48, np.nan), upper=np.full(48, np.nan), name="b"),
        ),
    ):
        root = parse(svg)
        assert NO_DATA in "".join(root.itertext()) and "无数据" in svg
        assert not root.findall(f".//{NS}path")
    with pytest.raises(ValueError, match="values"):
        time_series(TIMES, [dict(name="a", values=[1.0], class_="")], title="t", y_label="y")


def test_time_series_escapes_names_and_accepts_datetime64():
    t = TIMES.to_numpy()  # datetime64[ns]
    svg = time_series(
        t,
        [dict(name=EVIL, values=np.ones(48), class_='x" onload="y')],
        title=EVIL,
        y_label=EVIL,
        flags=[dict(index=[1], label=EVIL, class_="")],
    )
    root = parse(svg)
    assert "onload" not in svg.replace("&quot;", "")  # class names are sanitised, not just escaped
    assert EVIL in list(root.itertext())
    assert root.find(f".//{NS}g[@data-series]").get("data-series") == EVIL


def test_time_series_unsorted_times_and_aware_times():
    t = pd.DatetimeIndex(TIMES[::-1]).tz_localize("UTC").tz_convert("Asia/Shanghai")
    v = np.arange(48.0)[::-1]
    root = parse(
        time_series(
            t,
            [dict(name="a", values=v, class_="")],
            title="t",
            y_label="y",
            flags=[dict(index=[0], label="f", class_="qy-f")],
        )
    )
    pts = path_points(_series_paths(root, "a")[0].get("d"))
    assert all(b[0] > a[0] for a, b in zip(pts, pts[1:], strict=False))  # drawn in time order
    assert pts[0][1] > pts[-1][1]  # rising values
    flag = by_class(root, "qy-f")[0].find(f"{NS}g")
    assert flag.get("data-index") == "0" and translate(flag)[0] == pytest.approx(
        pts[-1][0], abs=0.11
    )


# ---------------------------------------------------------------------------------------------
# calendar


def test_calendar_cells_titles_and_layout():
    days = pd.date_range("2016-11-20", "2017-01-10").date
    vals = [(i % 6) + 1 if i % 10 else None for i in range(len(days))]
    labels = [f"AQI {v * 50} 严重污染" if v else None for v in vals]
    i16 = list(days).index(dt.date(2016, 12, 16))
    labels[i16] = "AQI 312 严重污染"
    svg = calendar(days, vals, colours=AQI_COLOURS, title="AQI 日历", labels=labels)
    root = parse(svg)
    cells = by_class(root, "qy-cal-cell")
    assert len(cells) == len(days)
    titles = [c.find(f"{NS}title").text for c in cells]
    assert "2016-12-16: AQI 312 严重污染" in titles
    c16 = cells[i16]
    assert c16.get("data-date") == "2016-12-16"
    assert c16.get("fill") == AQI_COLOURS[vals[i16]]
    assert len(by_class(root, "qy-cal-missing")) == sum(v is None for v in vals)
    # weekdays are rows, weeks are columns
    pos = {c.get("data-date"): (float(c.get("x")), float(c.get("y"))) for c in cells}
    mon, tue, next_mon = pos["2016-12-12"], pos["2016-12-13"], pos["2016-12-19"]
    assert mon[0] == tue[0] and mon[1] < tue[1]
    assert next_mon[1] == mon[1] and next_mon[0] > mon[0]
    texts = list(root.itertext())
    assert "12月" in texts and "1月" in texts and "2017" in texts
    # mapping labels and escaping
    svg2 = calendar(
        [dt.date(2016, 1, 1)],
        [3],
        colours={3: "#ff7e00"},
        title="t",
        labels={dt.date(2016, 1, 1): EVIL},
    )
    assert by_class(parse(svg2), "qy-cal-cell")[0].find(f"{NS}title").text == f"2016-01-01: {EVIL}"


def test_calendar_long_ranges_and_empty():
    days = pd.date_range("2015-01-01", "2016-12-31").date
    root = parse(calendar(days, [1] * len(days), colours=AQI_COLOURS, title="两年"))
    assert len(by_class(root, "qy-cal-cell")) == len(days)
    assert {"2015", "2016"} <= set(root.itertext())
    assert NO_DATA in calendar([], [], colours=AQI_COLOURS, title="空")


# ---------------------------------------------------------------------------------------------
# bar_chart


@pytest.mark.parametrize("stacked", [False, True])
@pytest.mark.parametrize("horizontal", [False, True])
def test_bar_chart_bars(stacked, horizontal):
    cats = ["燃煤", "机动车", EVIL, "二次无机"]
    series = [
        dict(name="城区", values=[30, 20, 10, 40], class_="qy-s1"),
        dict(name="郊区", values=[25, None, 15, -5], class_="qy-s2"),
    ]
    svg = bar_chart(
        cats, series, title="PMF", y_label="贡献 [%]", stacked=stacked, horizontal=horizontal
    )
    root = parse(svg)
    bars = by_class(root, "qy-bar")
    assert len(bars) == 7  # one value missing
    assert len(by_class(root, "qy-s2")) == 3
    assert EVIL in list(root.itertext())
    assert {b.get("data-category") for b in bars} == set(cats)
    size = "width" if horizontal else "height"
    got = {(b.get("data-category"), b.get("data-series")): float(b.get(size)) for b in bars}
    # bar lengths proportional to the values
    assert got[("燃煤", "城区")] / got[("机动车", "城区")] == pytest.approx(1.5, rel=0.02)
    assert got[("二次无机", "郊区")] / got[("燃煤", "郊区")] == pytest.approx(0.2, rel=0.05)
    if stacked:
        a, b = (
            next(e for e in bars if e.get("data-category") == "燃煤" and e.get("data-series") == s)
            for s in ("城区", "郊区")
        )
        key = "x" if horizontal else "y"
        if horizontal:
            assert float(b.get(key)) == pytest.approx(
                float(a.get(key)) + float(a.get("width")), abs=0.15
            )
        else:
            assert float(b.get(key)) + float(b.get("height")) == pytest.approx(
                float(a.get(key)), abs=0.15
            )


def test_bar_chart_no_data():
    assert NO_DATA in bar_chart([], [], title="t", y_label="y")
    assert NO_DATA in bar_chart(["a"], [dict(name="s", values=[None])], title="t", y_label="y")


# ---------------------------------------------------------------------------------------------
# grid_map


def test_grid_map_cells_colour_bar_and_points():
    la, lo = np.arange(36.0, 44.0, 1.0), np.arange(110.0, 122.0, 1.0)
    v = np.random.default_rng(0).random((la.size, lo.size))
    v[0, 0] = np.nan
    scale = [(0.0, "#fff5eb"), (0.25, "#fdae6b"), (0.5, "#f16913"), (0.75, "#8c2d04")]
    svg = grid_map(
        la,
        lo,
        v,
        cell_deg=1.0,
        title="PSCF",
        colour_scale=scale,
        value_label="PSCF",
        points=[dict(id="bj", name=EVIL, lat=39.9, lon=116.4)],
    )
    root = parse(svg)
    cells = by_class(root, "qy-cell")
    assert len(cells) == v.size - 1
    fills = [c.get("fill") for c in cells]
    expect = [
        scale[int(np.searchsorted([s[0] for s in scale], x, side="right")) - 1][1]
        for x in v.ravel()[1:]
    ]
    assert fills == expect
    # cells tile the plane: neighbours share edges, north is up
    c1, c2 = cells[0], cells[1]  # (36, 111) and (36, 112)
    assert float(c1.get("x")) + float(c1.get("width")) == pytest.approx(
        float(c2.get("x")), abs=0.15
    )
    north = cells[lo.size - 1 + 0]  # (37, 110)
    assert float(north.get("y")) < float(c1.get("y"))
    assert len(root.findall(f".//{NS}g[@class='qy-colour-bar']/{NS}rect")) == len(scale) + 1
    assert EVIL in list(root.itertext())
    assert [e.get("data-station") for e in root.iter() if e.get("data-station")] == ["bj"]
    # flat input and equal classes
    svg2 = grid_map(
        la.repeat(2),
        np.tile([110.0, 111.0], la.size),
        np.arange(2.0 * la.size),
        cell_deg=(1.0, 1.0),
        title="CWT",
        colour_scale=["#eee", "#999", "#333"],
    )
    assert len(by_class(parse(svg2), "qy-cell")) == 2 * la.size
    assert NO_DATA in grid_map(
        [1.0], [2.0], [math.nan], cell_deg=1, title="t", colour_scale=["#000"]
    )


def test_colour_tables():
    assert AQI_COLOURS == {
        1: "#00e400",
        2: "#ffff00",
        3: "#ff7e00",
        4: "#ff0000",
        5: "#99004c",
        6: "#7e0023",
    }
    assert WARNING_COLOURS == {
        "blue": "#1e6fd9",
        "yellow": "#f2c200",
        "orange": "#ff7e00",
        "red": "#e00000",
    }
    assert list(WATER_CLASS_COLOURS) == ["I", "II", "III", "IV", "V", "劣V"]
    assert WATER_CLASS_COLOURS["V"] == "#ff0000" and WATER_CLASS_COLOURS["劣V"] == "#7e0023"
