"""Server-rendered charts: numbers in, self-contained accessible SVG strings out.

Every function here is pure: it returns one ``<svg>`` element as a string, ready to be placed in
a page (mark it safe in the template: all text inside is already XML-escaped). The SVG

- has ``role="img"``, a ``<title>`` (and an optional ``<desc>``) and a ``viewBox``, and scales
  to ``width="100%"`` of its container;
- refers to nothing outside itself: no script, no fonts, no URLs, no ``style`` attributes (the
  page's content security policy forbids inline styles), only presentation attributes, which
  make it look right on its own, and ``qy-`` CSS classes, which ``static/qingyuan.css`` (or a
  page) may use to restyle it;
- draws Chinese text with :data:`FONT_FAMILY`.

Charts:

- :func:`station_map`: air stations and water sections over warning areas, scale bar, north arrow.
- :func:`time_series`: lines with NaN gaps, a forecast band, QC flags and threshold lines.
- :func:`calendar`: a daily calendar heat map (AQI categories and the like).
- :func:`bar_chart`: grouped or stacked bars (PMF profiles and contributions, driver shares).
- :func:`grid_map`: a gridded field (PSCF, CWT) with a colour bar and the stations on top.

:func:`area_outline` (from :mod:`features.geo`) gives an area a polygon when no boundary file is
configured.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from features.geo import KM_PER_DEGREE, area_outline
from features.times import naive_utc, to_local, to_utc
from pipelines.fonts import CSS_FONT_STACK

__all__ = [
    "AQI_COLOURS",
    "FONT_FAMILY",
    "NO_DATA",
    "WARNING_COLOURS",
    "WATER_CLASS_COLOURS",
    "area_outline",
    "bar_chart",
    "calendar",
    "grid_map",
    "station_map",
    "time_series",
]

#: Font stack of every chart (Chinese glyphs first, the bundled font before the generic family;
#: :data:`pipelines.fonts.CSS_FONT_STACK`, quoted for an XML attribute).
FONT_FAMILY = CSS_FONT_STACK.replace('"', "'")
#: Message drawn instead of a chart that has nothing to show.
NO_DATA = "no data / 无数据"

#: AQI category (1 优 … 6 严重污染) → colour, as in HJ 633-2012.
AQI_COLOURS: dict[int, str] = {
    1: "#00e400",
    2: "#ffff00",
    3: "#ff7e00",
    4: "#ff0000",
    5: "#99004c",
    6: "#7e0023",
}
#: Warning level (蓝 blue, 黄 yellow, 橙 orange, 红 red) → colour.
WARNING_COLOURS: dict[str, str] = {
    "blue": "#1e6fd9",
    "yellow": "#f2c200",
    "orange": "#ff7e00",
    "red": "#e00000",
}
#: Surface-water quality class (GB 3838-2002, I … 劣V) → colour, clean blue to polluted dark red.
WATER_CLASS_COLOURS: dict[str, str] = {
    "I": "#1e90ff",
    "II": "#00bcd4",
    "III": "#00b050",
    "IV": "#ffc000",
    "V": "#ff0000",
    "劣V": "#7e0023",
}

_INK = "#1f2933"  # text
_MUTED = "#52606d"  # axis labels, captions
_AXIS = "#9aa5b1"
_GRID = "#e4e7eb"
_FRAME = "#cbd2d9"
_MISSING = "#e4e7eb"  # a calendar day or marker without a value
_PALETTE = ("#1f5fa8", "#d9480f", "#2b8a3e", "#862e9c", "#c2255c", "#0b7285", "#5c940d", "#e8590c")
_FLAG_SHAPES = ("triangle", "cross", "diamond", "square")
_FLAG_COLOURS = ("#d97706", "#c62828", "#6b21a8", "#0f766e")

_BAD_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_COLOUR = re.compile(
    r"#[0-9a-fA-F]{3,8}|(?:rgb|rgba|hsl|hsla)\([0-9.,%\s/+-]{1,60}\)|[a-zA-Z]{3,30}"
)
_CLASS = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
_MONTHS_ZH = tuple(f"{m}月" for m in range(1, 13))


# ---------------------------------------------------------------------------------------------
# SVG building blocks


def _esc(text: Any) -> str:
    """XML-escape text for element content and (double- or single-quoted) attributes."""
    s = _BAD_XML.sub("\ufffd", "" if text is None else str(text))
    return (
        s.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&quot;")
        .replace("'", "&#39;")
    )


def _f(v: float) -> str:
    """Format a coordinate [px] compactly (one decimal)."""
    s = f"{v:.1f}"
    if s.endswith(".0"):
        s = s[:-2]
    return "0" if s == "-0" else s


def _colour(c: Any, default: str) -> str:
    """Return a CSS colour that is safe as a presentation attribute (no ``url()``), else ``default``."""
    if isinstance(c, str) and _COLOUR.fullmatch(c.strip()):
        return c.strip()
    return default


def _classes(*tokens: Any) -> str:
    """``class`` attribute value from tokens (each may hold several names); unsafe names dropped."""
    names: list[str] = []
    for tok in tokens:
        if not tok:
            continue
        for name in str(tok).split():
            if _CLASS.fullmatch(name) and name not in names:
                names.append(name)
    return " ".join(names)


def _rgb(c: str) -> tuple[float, float, float] | None:
    """RGB [0–1] of a ``#hex`` or ``rgb()`` colour, else None."""
    c = c.strip().lower()
    named = {"white": "#ffffff", "black": "#000000", "yellow": "#ffff00", "red": "#ff0000"}
    c = named.get(c, c)
    if c.startswith("#") and len(c) in (4, 5, 7, 9):
        h = c[1:]
        if len(h) in (3, 4):
            h = "".join(ch * 2 for ch in h[:3])
        try:
            return tuple(int(h[i : i + 2], 16) / 255 for i in (0, 2, 4))  # type: ignore[return-value]
        except ValueError:
            return None
    m = re.fullmatch(r"rgba?\(\s*([\d.]+)[,\s]+([\d.]+)[,\s]+([\d.]+).*\)", c)
    if m:
        return tuple(min(float(g), 255.0) / 255 for g in m.groups())  # type: ignore[return-value]
    return None


def _ink_on(fill: str) -> str:
    """Text colour (near-black or white) with the better contrast on ``fill`` (WCAG 2)."""
    rgb = _rgb(fill)
    if rgb is None:
        return _INK
    lin = [v / 12.92 if v <= 0.04045 else ((v + 0.055) / 1.055) ** 2.4 for v in rgb]
    lum = 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]
    return "#ffffff" if 1.05 / (lum + 0.05) > (lum + 0.05) / 0.0625 else _INK


def _text_width(s: str, size: float) -> float:
    """Rough rendered width of ``s`` at font ``size`` [px] (CJK glyphs are square)."""
    w = 0.0
    for ch in str(s):
        o = ord(ch)
        if o >= 0x2E80:
            w += 1.0
        elif ch in "iljI.,:;'|!()[] ":
            w += 0.32
        elif ch.isupper() or ch in "mwMW@%":
            w += 0.72
        else:
            w += 0.57
    return w * size


def _text(
    x: float,
    y: float,
    s: Any,
    *,
    size: float = 12,
    anchor: str = "start",
    cls: str = "",
    fill: str = _INK,
    weight: str | None = None,
    halo: bool = False,
    transform: str | None = None,
) -> str:
    """Draw a ``<text>`` element (``halo``: a white outline that keeps it legible over shapes)."""
    attrs = [f'x="{_f(x)}"', f'y="{_f(y)}"', f'font-size="{_f(size)}"', f'fill="{fill}"']
    if anchor != "start":
        attrs.append(f'text-anchor="{anchor}"')
    if weight:
        attrs.append(f'font-weight="{weight}"')
    if halo:
        attrs.append(
            'stroke="#ffffff" stroke-width="3" stroke-linejoin="round" paint-order="stroke"'
        )
    if transform:
        attrs.append(f'transform="{transform}"')
    if cls:
        attrs.append(f'class="{_classes(cls)}"')
    return f"<text {' '.join(attrs)}>{_esc(s)}</text>"


def _shape(kind: str, r: float, fill: str, *, stroke: str = "#ffffff", sw: float = 1.0) -> str:
    """Draw a marker shape centred on (0, 0) with radius about ``r`` [px]."""
    paint = f'fill="{fill}" stroke="{stroke}" stroke-width="{_f(sw)}"'
    if kind == "circle":
        return f'<circle class="qy-shape" r="{_f(r)}" {paint}/>'
    if kind == "square":
        a = r * 0.9
        return (
            f'<rect class="qy-shape" x="{_f(-a)}" y="{_f(-a)}" width="{_f(2 * a)}" '
            f'height="{_f(2 * a)}" rx="2" {paint}/>'
        )
    if kind == "diamond":
        a = r * 1.25
        d = f"M0 {_f(-a)}L{_f(a)} 0L0 {_f(a)}L{_f(-a)} 0Z"
    elif kind == "triangle":
        d = f"M0 {_f(-r * 1.2)}L{_f(r * 1.1)} {_f(r * 0.8)}L{_f(-r * 1.1)} {_f(r * 0.8)}Z"
    elif kind == "cross":
        a, b = r, r * 0.38
        d = (
            f"M{_f(-a)} {_f(-a + b)}L{_f(-a + b)} {_f(-a)}L0 {_f(-b)}L{_f(a - b)} {_f(-a)}"
            f"L{_f(a)} {_f(-a + b)}L{_f(b)} 0L{_f(a)} {_f(a - b)}L{_f(a - b)} {_f(a)}L0 {_f(b)}"
            f"L{_f(-a + b)} {_f(a)}L{_f(-a)} {_f(a - b)}L{_f(-b)} 0Z"
        )
    else:  # star
        pts = []
        for k in range(10):
            rr = r * 1.3 if k % 2 == 0 else r * 0.55
            a = math.pi / 2 + k * math.pi / 5
            pts.append(f"{_f(rr * math.cos(a))} {_f(-rr * math.sin(a))}")
        d = "M" + "L".join(pts) + "Z"
    return f'<path class="qy-shape" d="{d}" {paint}/>'


def _legend(items: Sequence[tuple], x0: float, y0: float, max_w: float) -> tuple[str, float]:
    """Lay out legend entries in rows from (x0, y0).

    ``items`` are ``(swatch, colour, text)``, swatch one of ``rect``, ``band``, ``line``,
    ``dash`` or a marker shape. Returns the SVG and the height used [px].
    """
    if not items:
        return "", 0.0
    out = ['<g class="qy-legend">']
    x, y, row_h = x0, y0, 18.0
    for swatch, colour, text in items:
        w = 14 + 6 + _text_width(text, 12) + 18
        if x > x0 and x + w > x0 + max_w:
            x, y = x0, y + row_h
        cy = y + row_h / 2
        out.append(f'<g class="qy-legend-item" transform="translate({_f(x)} {_f(cy)})">')
        if swatch in ("rect", "band"):
            op = ' fill-opacity="0.35"' if swatch == "band" else ""
            out.append(
                f'<rect x="0" y="-6" width="14" height="12" rx="2" fill="{colour}"{op} '
                f'stroke="{"none" if swatch == "band" else "#52606d"}" stroke-width="0.5"/>'
            )
        elif swatch in ("line", "dash"):
            dash = ' stroke-dasharray="4 3"' if swatch == "dash" else ""
            out.append(
                f'<line x1="0" y1="0" x2="14" y2="0" stroke="{colour}" stroke-width="2.2"{dash}/>'
            )
        else:
            out.append(
                f'<g transform="translate(7 0)">{_shape(swatch, 5, colour, stroke=_INK, sw=0.6)}</g>'
            )
        out.append(_text(20, 4, text, size=12, fill=_INK))
        out.append("</g>")
        x += w
    out.append("</g>")
    return "".join(out), y + row_h - y0


def _measure_legend(items: Sequence[tuple], max_w: float) -> float:
    """Height [px] :func:`_legend` will use."""
    return _legend(items, 0, 0, max_w)[1]


def _svg(
    kind: str,
    width: float,
    height: float,
    title: str,
    body: str,
    *,
    desc: str | None = None,
    natural: bool = False,
) -> str:
    """Wrap ``body`` in the root ``<svg>`` with its title, description and background.

    ``natural``: the chart is never drawn wider than its own width [px] (a calendar of a few
    weeks would otherwise grow to the page width); by default it fills its container.
    """
    uid = (
        "qy-"
        + hashlib.sha1(
            f"{kind}|{title}|{body}".encode("utf-8", "replace"), usedforsecurity=False
        ).hexdigest()[:10]
    )
    labelled = f"{uid}-t" + (f" {uid}-d" if desc else "")
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_f(width)} {_f(height)}" '
        f'width="{_f(width) if natural else "100%"}" preserveAspectRatio="xMidYMid meet" role="img" '
        f'aria-labelledby="{labelled}" class="qy-chart qy-chart-{kind}" '
        f'font-family="{FONT_FAMILY}" font-size="12">'
        f'<title id="{uid}-t">{_esc(title)}</title>'
        + (f'<desc id="{uid}-d">{_esc(desc)}</desc>' if desc else "")
        + f'<rect class="qy-chart-bg" x="0" y="0" width="{_f(width)}" height="{_f(height)}" '
        f'fill="#ffffff"/>'
        + _text(12, 24, title, size=15, weight="600", cls="qy-chart-title")
        + body
        + "</svg>"
    )


def _no_data(kind: str, width: float, height: float, title: str, desc: str | None) -> str:
    """Draw the chart frame with :data:`NO_DATA` in it."""
    body = (
        f'<rect class="qy-no-data-frame" x="12" y="40" width="{_f(width - 24)}" '
        f'height="{_f(max(height - 52, 20))}" rx="4" fill="#f5f7fa" stroke="{_FRAME}" '
        f'stroke-dasharray="4 4"/>'
        + _text(
            width / 2,
            40 + max(height - 52, 20) / 2 + 5,
            NO_DATA,
            size=15,
            anchor="middle",
            fill=_MUTED,
            cls="qy-no-data",
        )
    )
    return _svg(kind, width, height, title, body, desc=desc)


def _floats(values: Any) -> np.ndarray:
    """1-D float array; None, pd.NA and non-numbers become NaN."""
    if values is None:
        return np.array([], float)
    arr = np.asarray(values, dtype=object).ravel()
    return pd.to_numeric(pd.Series(arr, dtype=object), errors="coerce").to_numpy(float)


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """``(start, stop)`` of the runs of True in ``mask``."""
    m = np.concatenate([[False], np.asarray(mask, bool), [False]])
    d = np.flatnonzero(np.diff(m.astype(np.int8)))
    return list(zip(d[::2].tolist(), d[1::2].tolist(), strict=True))


def _nice_ticks(lo: float, hi: float, lo_n: int = 5, hi_n: int = 7) -> tuple[list[float], float]:
    """Round tick values covering [lo, hi]: ``lo_n`` to ``hi_n`` of them when possible.

    Returns the ticks (first ≤ lo, last ≥ hi) and the step.
    """
    if not (math.isfinite(lo) and math.isfinite(hi)):
        lo, hi = 0.0, 1.0
    if hi < lo:
        lo, hi = hi, lo
    if hi - lo < 1e-12 * max(1.0, abs(hi)):
        pad = abs(hi) * 0.1 or 1.0
        lo, hi = lo - pad, hi + pad
    e = math.floor(math.log10(hi - lo))
    best: tuple[tuple[float, float], list[float], float] | None = None
    fallback: tuple[tuple[float, float], list[float], float] | None = None
    for exp in range(e - 2, e + 2):
        for m in (1.0, 2.0, 2.5, 5.0):
            step = m * 10.0**exp
            a = math.floor(lo / step + 1e-9) * step
            b = math.ceil(hi / step - 1e-9) * step
            n = round((b - a) / step) + 1
            ticks = [a + i * step for i in range(n)]
            ticks = [0.0 if abs(t) < step * 1e-9 else t for t in ticks]
            key = ((b - a) / (hi - lo), 0.5 if m == 2.5 else 0.0)
            if lo_n <= n <= hi_n:
                if best is None or key < best[0]:
                    best = (key, ticks, step)
            elif 2 <= n <= 12:
                fkey = (abs(n - (lo_n + hi_n) / 2), key[0])
                if fallback is None or fkey < fallback[0]:
                    fallback = (fkey, ticks, step)
    chosen = best or fallback
    assert chosen is not None
    return chosen[1], chosen[2]


def _tick_label(v: float, step: float) -> str:
    """Tick value with as many decimals as the step needs."""
    dec = max(0, -math.floor(math.log10(step) + 1e-9)) if step > 0 else 0
    if abs(step * 10**dec - round(step * 10**dec)) > 1e-6:  # 2.5, 0.25 ...
        dec += 1
    s = f"{v:,.{dec}f}" if abs(v) >= 10000 else f"{v:.{dec}f}"
    return "0" if s in ("-0", "-0.0", "-0.00") else s


def _fmt_value(v: float) -> str:
    """Format a data value for a tooltip."""
    if not math.isfinite(v):
        return "–"
    a = abs(v)
    if a >= 100:
        return f"{v:.0f}"
    if a >= 1:
        return f"{v:.2f}".rstrip("0").rstrip(".")
    return f"{v:.3g}"


# ---------------------------------------------------------------------------------------------
# Maps


class _Projection:
    """Equirectangular projection scaled by cos(mean latitude), fitted into a pixel frame."""

    def __init__(
        self,
        lats: np.ndarray,
        lons: np.ndarray,
        frame: tuple[float, float, float, float],
        *,
        pad: float = 30.0,
        min_km: float = 4.0,
    ) -> None:
        self.frame = frame
        fx, fy, fw, fh = frame
        self.k = math.cos(math.radians(float(np.mean(lats))))
        xs, ys = lons * self.k, lats
        x0, x1, y0, y1 = float(xs.min()), float(xs.max()), float(ys.min()), float(ys.max())
        min_span = min_km / KM_PER_DEGREE
        if x1 - x0 < min_span:
            x0, x1 = (x0 + x1) / 2 - min_span / 2, (x0 + x1) / 2 + min_span / 2
        if y1 - y0 < min_span:
            y0, y1 = (y0 + y1) / 2 - min_span / 2, (y0 + y1) / 2 + min_span / 2
        iw, ih = max(fw - 2 * pad, 10), max(fh - 2 * pad, 10)
        self.scale = min(iw / (x1 - x0), ih / (y1 - y0))  # px per degree of latitude
        self.cx, self.cy = (x0 + x1) / 2, (y0 + y1) / 2
        self.px, self.py = fx + fw / 2, fy + fh / 2

    def xy(self, lat: float, lon: float) -> tuple[float, float]:
        """Pixel position of (lat, lon) [degrees]."""
        return (
            self.px + (lon * self.k - self.cx) * self.scale,
            self.py - (lat - self.cy) * self.scale,
        )

    def latlon(self, x: float, y: float) -> tuple[float, float]:
        """Inverse of :meth:`xy` [degrees]."""
        lat = self.cy - (y - self.py) / self.scale
        return lat, (self.cx + (x - self.px) / self.scale) / self.k

    @property
    def km_per_px(self) -> float:
        """Map scale [km / px]."""
        return KM_PER_DEGREE / self.scale


def _frame(proj: _Projection) -> str:
    fx, fy, fw, fh = proj.frame
    return (
        f'<rect class="qy-map-frame" x="{_f(fx)}" y="{_f(fy)}" width="{_f(fw)}" '
        f'height="{_f(fh)}" fill="#f3f6f9" stroke="{_FRAME}"/>'
    )


def _graticule(proj: _Projection, *, colour: str = _GRID, halo: bool = False) -> str:
    """Light meridians and parallels at round degrees, labelled inside the frame edges."""
    fx, fy, fw, fh = proj.frame
    lat_top, lon_left = proj.latlon(fx, fy)
    lat_bot, lon_right = proj.latlon(fx + fw, fy + fh)
    span = max(lon_right - lon_left, lat_top - lat_bot)
    step = next(
        (s for s in (0.01, 0.02, 0.05, 0.1, 0.2, 0.25, 0.5, 1, 2, 5, 10, 20) if span / s <= 7), 30
    )
    dec = 0 if step >= 1 else (1 if step * 10 == round(step * 10) else 2)
    out = ['<g class="qy-graticule">']
    lon = math.ceil(lon_left / step) * step
    while lon <= lon_right:
        x, _ = proj.xy(lat_top, lon)
        out.append(
            f'<line x1="{_f(x)}" y1="{_f(fy)}" x2="{_f(x)}" y2="{_f(fy + fh)}" '
            f'stroke="{colour}" stroke-width="1"/>'
        )
        if fx + 20 < x < fx + fw - 70:
            hemi = "E" if lon >= 0 else "W"
            out.append(
                _text(
                    x + 3, fy + 12, f"{abs(lon):.{dec}f}°{hemi}", size=10, fill="#616e7c", halo=halo
                )
            )
        lon += step
    lat = math.ceil(lat_bot / step) * step
    while lat <= lat_top:
        _, y = proj.xy(lat, lon_left)
        out.append(
            f'<line x1="{_f(fx)}" y1="{_f(y)}" x2="{_f(fx + fw)}" y2="{_f(y)}" '
            f'stroke="{colour}" stroke-width="1"/>'
        )
        if fy + 24 < y < fy + fh - 48:
            hemi = "N" if lat >= 0 else "S"
            out.append(
                _text(
                    fx + 4, y - 3, f"{abs(lat):.{dec}f}°{hemi}", size=10, fill="#616e7c", halo=halo
                )
            )
        lat += step
    out.append("</g>")
    return "".join(out)


def _scale_bar(proj: _Projection) -> str:
    """Draw a two-segment scale bar [km] in the bottom-left corner of the frame."""
    fx, fy, fw, fh = proj.frame
    target = fw / 5 * proj.km_per_px
    e = math.floor(math.log10(target))
    km = max(m * 10.0**e for m in (1, 2, 5) if m * 10.0**e <= target)
    w = km / proj.km_per_px
    x, y = fx + 14, fy + fh - 16
    lab = f"{km:g} km"
    half = f"{km / 2:g}"
    return (
        f'<g class="qy-scale-bar" transform="translate({_f(x)} {_f(y)})">'
        f'<rect x="-6" y="-20" width="{_f(w + 12 + _text_width(lab, 11) / 2)}" height="28" '
        f'rx="3" fill="#ffffff" fill-opacity="0.85"/>'
        f'<rect x="0" y="-3" width="{_f(w / 2)}" height="5" fill="{_INK}"/>'
        f'<rect x="{_f(w / 2)}" y="-3" width="{_f(w / 2)}" height="5" fill="#ffffff" '
        f'stroke="{_INK}" stroke-width="0.8"/>'
        f'<rect x="0" y="-3" width="{_f(w)}" height="5" fill="none" stroke="{_INK}" '
        f'stroke-width="0.8"/>'
        + _text(0, -7, "0", size=10, anchor="middle", fill=_INK)
        + _text(w / 2, -7, half, size=10, anchor="middle", fill=_INK)
        + _text(w, -7, lab, size=10, anchor="middle", fill=_INK)
        + "</g>"
    )


def _north_arrow(proj: _Projection) -> str:
    """Draw a north arrow in the top-right corner of the frame."""
    fx, fy, fw, _ = proj.frame
    x, y = fx + fw - 24, fy + 40
    return (
        f'<g class="qy-north-arrow" transform="translate({_f(x)} {_f(y)})">'
        f"<title>N</title>"
        f'<path d="M0 -18L8 8L0 3Z" fill="{_INK}"/>'
        f'<path d="M0 -18L-8 8L0 3Z" fill="#ffffff" stroke="{_INK}" stroke-width="1"/>'
        + _text(0, -22, "N", size=12, anchor="middle", weight="700", fill=_INK, halo=True)
        + "</g>"
    )


def _safe_href(url: Any) -> str | None:
    """``url`` if it is a relative or http(s) address (never ``javascript:`` and the like)."""
    if url is None:
        return None
    s = str(url).strip()
    probe = re.sub(r"[\x00-\x20\x7f]", "", s)  # browsers drop these when parsing a scheme
    scheme = re.match(r"([A-Za-z][A-Za-z0-9+.-]*):", probe)
    if not s or (scheme and scheme.group(1).lower() not in ("http", "https")):
        return None
    return s


def _finite_ll(items: Iterable[Mapping[str, Any]]) -> list[tuple[Mapping[str, Any], float, float]]:
    out = []
    for p in items:
        try:
            lat, lon = float(p["lat"]), float(p["lon"])
        except (KeyError, TypeError, ValueError):
            continue
        if math.isfinite(lat) and math.isfinite(lon):
            out.append((p, lat, lon))
    return out


def _polygon_ll(area: Mapping[str, Any]) -> list[tuple[float, float]]:
    ring = []
    for v in area.get("polygon") or ():
        try:
            lat, lon = float(v[0]), float(v[1])
        except (TypeError, ValueError, IndexError):
            continue
        if math.isfinite(lat) and math.isfinite(lon):
            ring.append((lat, lon))
    return ring


def _centroid(pts: Sequence[tuple[float, float]]) -> tuple[float, float]:
    """Area centroid of a pixel polygon (vertex mean when degenerate)."""
    a = cx = cy = 0.0
    n = len(pts)
    for i in range(n):
        x0, y0 = pts[i]
        x1, y1 = pts[(i + 1) % n]
        c = x0 * y1 - x1 * y0
        a += c
        cx += (x0 + x1) * c
        cy += (y0 + y1) * c
    if abs(a) < 1e-9:
        return sum(p[0] for p in pts) / n, sum(p[1] for p in pts) / n
    return cx / (3 * a), cy / (3 * a)


def _place_label(
    cx: float,
    cy: float,
    half: float,
    h: float,
    taken: Sequence[tuple[float, float, float, float]],
    bounds: tuple[float, float, float, float],
) -> tuple[float, float]:
    """Return the anchor of a label near (cx, cy) whose box misses the ``taken`` boxes [px].

    The label's box is ``half`` either side of the anchor and ``h`` high from 13 px above the
    baseline. The centroid itself is tried first, then nearby positions, then just above and
    below the polygon's pixel ``bounds`` (x0, y0, x1, y1); if all are covered, the centroid.
    """
    cands = [(cx, cy)]
    for dy, dx in ((-24, 0), (24, 0), (0, -1), (0, 1), (-24, -1), (-24, 1), (24, -1), (24, 1)):
        cands.append((cx + dx * (half + 14), cy + dy))
    cands += [(cx, bounds[1] - h + 6), (cx, bounds[3] + 18)]
    for x, y in cands:
        box = (x - half, y - 13, x + half, y - 13 + h)
        if not any(
            box[0] < t[2] and t[0] < box[2] and box[1] < t[3] and t[1] < box[3] for t in taken
        ):
            return x, y
    return cx, cy


def _marker_size(label: str, small: bool = False) -> tuple[float, bool]:
    """Return the radius [px] of a marker and whether its label fits inside."""
    if small:
        return 6.5, False
    w = _text_width(label, 10.5) * 1.05  # bold
    if label and w <= 26:
        return max(9.0, w / 2 + 3), True
    return 7.5, False


def _marker(
    p: Mapping[str, Any],
    x: float,
    y: float,
    *,
    link: Callable[[Any], Any] | None,
    small: bool = False,
) -> str:
    """One station marker: shape by kind, label inside (or beside), tooltip, optional link."""
    kind = str(p.get("kind") or "air")
    fill = _colour(p.get("fill"), "#8c99a6")
    label = p.get("label")
    label = "" if label is None else str(label)
    tip = p.get("tooltip") or p.get("name") or p.get("id") or ""
    r, inside = _marker_size(label, small)
    shape = {"air": "circle", "water": "square", "star": "star"}.get(kind, "diamond")
    parts = [
        f'<g class="{_classes("qy-marker", "qy-marker-" + kind, p.get("class_"))}" '
        f'data-station="{_esc(p.get("id", ""))}" transform="translate({_f(x)} {_f(y)})">',
    ]
    href = _safe_href(link(p.get("id"))) if link is not None else None
    if href is None:
        parts.append(f"<title>{_esc(tip)}</title>")
    parts.append(
        _shape(shape, r, fill, stroke="#ffffff" if small else "#2d3a45", sw=1.2 if small else 1)
    )
    if label and inside:
        parts.append(
            _text(
                0,
                3.8,
                label,
                size=10.5,
                anchor="middle",
                weight="700",
                fill=_ink_on(fill),
                cls="qy-marker-label",
            )
        )
    elif label:
        parts.append(
            _text(
                r + 3, 4, label, size=11, weight="600", fill=_INK, halo=True, cls="qy-marker-label"
            )
        )
    parts.append("</g>")
    g = "".join(parts)
    if href is None:
        return g
    return f'<a class="qy-station-link" href="{_esc(href)}"><title>{_esc(tip)}</title>{g}</a>'


def _legend_items(legend: Iterable[Sequence[Any]]) -> list[tuple[str, str, str]]:
    items = []
    for entry in legend:
        colour, text = entry[0], entry[1]
        shape = str(entry[2]) if len(entry) > 2 and entry[2] else "rect"
        if shape not in {
            "rect",
            "band",
            "line",
            "dash",
            "circle",
            "square",
            "diamond",
            "triangle",
            "cross",
            "star",
        }:
            shape = "rect"
        items.append((shape, _colour(colour, "#8c99a6"), str(text)))
    return items


def station_map(
    points: Sequence[Mapping[str, Any]],
    *,
    areas: Sequence[Mapping[str, Any]] = (),
    title: str,
    width: float = 900,
    height: float = 600,
    link: Callable[[Any], str | None] | None = None,
    legend: Sequence[Sequence[Any]] = (),
    desc: str | None = None,
) -> str:
    """Map of monitoring stations over (warning) areas, with scale bar, north arrow and legend.

    Parameters
    ----------
    points : sequence of mapping
        Stations: ``id``, ``name``, ``lat`` and ``lon`` [degrees], ``fill`` (CSS colour, e.g.
        from :data:`AQI_COLOURS`), ``label`` (short text drawn on the marker, e.g. AQI ``"156"``
        or class ``"III"``), ``kind`` (``"air"``: circle, ``"water"``: square, other: diamond),
        ``tooltip`` (text; default the name) and optionally ``class_`` (CSS classes). Stations
        without finite coordinates are left out.
    areas : sequence of mapping, optional
        Areas drawn under the stations: ``id``, ``name``, ``polygon`` (list of ``(lat, lon)``
        [degrees], e.g. from :func:`area_outline`), ``fill`` (CSS colour of the warning, or None)
        and ``level_label`` (text under the name, or None).
    title : str
        Chart title (also the accessible name).
    width, height : float, optional
        Size of the view box [px]; the SVG scales to the width of its container.
    link : callable, optional
        ``link(id) -> URL`` of a station's page; each marker then becomes a link (addresses with
        a scheme other than http(s) are ignored).
    legend : sequence of tuple, optional
        Legend entries ``(colour, text)`` or ``(colour, text, swatch)`` with swatch one of
        ``rect``, ``band``, ``line``, ``dash``, ``circle``, ``square``, ``diamond``,
        ``triangle``, ``cross``, ``star``.
    desc : str, optional
        Longer description for assistive technology.

    Returns
    -------
    str
        The SVG element (the no-data message when there is neither a station nor an area).
    """
    pts = _finite_ll(points)
    rings = [(a, _polygon_ll(a)) for a in areas]
    rings = [(a, r) for a, r in rings if r]
    lats = [lat for _, lat, _ in pts] + [v[0] for _, r in rings for v in r]
    lons = [lon for _, _, lon in pts] + [v[1] for _, r in rings for v in r]
    if not lats:
        return _no_data("map", width, height, title, desc)
    items = _legend_items(legend)
    leg_h = _measure_legend(items, width - 24)
    frame = (12.0, 38.0, width - 24.0, height - 38.0 - (leg_h + 14 if leg_h else 12))
    proj = _Projection(np.asarray(lats), np.asarray(lons), frame, pad=34)
    body = [_frame(proj), _graticule(proj)]
    body.append('<g class="qy-areas">')
    # boxes (x0, y0, x1, y1) [px] that area labels should not cover: the markers
    taken: list[tuple[float, float, float, float]] = []
    for p, lat, lon in pts:
        x, y = proj.xy(lat, lon)
        lab = "" if p.get("label") is None else str(p.get("label"))
        r, inside = _marker_size(lab)
        extra = 0.0 if inside or not lab else _text_width(lab, 11) + 4
        taken.append((x - r - 1, y - r - 1, x + r + extra + 1, y + r + 1))
    labels = []
    for a, ring in rings:
        xy = [proj.xy(lat, lon) for lat, lon in ring]
        d = "M" + "L".join(f"{_f(x)} {_f(y)}" for x, y in xy) + "Z"
        fill = a.get("fill")
        warned = fill is not None and fill != ""
        colour = _colour(fill, "#9aa5b1") if warned else "#dfe6ed"
        name, level = a.get("name") or "", a.get("level_label") or ""
        tip = f"{name} · {level}" if level else (name or a.get("id") or "")
        body.append(
            f'<path class="{_classes("qy-area", "qy-area-warned" if warned else "")}" '
            f'data-area="{_esc(a.get("id", ""))}" d="{d}" fill="{colour}" '
            f'fill-opacity="{"0.28" if warned else "0.55"}" '
            f'stroke="{colour if warned else "#7b8794"}" stroke-width="{"2" if warned else "1"}" '
            f'stroke-linejoin="round"><title>{_esc(tip)}</title></path>'
        )
        if not (name or level):
            continue
        cx, cy = _centroid(xy)
        half = max(_text_width(name, 12.5), _text_width(level, 11.5)) / 2 + 3
        h = 32.0 if level else 17.0
        bb = (
            min(p[0] for p in xy),
            min(p[1] for p in xy),
            max(p[0] for p in xy),
            max(p[1] for p in xy),
        )
        lx, ly = _place_label(cx, cy, half, h, taken, bb)
        taken.append((lx - half, ly - 13, lx + half, ly - 13 + h))
        lab = []
        if name:
            lab.append(
                _text(lx, ly, name, size=12.5, anchor="middle", weight="600", fill=_INK, halo=True)
            )
        if level:
            lab.append(
                _text(
                    lx,
                    ly + (15 if name else 0),
                    level,
                    size=11.5,
                    anchor="middle",
                    weight="600",
                    fill=_INK,
                    halo=True,
                )
            )
        labels.append(
            f'<g class="qy-area-label" data-area="{_esc(a.get("id", ""))}">{"".join(lab)}</g>'
        )
    body.append("</g>")
    body.append('<g class="qy-area-labels">' + "".join(labels) + "</g>")
    body.append('<g class="qy-stations">')
    for p, lat, lon in pts:
        x, y = proj.xy(lat, lon)
        body.append(_marker(p, x, y, link=link))
    body.append("</g>")
    body.append(_scale_bar(proj))
    body.append(_north_arrow(proj))
    if items:
        body.append(_legend(items, 12, height - leg_h - 8, width - 24)[0])
    return _svg("map", width, height, title, "".join(body), desc=desc)


# ---------------------------------------------------------------------------------------------
# Time series


def _secs(t: pd.DatetimeIndex) -> np.ndarray:
    """Seconds since the epoch (NaN for NaT)."""
    return ((t - pd.Timestamp(0)) / pd.Timedelta(seconds=1)).to_numpy(float)


def _time_ticks(s0: float, s1: float, tz: str, max_ticks: int) -> list[tuple[float, str, str]]:
    """Round local times between s0 and s1 [s since the epoch, UTC] with two-line labels."""
    a = to_local(pd.Timestamp(s0, unit="s"), tz)
    b = to_local(pd.Timestamp(s1, unit="s"), tz)
    span = s1 - s0
    hour, day = 3600.0, 86400.0
    ticks: list[pd.Timestamp] = []
    kind = ""
    for h in (1, 2, 3, 6, 12):
        if span / (h * hour) <= max_ticks:
            rng = pd.date_range(a.floor("h"), b, freq="h")
            ticks = [t for t in rng if t >= a and t.hour % h == 0]
            kind = "hour"
            break
    if not kind:
        pattern = {
            1: None,
            2: range(1, 30, 2),
            5: (1, 6, 11, 16, 21, 26),
            10: (1, 11, 21),
            15: (1, 16),
        }
        for k, days in pattern.items():
            if span / (k * day) <= max_ticks:
                rng = pd.date_range(a.normalize(), b, freq="D")
                ticks = [t for t in rng if t >= a and (days is None or t.day in days)]
                kind = "day"
                break
    if not kind:
        for m in (1, 2, 3, 6):
            if span / (m * 30.44 * day) <= max_ticks:
                rng = pd.date_range(a.normalize().replace(day=1), b, freq="MS")
                ticks = [t for t in rng if t >= a and (t.month - 1) % m == 0]
                kind = "month"
                break
    if not kind:
        need = span / (365.25 * day) / max(max_ticks, 1)
        e = 10 ** max(0, math.floor(math.log10(max(need, 1e-9))))
        step = next(int(m * e) for m in (1, 2, 5, 10) if m * e >= need)
        rng = pd.date_range(a.normalize().replace(month=1, day=1), b, freq="YS")
        ticks = [t for t in rng if t >= a and t.year % step == 0]
        kind = "year"
    if not ticks:
        ticks, kind = [a, b], "hour"
    out: list[tuple[float, str, str]] = []
    prev: pd.Timestamp | None = None
    for t in ticks:
        try:
            s = float(_secs(pd.DatetimeIndex([to_utc(t, tz)]))[0])
        except (ValueError, OverflowError):  # a local time DST skips or repeats
            continue
        if kind == "hour":
            l1 = t.strftime("%H:%M")
            if prev is None:
                l2 = t.strftime("%Y-%m-%d")
            else:
                l2 = t.strftime("%m-%d") if t.date() != prev.date() else ""
        elif kind == "day":
            l1 = t.strftime("%m-%d")
            l2 = str(t.year) if prev is None or t.year != prev.year else ""
        elif kind == "month":
            l1, l2 = t.strftime("%Y-%m"), ""
        else:
            l1, l2 = str(t.year), ""
        out.append((s, l1, l2))
        prev = t
    return out


def _utc_offset_label(tz: str, s: float) -> str:
    """``UTC`` or ``UTC+08:00`` for zone ``tz`` at time ``s`` [s since the epoch]."""
    if tz.upper() in ("UTC", "Z", "GMT", "ETC/UTC"):
        return "UTC"
    local = to_local(pd.Timestamp(s, unit="s"), tz)
    off = (local - pd.Timestamp(s, unit="s")).total_seconds() / 60
    sign = "+" if off >= 0 else "-"
    off = abs(int(round(off)))
    return f"UTC{sign}{off // 60:02d}:{off % 60:02d}"


def time_series(
    times: Sequence[Any],
    series: Sequence[Mapping[str, Any]],
    *,
    band: Mapping[str, Any] | None = None,
    flags: Sequence[Mapping[str, Any]] | None = None,
    title: str,
    y_label: str,
    width: float = 900,
    height: float = 320,
    thresholds: Sequence[Sequence[Any]] = (),
    tz: str = "UTC",
    desc: str | None = None,
) -> str:
    """Line chart of time series with gaps, an uncertainty band, QC flags and thresholds.

    Parameters
    ----------
    times : sequence of pandas.Timestamp or numpy.datetime64
        Time of each value [UTC; naive taken as UTC, aware converted].
    series : sequence of mapping
        Lines: ``name``, ``values`` (floats, same length as ``times``; NaN or None leaves a
        gap), ``class_`` (CSS classes) and optionally ``colour`` (default a palette) and
        ``dash`` (True: dashed, e.g. a forecast).
    band : mapping, optional
        A filled band, e.g. the P10–P90 forecast range: ``lower``, ``upper`` (same length as
        ``times``), ``name`` and optionally ``colour``.
    flags : sequence of mapping, optional
        QC-flagged points, one marker shape per entry: ``index`` (positions in ``times``) or
        ``times`` (times that occur in ``times``), ``label`` (legend text, e.g. ``"可疑 suspect"``),
        ``class_``, and optionally ``series`` (name or position of the series the markers sit
        on; default the first), ``values`` (the markers' heights instead, e.g. the raw value of
        an invalidated observation) and ``colour``. A marker without a finite height sits on
        the time axis.
    title : str
        Chart title (also the accessible name).
    y_label : str
        Label of the value axis, with its unit, e.g. ``"PM2.5 [µg/m³]"``.
    width, height : float, optional
        Size of the view box [px].
    thresholds : sequence of tuple, optional
        Horizontal dashed lines ``(value, label)`` or ``(value, label, colour)``, e.g. AQI 100
        and 200 [unit of the values]; one far outside the data range is left out.
    tz : str, optional
        IANA time zone of the time-axis labels, e.g. the network's ``"Asia/Shanghai"``.
    desc : str, optional
        Longer description for assistive technology.

    Returns
    -------
    str
        The SVG element; the no-data message when there are no times or no finite value.
    """
    t_idx = naive_utc(pd.DatetimeIndex(pd.to_datetime(list(times), utc=True)))
    x = _secs(t_idx)
    n = len(x)
    lines = []
    for i, s in enumerate(series):
        v = _floats(s.get("values"))
        if len(v) != n:
            raise ValueError(f"series {s.get('name')!r} has {len(v)} values for {n} times")
        lines.append((s, v, _colour(s.get("colour"), _PALETTE[i % len(_PALETTE)])))
    lo_b = hi_b = None
    if band is not None:
        lo_b, hi_b = _floats(band.get("lower")), _floats(band.get("upper"))
        if len(lo_b) != n or len(hi_b) != n:
            raise ValueError("band lower / upper differ in length from times")
    order = np.argsort(np.where(np.isfinite(x), x, np.inf), kind="stable")
    if n and not np.array_equal(order, np.arange(n)):
        x = x[order]
        lines = [(s, v[order], c) for s, v, c in lines]
        if band is not None:
            lo_b, hi_b = lo_b[order], hi_b[order]
    inv = np.empty(n, dtype=int)
    inv[order] = np.arange(n)
    ok_t = np.isfinite(x)
    vals = [v[ok_t] for _, v, _ in lines]
    if band is not None:
        vals += [lo_b[ok_t], hi_b[ok_t]]
    finite = np.concatenate(vals + [np.array([])]) if vals else np.array([])
    finite = finite[np.isfinite(finite)]
    if n == 0 or not ok_t.any() or finite.size == 0:
        return _no_data("time-series", width, height, title, desc)

    # flags: positions after sorting and the marker heights
    flag_sets = []
    for j, fl in enumerate(flags or ()):
        pos: list[int] = []
        if fl.get("index") is not None:
            pos = [int(inv[i]) for i in np.atleast_1d(np.asarray(fl["index"], int)) if -n <= i < n]
        elif fl.get("times") is not None:
            ft = _secs(naive_utc(pd.DatetimeIndex(pd.to_datetime(list(fl["times"]), utc=True))))
            for s_ in ft:
                hit = np.flatnonzero(x == s_)
                if hit.size:
                    pos.append(int(hit[0]))
        ref = fl.get("series", 0)
        if isinstance(ref, str):
            ref = next((k for k, (s, _, _) in enumerate(lines) if s.get("name") == ref), 0)
        heights = None
        if fl.get("values") is not None:
            heights = _floats(fl["values"])
            if len(heights) != len(pos):
                raise ValueError(f"flag {fl.get('label')!r}: values differ in length from points")
            finite = np.concatenate([finite, heights[np.isfinite(heights)]])
        elif lines and 0 <= int(ref) < len(lines):
            heights = lines[int(ref)][1][pos] if pos else np.array([])
        else:
            heights = np.full(len(pos), np.nan)
        flag_sets.append((fl, pos, heights, j))

    lo, hi = float(finite.min()), float(finite.max())
    if lo >= 0 and lo <= 0.4 * hi:
        lo = 0.0
    span = hi - lo or abs(hi) or 1.0
    kept_thr = []
    for th in thresholds:
        try:
            tv = float(th[0])
        except (TypeError, ValueError, IndexError):
            continue
        if math.isfinite(tv) and lo - 0.3 * span <= tv <= hi + 0.3 * span:
            kept_thr.append((tv, str(th[1]) if len(th) > 1 else "", th[2] if len(th) > 2 else None))
            lo, hi = min(lo, tv), max(hi, tv)
    yt, ystep = _nice_ticks(lo, hi)
    ylo, yhi = yt[0], yt[-1]
    ylabels = [_tick_label(v, ystep) for v in yt]

    # legend
    items: list[tuple[str, str, str]] = []
    for s, _, c in lines:
        items.append(("dash" if s.get("dash") else "line", c, str(s.get("name", ""))))
    band_colour = _colour(band.get("colour"), "#4c8bd6") if band is not None else ""
    if band is not None:
        items.append(("band", band_colour, str(band.get("name", ""))))
    for fl, _, _, j in flag_sets:
        colour = _colour(fl.get("colour"), _FLAG_COLOURS[j % len(_FLAG_COLOURS)])
        items.append((_FLAG_SHAPES[j % len(_FLAG_SHAPES)], colour, str(fl.get("label", ""))))
    left = 14 + (20 if y_label else 0) + max(_text_width(s, 11) for s in ylabels) + 8
    right = 18.0
    leg_h = _measure_legend(items, width - left - right)
    top, bottom = 44.0, 40.0 + (leg_h + 6 if leg_h else 0)
    px0, px1 = left, width - right
    py0, py1 = top, max(height - bottom, top + 60)
    s0, s1 = float(np.nanmin(x)), float(np.nanmax(x))
    if s1 - s0 < 60:
        s0, s1 = s0 - 1800, s1 + 1800

    def tx(s: float) -> float:
        return px0 + (s - s0) / (s1 - s0) * (px1 - px0)

    def vy(v: float) -> float:
        return py1 - (v - ylo) / (yhi - ylo) * (py1 - py0)

    body: list[str] = []
    # grid and axes
    body.append('<g class="qy-gridlines">')
    for v in yt:
        y = vy(v)
        body.append(
            f'<line x1="{_f(px0)}" y1="{_f(y)}" x2="{_f(px1)}" y2="{_f(y)}" stroke="{_GRID}"/>'
        )
    xticks = _time_ticks(s0, s1, tz, max(2, int((px1 - px0) / 80)))
    for s, _, _ in xticks:
        xx = tx(s)
        body.append(
            f'<line x1="{_f(xx)}" y1="{_f(py0)}" x2="{_f(xx)}" y2="{_f(py1)}" stroke="{_GRID}" '
            f'stroke-dasharray="2 3"/>'
        )
    body.append("</g>")
    # band
    if band is not None:
        body.append(
            f'<g class="{_classes("qy-band", band.get("class_"))}">'
            f"<title>{_esc(band.get('name', ''))}</title>"
        )
        ok = ok_t & np.isfinite(lo_b) & np.isfinite(hi_b)
        for a, b in _runs(ok):
            up = [f"{_f(tx(x[i]))} {_f(vy(hi_b[i]))}" for i in range(a, b)]
            dn = [f"{_f(tx(x[i]))} {_f(vy(lo_b[i]))}" for i in range(b - 1, a - 1, -1)]
            if b - a == 1:  # a lone instant: a short vertical bar
                body.append(
                    f'<line class="qy-band-area" x1="{_f(tx(x[a]))}" y1="{_f(vy(hi_b[a]))}" '
                    f'x2="{_f(tx(x[a]))}" y2="{_f(vy(lo_b[a]))}" stroke="{band_colour}" '
                    f'stroke-opacity="0.5" stroke-width="4"/>'
                )
                continue
            body.append(
                f'<path class="qy-band-area" d="M{" L".join(up)} L{" L".join(dn)}Z" '
                f'fill="{band_colour}" fill-opacity="0.25" stroke="none"/>'
            )
        body.append("</g>")
    # thresholds
    for tv, tl, tc in kept_thr:
        y = vy(tv)
        c = _colour(tc, "#7b8794")
        body.append(
            f'<g class="qy-threshold"><line x1="{_f(px0)}" y1="{_f(y)}" x2="{_f(px1)}" '
            f'y2="{_f(y)}" stroke="{c}" stroke-width="1.2" stroke-dasharray="6 4"/>'
            + _text(px1 - 4, y - 4, tl, size=11, anchor="end", fill=_MUTED, halo=True)
            + "</g>"
        )
    # lines
    for s, v, c in lines:
        cls = _classes("qy-series", s.get("class_"))
        body.append(
            f'<g class="{cls}" data-series="{_esc(s.get("name", ""))}">'
            f"<title>{_esc(s.get('name', ''))}</title>"
        )
        dash = ' stroke-dasharray="6 4"' if s.get("dash") else ""
        sw = "1.8" if n <= (px1 - px0) else "1.1"  # thinner when points are denser than pixels
        for a, b in _runs(ok_t & np.isfinite(v)):
            if b - a == 1:
                body.append(
                    f'<circle class="qy-dot" cx="{_f(tx(x[a]))}" cy="{_f(vy(v[a]))}" r="2.4" '
                    f'fill="{c}"/>'
                )
                continue
            pts = " ".join(f"{_f(tx(x[i]))} {_f(vy(v[i]))}" for i in range(a + 1, b))
            body.append(
                f'<path class="qy-line" d="M{_f(tx(x[a]))} {_f(vy(v[a]))} L{pts}" fill="none" '
                f'stroke="{c}" stroke-width="{sw}" stroke-linejoin="round" '
                f'stroke-linecap="round"{dash}/>'
            )
        body.append("</g>")
    # flags
    for fl, pos, heights, j in flag_sets:
        shape = _FLAG_SHAPES[j % len(_FLAG_SHAPES)]
        colour = _colour(fl.get("colour"), _FLAG_COLOURS[j % len(_FLAG_COLOURS)])
        lab = str(fl.get("label", ""))
        body.append(f'<g class="{_classes("qy-flags", fl.get("class_"))}" data-flag="{_esc(lab)}">')
        for p_, h in zip(pos, heights, strict=True):
            if not np.isfinite(x[p_]):
                continue
            on_axis = not np.isfinite(h)
            yy = py1 - 6 if on_axis else vy(float(h))
            when = to_local(pd.Timestamp(x[p_], unit="s"), tz).strftime("%Y-%m-%d %H:%M")
            tip = f"{lab}: {when}" + ("" if on_axis else f" · {_fmt_value(float(h))}")
            body.append(
                f'<g class="qy-flag" data-index="{int(order[p_])}" '
                f'transform="translate({_f(tx(x[p_]))} {_f(yy)})"><title>{_esc(tip)}</title>'
                + _shape(shape, 4.5, colour, stroke="#ffffff", sw=0.8)
                + "</g>"
            )
        body.append("</g>")
    # axes, ticks, labels
    body.append(
        f'<g class="qy-axis"><line x1="{_f(px0)}" y1="{_f(py1)}" x2="{_f(px1)}" y2="{_f(py1)}" '
        f'stroke="{_AXIS}"/><line x1="{_f(px0)}" y1="{_f(py0)}" x2="{_f(px0)}" y2="{_f(py1)}" '
        f'stroke="{_AXIS}"/>'
    )
    for v, lab in zip(yt, ylabels, strict=True):
        body.append(
            _text(
                px0 - 6, vy(v) + 4, lab, size=11, anchor="end", fill=_MUTED, cls="qy-tick qy-tick-y"
            )
        )
    for s, l1, l2 in xticks:
        xx = tx(s)
        body.append(
            f'<line x1="{_f(xx)}" y1="{_f(py1)}" x2="{_f(xx)}" y2="{_f(py1 + 4)}" stroke="{_AXIS}"/>'
        )
        body.append(
            _text(xx, py1 + 16, l1, size=11, anchor="middle", fill=_MUTED, cls="qy-tick qy-tick-x")
        )
        if l2:
            body.append(
                _text(
                    xx,
                    py1 + 30,
                    l2,
                    size=11,
                    anchor="middle",
                    fill=_MUTED,
                    cls="qy-tick qy-tick-x2",
                )
            )
    body.append("</g>")
    if y_label:
        body.append(
            _text(
                0,
                0,
                y_label,
                size=12,
                anchor="middle",
                fill=_INK,
                cls="qy-axis-label",
                transform=f"translate(16 {_f((py0 + py1) / 2)}) rotate(-90)",
            )
        )
    body.append(
        _text(
            width - right,
            24,
            _utc_offset_label(tz, s0),
            size=11,
            anchor="end",
            fill=_MUTED,
            cls="qy-axis-label qy-tz",
        )
    )
    if items:
        body.append(_legend(items, px0, height - leg_h - 6, px1 - px0)[0])
    return _svg("time-series", width, height, title, "".join(body), desc=desc)


# ---------------------------------------------------------------------------------------------
# Calendar


def _as_date(d: Any) -> dt.date:
    if isinstance(d, dt.datetime):
        return d.date()
    if isinstance(d, dt.date):
        return d
    return pd.Timestamp(d).date()


def calendar(
    days: Sequence[Any],
    values: Sequence[int | None],
    *,
    colours: Mapping[Any, str],
    title: str,
    labels: Sequence[str | None] | Mapping[Any, str] | None = None,
    legend: Sequence[Sequence[Any]] | None = None,
    weekdays: Sequence[str] = ("一", "二", "三", "四", "五", "六", "日"),
    months: Sequence[str] = _MONTHS_ZH,
    desc: str | None = None,
) -> str:
    """Daily calendar heat map: weeks as columns, weekdays (Monday first) as rows.

    Parameters
    ----------
    days : sequence of datetime.date, pandas.Timestamp or str
        Local days.
    values : sequence of int or None
        Category of each day, e.g. the AQI category 1–6; None (or NaN) for no value.
    colours : mapping
        Category → CSS colour, e.g. :data:`AQI_COLOURS`.
    title : str
        Chart title (also the accessible name).
    labels : sequence of str or mapping, optional
        Tooltip text of each day (aligned with ``days``, or keyed by day), e.g.
        ``"AQI 312 严重污染"``; a cell's tooltip reads ``"2016-12-16: AQI 312 严重污染"``.
        Default the value.
    legend : sequence of tuple, optional
        Legend entries ``(colour, text)``; default one per entry of ``colours`` with its key.
    weekdays : sequence of str, optional
        Row labels, Monday to Sunday.
    months : sequence of str, optional
        Month names, January to December.
    desc : str, optional
        Longer description for assistive technology.

    Returns
    -------
    str
        The SVG element; the no-data message when ``days`` is empty.
    """
    ds = [_as_date(d) for d in days]
    vs = list(values)
    if len(vs) != len(ds):
        raise ValueError(f"{len(vs)} values for {len(ds)} days")
    if isinstance(labels, Mapping):
        lab_map = {_as_date(k): v for k, v in labels.items()}
        labs = [lab_map.get(d) for d in ds]
    elif labels is not None:
        labs = list(labels)
        if len(labs) != len(ds):
            raise ValueError(f"{len(labs)} labels for {len(ds)} days")
    else:
        labs = [None] * len(ds)
    items = (
        _legend_items(legend)
        if legend is not None
        else [("rect", _colour(c, _MISSING), str(k)) for k, c in colours.items()]
    )
    if not ds:
        return _no_data("calendar", 900, 200, title, desc)

    cell, gap = 14.0, 2.0
    pitch = cell + gap
    first, last = min(ds), max(ds)
    start = first - dt.timedelta(days=first.weekday())
    n_weeks = (last - start).days // 7 + 1
    blocks: list[tuple[dt.date, dt.date]]  # (monday of first column, last day)
    if n_weeks <= 54:
        blocks = [(start, last)]
    else:
        blocks = []
        for year in range(first.year, last.year + 1):
            b0 = max(first, dt.date(year, 1, 1))
            b1 = min(last, dt.date(year, 12, 31))
            blocks.append((b0 - dt.timedelta(days=b0.weekday()), b1))
    left = 14 + max(_text_width(w, 10) for w in weekdays) + 6
    cols = max((b1 - b0).days // 7 + 1 for b0, b1 in blocks)
    grid_w = left + cols * pitch + 12
    block_h = 30 + 7 * pitch + 10  # year and month rows, cells, spacing
    width = max(grid_w, _text_width(title, 15) + 24, 320.0)
    leg_h = _measure_legend(items, width - left - 12)
    height = 38 + len(blocks) * block_h + (leg_h + 8 if leg_h else 0)

    def cell_pos(d: dt.date) -> tuple[int, float, float] | None:
        for bi, (b0, b1) in enumerate(blocks):
            if b0 <= d <= b1:
                col = (d - b0).days // 7
                return bi, left + col * pitch, 38 + bi * block_h + 30 + d.weekday() * pitch
        return None

    body: list[str] = []
    seps: list[str] = []
    # row, month and year labels, month separators
    for bi, (b0, b1) in enumerate(blocks):
        y0 = 38 + bi * block_h + 30
        for r, w in enumerate(weekdays):
            body.append(
                _text(
                    left - 6,
                    y0 + r * pitch + cell - 3,
                    w,
                    size=10,
                    anchor="end",
                    fill=_MUTED,
                    cls="qy-cal-weekday",
                )
            )
        first_day = max(first, b0)
        m = dt.date(first_day.year, first_day.month, 1)
        while m <= b1:
            d = max(m, first_day)
            col = (d - b0).days // 7
            x = left + col * pitch
            if d.weekday() != 0 and d != first_day:  # label over the first full week
                x += pitch
            if x + _text_width(months[d.month - 1], 10) <= grid_w:
                body.append(
                    _text(x, y0 - 5, months[d.month - 1], size=10, fill=_MUTED, cls="qy-cal-month")
                )
            if d == first_day or d.month == 1:
                body.append(
                    _text(
                        x, y0 - 19, str(d.year), size=11, weight="600", fill=_INK, cls="qy-cal-year"
                    )
                )
            if d != first_day:
                r = d.weekday()
                xl = left + col * pitch - gap / 2
                xr = xl + pitch
                yt, yb = y0 - gap / 2, y0 + 7 * pitch - gap / 2
                yr = y0 + r * pitch - gap / 2
                dd = f"M{_f(xl)} {_f(yb)}L{_f(xl)} {_f(yr)}" + (
                    f"L{_f(xr)} {_f(yr)}L{_f(xr)} {_f(yt)}" if r else ""
                )
                seps.append(f'<path d="{dd}" fill="none" stroke="#3e4c59" stroke-width="1.2"/>')
            m = dt.date(m.year + (m.month == 12), m.month % 12 + 1, 1)
    body.append('<g class="qy-cal-cells">')
    for d, v, lab in zip(ds, vs, labs, strict=True):
        pos = cell_pos(d)
        if pos is None:
            continue
        _, x, y = pos
        key = None if v is None or (isinstance(v, float) and math.isnan(v)) else v
        if key is not None and not isinstance(key, str):
            key = int(key)
        fill = _colour(colours.get(key), _MISSING) if key is not None else _MISSING
        text = lab if lab else ("–" if key is None else str(key))
        cls = _classes("qy-cal-cell", "qy-cal-missing" if key is None else f"qy-cal-{key}")
        body.append(
            f'<rect class="{cls}" data-date="{d.isoformat()}" '
            f'data-value="{"" if key is None else _esc(key)}" x="{_f(x)}" y="{_f(y)}" '
            f'width="{_f(cell)}" height="{_f(cell)}" rx="2" fill="{fill}" stroke="#ffffff" '
            f'stroke-width="0.5"><title>{_esc(f"{d.isoformat()}: {text}")}</title></rect>'
        )
    body.append("</g>")
    body.append('<g class="qy-cal-months">' + "".join(seps) + "</g>")
    if items:
        body.append(_legend(items, left, height - leg_h - 6, width - left - 12)[0])
    return _svg("calendar", width, height, title, "".join(body), desc=desc, natural=True)


# ---------------------------------------------------------------------------------------------
# Bars


def bar_chart(
    categories: Sequence[Any],
    series: Sequence[Mapping[str, Any]],
    *,
    title: str,
    y_label: str,
    stacked: bool = False,
    horizontal: bool = False,
    width: float = 900,
    height: float | None = None,
    desc: str | None = None,
) -> str:
    """Draw a grouped or stacked bar chart, e.g. PMF factor profiles and contributions, driver shares.

    Parameters
    ----------
    categories : sequence
        Category names (species, factors, drivers).
    series : sequence of mapping
        Bar series: ``name``, ``values`` (one per category; NaN or None: no bar), ``class_``
        (CSS classes) and optionally ``colour``.
    title : str
        Chart title (also the accessible name).
    y_label : str
        Label of the value axis, with its unit, e.g. ``"贡献 contribution [%]"``.
    stacked : bool, optional
        Stack the series of a category (positive values upwards, negative downwards) instead
        of placing them side by side.
    horizontal : bool, optional
        Categories down the left, values along the bottom (for long category names).
    width, height : float, optional
        Size of the view box [px]; default height 360, or grows with the categories when
        ``horizontal``.
    desc : str, optional
        Longer description for assistive technology.

    Returns
    -------
    str
        The SVG element; the no-data message when there is no finite value.
    """
    cats = [str(c) for c in categories]
    nc = len(cats)
    sers = []
    for i, s in enumerate(series):
        v = _floats(s.get("values"))
        if len(v) != nc:
            raise ValueError(f"series {s.get('name')!r} has {len(v)} values for {nc} categories")
        sers.append((s, v, _colour(s.get("colour"), _PALETTE[i % len(_PALETTE)])))
    ns = len(sers)
    if height is None:
        height = max(220.0, 110 + nc * (22 if stacked else 10 + 12 * ns)) if horizontal else 360.0
    allv = np.concatenate([v for _, v, _ in sers]) if sers else np.array([])
    if nc == 0 or not np.isfinite(allv).any():
        return _no_data("bar", width, height, title, desc)
    if stacked:
        m = np.vstack([v for _, v, _ in sers])
        pos_tot = np.nansum(np.where(m > 0, m, 0), axis=0)
        neg_tot = np.nansum(np.where(m < 0, m, 0), axis=0)
        lo, hi = float(neg_tot.min()), float(pos_tot.max())
    else:
        lo, hi = float(np.nanmin(allv)), float(np.nanmax(allv))
    lo, hi = min(lo, 0.0), max(hi, 0.0)
    ticks, step = _nice_ticks(lo, hi)
    vlo, vhi = ticks[0], ticks[-1]
    tlabels = [_tick_label(t, step) for t in ticks]
    items = [("rect", c, str(s.get("name", ""))) for s, _, c in sers] if ns > 1 or stacked else []

    body: list[str] = []
    if horizontal:
        left = min(max(_text_width(c, 11) for c in cats) + 20, width * 0.4)
        right = 24.0
        leg_h = _measure_legend(items, width - left - right)
        top, bottom = 44.0, 44.0 + (leg_h + 6 if leg_h else 0)
        px0, px1, py0, py1 = left, width - right, top, height - bottom
    else:
        left = 14 + (20 if y_label else 0) + max(_text_width(s, 11) for s in tlabels) + 8
        right = 16.0
        slot = (width - left - right) / nc
        lw = max(_text_width(c, 11) for c in cats)
        rotate = lw > slot - 6
        lab_h = (lw * 0.57 + 18) if rotate else 22.0
        leg_h = _measure_legend(items, width - left - right)
        top, bottom = 44.0, lab_h + 8 + (leg_h + 6 if leg_h else 0)
        px0, px1, py0, py1 = left, width - right, top, height - bottom

    def val(v: float) -> float:  # value -> pixel along the value axis
        if horizontal:
            return px0 + (v - vlo) / (vhi - vlo) * (px1 - px0)
        return py1 - (v - vlo) / (vhi - vlo) * (py1 - py0)

    # grid
    body.append('<g class="qy-gridlines">')
    for t in ticks:
        p = val(t)
        if horizontal:
            body.append(
                f'<line x1="{_f(p)}" y1="{_f(py0)}" x2="{_f(p)}" y2="{_f(py1)}" stroke="{_GRID}"/>'
            )
        else:
            body.append(
                f'<line x1="{_f(px0)}" y1="{_f(p)}" x2="{_f(px1)}" y2="{_f(p)}" stroke="{_GRID}"/>'
            )
    body.append("</g>")
    # bars
    band = ((py1 - py0) if horizontal else (px1 - px0)) / nc
    inner = band * 0.72
    body.append('<g class="qy-bars">')
    for ci, cat in enumerate(cats):
        c0 = (py0 if horizontal else px0) + ci * band + (band - inner) / 2
        up = down = 0.0
        for si, (s, v, colour) in enumerate(sers):
            value = float(v[ci])
            if not math.isfinite(value):
                continue
            if stacked:
                base = up if value >= 0 else down
                a, b = base, base + value
                if value >= 0:
                    up = b
                else:
                    down = b
                o0, o1 = c0, c0 + inner
            else:
                a, b = 0.0, value
                w = inner / ns
                o0, o1 = c0 + si * w, c0 + (si + 1) * w - (1 if ns > 1 else 0)
            p0, p1 = sorted((val(a), val(b)))
            if horizontal:
                xr, yr, wr, hr = p0, o0, p1 - p0, o1 - o0
            else:
                xr, yr, wr, hr = o0, p0, o1 - o0, p1 - p0
            name = s.get("name")
            tip = f"{cat} · {name}: {_fmt_value(value)}" if name else f"{cat}: {_fmt_value(value)}"
            body.append(
                f'<rect class="{_classes("qy-bar", s.get("class_"))}" data-category="{_esc(cat)}" '
                f'data-series="{_esc(s.get("name", ""))}" x="{_f(xr)}" y="{_f(yr)}" '
                f'width="{_f(max(wr, 0))}" height="{_f(max(hr, 0))}" fill="{colour}">'
                f"<title>{_esc(tip)}</title></rect>"
            )
    body.append("</g>")
    # axes
    z = val(0.0)
    body.append('<g class="qy-axis">')
    if horizontal:
        body.append(
            f'<line x1="{_f(z)}" y1="{_f(py0)}" x2="{_f(z)}" y2="{_f(py1)}" stroke="{_INK}"/>'
        )
        body.append(
            f'<line x1="{_f(px0)}" y1="{_f(py1)}" x2="{_f(px1)}" y2="{_f(py1)}" stroke="{_AXIS}"/>'
        )
        for t, lab in zip(ticks, tlabels, strict=True):
            body.append(
                _text(val(t), py1 + 16, lab, size=11, anchor="middle", fill=_MUTED, cls="qy-tick")
            )
        for ci, cat in enumerate(cats):
            body.append(
                _text(
                    px0 - 8,
                    py0 + (ci + 0.5) * band + 4,
                    cat,
                    size=11,
                    anchor="end",
                    fill=_INK,
                    cls="qy-tick qy-category",
                )
            )
        if y_label:
            body.append(
                _text(
                    (px0 + px1) / 2,
                    py1 + 34,
                    y_label,
                    size=12,
                    anchor="middle",
                    fill=_INK,
                    cls="qy-axis-label",
                )
            )
    else:
        body.append(
            f'<line x1="{_f(px0)}" y1="{_f(z)}" x2="{_f(px1)}" y2="{_f(z)}" stroke="{_INK}"/>'
        )
        body.append(
            f'<line x1="{_f(px0)}" y1="{_f(py0)}" x2="{_f(px0)}" y2="{_f(py1)}" stroke="{_AXIS}"/>'
        )
        for t, lab in zip(ticks, tlabels, strict=True):
            body.append(
                _text(px0 - 6, val(t) + 4, lab, size=11, anchor="end", fill=_MUTED, cls="qy-tick")
            )
        for ci, cat in enumerate(cats):
            cx = px0 + (ci + 0.5) * band
            if rotate:
                body.append(
                    _text(
                        cx + 3,
                        py1 + 12,
                        cat,
                        size=11,
                        anchor="end",
                        fill=_INK,
                        cls="qy-tick qy-category",
                        transform=f"rotate(-35 {_f(cx + 3)} {_f(py1 + 12)})",
                    )
                )
            else:
                body.append(
                    _text(
                        cx,
                        py1 + 16,
                        cat,
                        size=11,
                        anchor="middle",
                        fill=_INK,
                        cls="qy-tick qy-category",
                    )
                )
        if y_label:
            body.append(
                _text(
                    0,
                    0,
                    y_label,
                    size=12,
                    anchor="middle",
                    fill=_INK,
                    cls="qy-axis-label",
                    transform=f"translate(16 {_f((py0 + py1) / 2)}) rotate(-90)",
                )
            )
    body.append("</g>")
    if items:
        body.append(_legend(items, px0, height - leg_h - 6, px1 - px0)[0])
    return _svg("bar", width, height, title, "".join(body), desc=desc)


# ---------------------------------------------------------------------------------------------
# Gridded fields


def _bins(colour_scale: Sequence[Any], vmin: float, vmax: float) -> tuple[list[float], list[str]]:
    """Lower bounds and colours of the classes of a colour scale."""
    scale = list(colour_scale)
    if not scale:
        raise ValueError("colour_scale is empty")
    if isinstance(scale[0], str):
        n = len(scale)
        if vmax <= vmin:
            vmax = vmin + 1.0
        bounds = [vmin + (vmax - vmin) * i / n for i in range(n)]
        return bounds, [_colour(c, "#8c99a6") for c in scale]
    pairs = sorted((float(v), _colour(c, "#8c99a6")) for v, c in scale)
    return [v for v, _ in pairs], [c for _, c in pairs]


def _bound_label(v: float) -> str:
    """Format a colour-bar class bound compactly."""
    return f"{v:.0f}" if abs(v) >= 1000 else f"{v:.3g}"


def grid_map(
    lats: Sequence[float] | np.ndarray,
    lons: Sequence[float] | np.ndarray,
    values: Sequence[float] | np.ndarray,
    *,
    cell_deg: float | tuple[float, float],
    title: str,
    points: Sequence[Mapping[str, Any]] = (),
    colour_scale: Sequence[str] | Sequence[tuple[float, str]],
    value_label: str = "",
    vmin: float | None = None,
    vmax: float | None = None,
    width: float = 900,
    height: float = 600,
    desc: str | None = None,
) -> str:
    """Map of a gridded field (PSCF, CWT) with a colour bar and stations on top.

    Parameters
    ----------
    lats, lons : array_like
        Cell centres [degrees]: either one per value, or the 1-D axes of a 2-D ``values``
        array of shape ``(len(lats), len(lons))``.
    values : array_like
        Cell values [unit of the field]; NaN cells are not drawn.
    cell_deg : float or tuple of float
        Cell size [degrees], or ``(dlat, dlon)``.
    title : str
        Chart title (also the accessible name).
    points : sequence of mapping, optional
        Stations drawn on top: ``lat``, ``lon``, ``name`` and optionally ``id``, ``fill``,
        ``kind``, ``label``, ``tooltip`` (as in :func:`station_map`).
    colour_scale : sequence of str or of (float, str)
        Classes of the colour bar: colours for equal classes between ``vmin`` and ``vmax``, or
        ``(lower bound, colour)`` pairs (values below the first bound take its colour).
    value_label : str, optional
        Caption of the colour bar, with the unit, e.g. ``"CWT [µg/m³]"``.
    vmin, vmax : float, optional
        Range of equal classes [unit of the field]; default the data range.
    width, height : float, optional
        Size of the view box [px].
    desc : str, optional
        Longer description for assistive technology.

    Returns
    -------
    str
        The SVG element; the no-data message when no cell has a finite value.
    """
    la, lo, v = np.asarray(lats, float), np.asarray(lons, float), np.asarray(values, float)
    if v.ndim == 2 and la.ndim == 1 and lo.ndim == 1 and v.shape == (la.size, lo.size):
        lo, la = np.meshgrid(lo, la)
    la, lo, v = la.ravel(), lo.ravel(), v.ravel()
    if not (la.size == lo.size == v.size):
        raise ValueError("lats, lons and values differ in size")
    dlat, dlon = (cell_deg, cell_deg) if np.isscalar(cell_deg) else cell_deg  # type: ignore[misc]
    dlat, dlon = float(dlat), float(dlon)
    ok = np.isfinite(la) & np.isfinite(lo) & np.isfinite(v)
    pts = _finite_ll(points)
    if not ok.any():
        return _no_data("grid-map", width, height, title, desc)
    lo_v = float(np.min(v[ok])) if vmin is None else float(vmin)
    hi_v = float(np.max(v[ok])) if vmax is None else float(vmax)
    bounds, cols = _bins(colour_scale, lo_v, hi_v)

    bar_h = 52.0
    frame = (12.0, 38.0, width - 24.0, height - 38.0 - bar_h)
    glat = np.concatenate([la[ok] - dlat / 2, la[ok] + dlat / 2, [p[1] for p in pts]])
    glon = np.concatenate([lo[ok] - dlon / 2, lo[ok] + dlon / 2, [p[2] for p in pts]])
    proj = _Projection(glat, glon, frame, pad=14)
    body = [_frame(proj)]
    body.append('<g class="qy-cells">')
    idx = np.flatnonzero(ok)
    for i in idx:
        k = int(np.searchsorted(bounds, v[i], side="right")) - 1
        fill = cols[max(k, 0)]
        x0, y0 = proj.xy(la[i] + dlat / 2, lo[i] - dlon / 2)
        x1, y1 = proj.xy(la[i] - dlat / 2, lo[i] + dlon / 2)
        tip = f"{la[i]:.2f}°, {lo[i]:.2f}°: {_fmt_value(float(v[i]))}"
        body.append(
            f'<rect class="qy-cell" x="{_f(x0)}" y="{_f(y0)}" width="{_f(x1 - x0)}" '
            f'height="{_f(y1 - y0)}" fill="{fill}" stroke="{fill}" stroke-width="0.4">'
            f"<title>{_esc(tip)}</title></rect>"
        )
    body.append("</g>")
    body.append(_graticule(proj, colour="#52606d33", halo=True))
    body.append('<g class="qy-stations">')
    for p, lat, lon in pts:
        x, y = proj.xy(lat, lon)
        q = dict(p)
        q.setdefault("fill", "#1f2933")
        q.setdefault("kind", "star")
        q.setdefault("label", q.get("name"))
        body.append(_marker(q, x, y, link=None, small=True))
    body.append("</g>")
    body.append(_scale_bar(proj))
    body.append(_north_arrow(proj))
    # colour bar
    n = len(cols)
    bw = min(56.0, (width - 24 - _text_width(value_label, 12) - 24) / n)
    bx = 12 + (_text_width(value_label, 12) + 12 if value_label else 0)
    by = height - bar_h + 14
    bar = ['<g class="qy-colour-bar">']
    if value_label:
        bar.append(_text(12, by + 10, value_label, size=12, fill=_INK, cls="qy-axis-label"))
    for i, (b, c) in enumerate(zip(bounds, cols, strict=True)):
        x = bx + i * bw
        bar.append(
            f'<rect x="{_f(x)}" y="{_f(by)}" width="{_f(bw)}" height="12" fill="{c}" '
            f'stroke="#ffffff" stroke-width="0.5"/>'
        )
        bar.append(_text(x, by + 26, _bound_label(b), size=10, anchor="middle", fill=_MUTED))
    if isinstance(list(colour_scale)[0], str):
        bar.append(
            _text(
                bx + n * bw,
                by + 26,
                _bound_label(hi_v),
                size=10,
                anchor="middle",
                fill=_MUTED,
            )
        )
    bar.append(
        f'<rect x="{_f(bx)}" y="{_f(by)}" width="{_f(n * bw)}" height="12" fill="none" '
        f'stroke="{_AXIS}" stroke-width="0.8"/>'
    )
    bar.append("</g>")
    body.append("".join(bar))
    return _svg("grid-map", width, height, title, "".join(body), desc=desc)
