"""A readable bilingual (Chinese / English) HTML bulletin of the warning state, with a chart.

One self-contained HTML file (the chart is an inline PNG): for every area the current level or
"no warning", the period, primary pollutant, expected daily-AQI range, confidence, why, the health
advice of the expected AQI category and the emergency measures of the level, and the daily-AQI
outlook of the forecast; operational alerts (e.g. a stale forecast) are shown at the top and the
message history (issue, updates, lift; newest first) at the bottom. A forecast made with a
synthetic weather-forecast (NWP) feed is flagged by a banner at the very top, a missing feed and
its fallback model by a notice; each message names the NWP run behind it.
"""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from features.times import to_local  # noqa: E402
from features.warnings.outlook import AreaOutlook  # noqa: E402
from features.warnings.rules import WarningScheme  # noqa: E402
from pipelines.config import aqi_standards, load_network  # noqa: E402
from pipelines.config.rivers import section_targets  # noqa: E402
from pipelines.config.warnings import CitySettings  # noqa: E402
from pipelines.files import atomic_write  # noqa: E402
from pipelines.fonts import CSS_FONT_STACK, font_face_css, use_cjk_font  # noqa: E402
from pipelines.warnings.cap import (  # noqa: E402
    nwp_missing_text,
    nwp_summary,
    nwp_synthetic,
    synthetic_feeds,
    weather_forecast,
    why_text,
)
from pipelines.warnings.reports import WarnReport  # noqa: E402

use_cjk_font()  # hanzi in the figures without a system CJK font

__all__ = ["outlook_chart", "write_bulletin"]

# the installed CJK fonts, else the bundled one (served by the web application; a file opened
# from disk without any CJK font falls back to the browser's)
_CSS = (
    font_face_css()
    + f"\nbody{{font-family:{CSS_FONT_STACK};max-width:980px;margin:2em auto;color:#222}}"
    + """
h1{font-size:1.5em} h2{font-size:1.2em;margin-top:1.6em}
.badge{display:inline-block;padding:.2em .7em;border-radius:4px;color:#fff;font-weight:bold}
.none{background:#4a4} .ops{background:#fee;border:1px solid #c33;padding:.6em;margin:1em 0}
table{border-collapse:collapse;margin:.5em 0} td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left;vertical-align:top}
.small{color:#666;font-size:.85em}
.synthetic{background:#fff3cd;border:3px solid #d39e00;padding:.7em;margin:1em 0;font-weight:bold}
.nwp{background:#f3f3f3;border:1px solid #999;padding:.6em;margin:1em 0}
"""
)

SYNTHETIC_BANNER = (
    "合成数值预报（演练/基准用，非真实天气预报）/ "
    "Synthetic NWP feed (drill/benchmark, not a real weather forecast)"
)


def outlook_chart(
    outlook: AreaOutlook,
    limits: list[float],
    tz: str,
    categories: list[dict[str, Any]] | None = None,
) -> str:
    """Inline PNG (base64) of an area's daily-AQI outlook: point and P10-P90 per 24-h window.

    Bars take the colour of the AQI category (HJ 633) of the point forecast.
    """
    fig, ax = plt.subplots(figsize=(6.5, 2.6), dpi=110)
    x = np.arange(len(outlook.starts))
    q = outlook.quantiles
    med = outlook.median
    cats = categories or []

    def colour(a: float) -> str:
        for c in cats:
            if np.isfinite(a) and a <= c["max"]:
                return c["colour"]
        return cats[-1]["colour"] if cats and np.isfinite(a) else "#999999"

    ax.bar(x, np.nan_to_num(med), color=[colour(m) for m in med], edgecolor="#555", lw=0.5)
    ax.errorbar(x, med, yerr=[med - q[:, 0], q[:, -1] - med], fmt="none", ecolor="k", capsize=4)
    for lim in limits:
        ax.axhline(lim, color="grey", ls="--", lw=0.8)
        ax.text(len(x) - 0.5, lim, f" {lim:g}", va="bottom", fontsize=7, color="grey")
    labels = [to_local(s, tz).strftime("%m-%d %H:%M") for s in outlook.starts]
    ax.set_xticks(
        x, [f"+{24 * i}-{24 * (i + 1)} h\n{lab}" for i, lab in enumerate(labels)], fontsize=7
    )
    ax.set_ylabel("daily AQI (P10-P90)")
    ax.set_title(f"{outlook.area}: forecast daily AQI, rolling 24-h windows", fontsize=9)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def at_risk(outlook: AreaOutlook, limits: list[float]) -> bool:
    """Return whether an outlook's upper quantile reaches the lowest warning threshold some day.

    ``limits``: the scheme's daily-AQI thresholds; an outlook without finite values is not at risk.
    """
    if not limits:
        return True
    upper = np.asarray(outlook.quantiles, float)[:, -1]
    return bool(np.any(np.isfinite(upper) & (upper >= min(limits))))


def _charted(city: CitySettings, outlook: AreaOutlook, limits: list[float], active: Any) -> bool:
    """Return whether the bulletin draws the area's chart (``bulletin_charts`` of the city)."""
    return city.bulletin_charts == "all" or active is not None or at_risk(outlook, limits)


def _e(x: Any) -> str:
    return html.escape(str(x)) if x is not None else ""


def _zh_en(zh: str | None, en: str | None) -> str:
    """Chinese, then English on the next line; one line when they are the same or one is missing.

    Records written before a text was bilingual (English only) show their English alone.
    """
    zh, en = (zh or "").strip(), (en or "").strip()
    return en if zh in ("", en) else zh if not en else f"{zh}\n{en}"


def _findings(station: dict[str, Any]) -> list[str]:
    """Return a water station's findings in Chinese and English (older records: English)."""
    en = station.get("findings", [])
    zh = station.get("findings_zh", [])
    if len(zh) != len(en):
        return list(en)
    return [_zh_en(z, e) for z, e in zip(zh, en, strict=True)]


def _file_weather(report: WarnReport) -> Any:
    """Read the weather-forecast provenance of the report's forecast file (``None``: none, unreadable)."""
    if report.ops_alert or not report.forecast_file:
        return None
    path = Path(report.forecast_file)
    if path.suffix != ".nc" or not path.is_file():
        return None
    try:
        import xarray as xr

        with xr.open_dataset(path, decode_cf=False, decode_times=False) as ds:
            raw = ds.attrs.get("weather_forecast")
    except Exception:  # the bulletin is written whatever the state of the file
        return None
    return weather_forecast({"weather_forecast": raw})


def _weather_notices(wfs: list[Any]) -> list[str]:
    """Return the synthetic-feed banner and the missing-feed notice of the forecasts shown (HTML)."""
    wfs = [w for w in wfs if w is not None]
    parts = []
    if any(nwp_synthetic(w) for w in wfs):
        feeds = sorted({f for w in wfs for f in synthetic_feeds(w)})
        parts.append(
            f"<div class='synthetic'>⚠ {_e(SYNTHETIC_BANNER)}<br><span class='small'>"
            f"数值预报源 Feed: {_e(', '.join(feeds))} — 观测天气加误差 / observed weather plus "
            "published-size errors</span></div>"
        )
    missing = list(dict.fromkeys(t for t in map(nwp_missing_text, wfs) if t))
    if missing:
        parts.append(
            "<div class='nwp'><b>数值预报缺失 Weather forecast missing:</b> "
            + "<br>".join(_e(t) for t in missing)
            + "</div>"
        )
    return parts


def _local_and_utc(t: Any, tz: str) -> str:
    """``2016-12-14 08:00 (Asia/Shanghai) = 00:00 UTC``: the page speaks local time, as its rows do."""
    import pandas as pd

    utc = pd.Timestamp(t) if t is not None else pd.NaT
    if pd.isna(utc):  # no usable forecast: the page says so in its operational alert
        return "—"
    if utc.tzinfo is not None:
        utc = utc.tz_convert("UTC").tz_localize(None)
    return f"{to_local(utc, tz):%Y-%m-%d %H:%M} ({tz}) = {utc:%Y-%m-%d %H:%M} UTC"


def _local_text(t: Any, tz: str) -> str:
    """``2016-12-15 08:00``: a CAP time (ISO 8601 with its offset) as wall-clock time of ``tz``.

    A naive time is taken as already local; one that cannot be parsed is shown as written.
    """
    import pandas as pd

    try:
        ts = pd.Timestamp(t)
    except (TypeError, ValueError):
        return str(t)
    if pd.isna(ts):
        return "—"
    ts = ts.tz_convert(tz) if ts.tzinfo is not None else ts
    return f"{ts:%Y-%m-%d %H:%M}"


def _period(onset: Any, expires: Any, tz: str) -> str:
    """``2016-12-15 08:00 — 2016-12-17 08:00 (Asia/Shanghai)``: a message's period read locally."""
    return f"{_local_text(onset, tz)} — {_local_text(expires, tz)} ({tz})"


def _scenarios(path: Path, city: CitySettings, area: str, issue: Any) -> list[str]:
    """Scenarios run on this forecast for the area (``qingyuan scenario``), for the measures."""
    from pipelines.scenario import scenario_notes

    return scenario_notes(Path(path).parent.parent.parent, city.name, area, issue)


def write_bulletin(
    path: Path,
    scheme: WarningScheme,
    city: CitySettings,
    report: WarnReport,
    active: list[dict[str, Any]],
    messages: dict[str, dict[str, Any]],
) -> Path:
    """Write the bulletin HTML and return its path."""
    tz = load_network(city.network).time_zone
    water = scheme.observed
    source = scheme.kind == "source"
    targets: dict[str, str] = {}
    if water and not source:  # the sections' target classes of the river file
        targets = section_targets(city.network)
    categories = [] if water else aqi_standards(scheme.aqi_family)[-1].categories
    active_by_area = {w["area"]: w for w in active}
    limits = sorted({k[0] for k in scheme.keys})
    name = city.sender_name
    title = (
        ("污染源在线监控报警公报", "Pollution-source supervision bulletin")
        if source
        else ("水质预警公报", "Water quality alert bulletin")
        if water
        else ("重污染天气预警公报", "Heavy air pollution warning bulletin")
    )
    basis = "数据截止 Data cut-off" if water else "预报发布时间 Forecast issued"
    parts = [
        "<!DOCTYPE html><html lang='zh-CN'><head><meta charset='utf-8'>",
        f"<title>{_e(name.get('zh', ''))} {title[0]} / {title[1]}</title>",
        f"<style>{_CSS}</style></head><body>",
        *_weather_notices(
            [_file_weather(report)]
            + [
                weather_forecast(messages[w["last_identifier"]].get("provenance"))
                for w in active
                if w.get("last_identifier") in messages
            ]
        ),
        f"<h1>{title[0]}<br>{title[1]}</h1>",
        f"<p>{_e(name.get('zh', ''))} / {_e(name.get('en', ''))}<br>",
        f"<span class='small'>{basis}: {_e(_local_and_utc(report.issue_time, tz))} · "
        f"方案 Scheme: {_e(scheme.title)}</span></p>",
    ]
    if report.ops_alert:
        parts.append(
            "<div class='ops'><b>运行告警 Operational alert:</b> "
            f"{_e(report.ops_alert)}<br>预警状态未改变 / No warning was changed.</div>"
        )
    for area in city.areas:
        w = active_by_area.get(area.id)
        msg = messages.get(w["last_identifier"]) if w else None
        parts.append(
            f"<h2>{_e(area.names.get('zh', area.id))} / {_e(area.names.get('en', area.id))}</h2>"
        )
        if w and msg:
            level = scheme.level(w["level"])
            nwp = nwp_summary(weather_forecast(msg.get("provenance")))
            rows = [
                ("时段 Period", _period(msg["onset"], msg["expires"], tz)),
                *msg.get("facts", []),
                ("依据 Why", _zh_en(**why_text(msg))),
                (
                    "应急措施 Measures",
                    "\n".join(
                        [
                            msg["measures"].get("zh", ""),
                            msg["measures"].get("en", ""),
                            *_scenarios(path, city, area.id, report.issue_time),
                        ]
                    ),
                ),
            ]
            prov = msg["provenance"]
            basis = (
                f"model {_e(prov.get('model_uris'))} · run {_e(prov.get('mlflow_run_ids'))}"
                if prov.get("model_uris") or prov.get("mlflow_run_ids")
                else "observed data, no model"  # supervision and water alerts judge measurements
            )
            parts += [
                f"<p><span class='badge' style='background:{level.colour}'>"
                f"{_e(level.names.get('zh'))} / {_e(level.names.get('en'))}</span></p>",
                "<table>",
                *(
                    f"<tr><th>{_e(k)}</th><td>{_e(v).replace(chr(10), '<br>')}</td></tr>"
                    for k, v in rows
                ),
                f"<tr><th>消息 Message</th><td class='small'>{_e(msg['identifier'])} "
                f"({_e(msg['msgType'])}) · {basis} · data cut-off "
                f"{_e(prov.get('data_cutoff'))}"
                + (f" · 数值预报 NWP {_e(nwp)}" if nwp else "")
                + "</td></tr>",
                "</table>",
            ]
        else:
            parts.append("<p><span class='badge none'>无预警 / No warning in force</span></p>")
        d = report.decisions.get(area.id)
        if d is not None and d.day_probability:
            probs = ", ".join(f"{p:.0%}" for p in d.day_probability)
            heavy = scheme.heavy_key[0]  # the limit of Decision.day_probability
            parts.append(
                f"<p class='small'>P(日 AQI &gt; {heavy:g}) 各 24 h 窗口 / per 24-h window: "
                f"{probs}</p>"
            )
        if d is not None and source:
            cells = (
                "".join(
                    f"<tr><td>{_e(f['station'])}</td><td>{_e(f['kind'])}</td><td>{_e(f['level'])}</td>"
                    f"<td class='small'>{_e(_zh_en(f.get('text_zh'), f['text'])).replace(chr(10), '<br>')}</td></tr>"
                    for f in d.details.get("findings", [])
                )
                or "<tr><td colspan='4'>无 / none</td></tr>"
            )
            parts.append(
                "<table><tr><th>排放口 Outfall</th><th>情形 Condition</th><th>级别 Level</th>"
                f"<th>发现 Findings</th></tr>{cells}</table>"
            )
        elif d is not None and water:
            st = d.details.get("stations", {})
            cells = "".join(
                f"<tr><td>{_e(sid)}</td><td>{_e(v.get('class') or v.get('status', '—'))}</td>"
                f"<td>{_e(targets.get(sid) or area.target_class or '—')}</td>"
                f"<td class='small'>{'<br>'.join(_e(x).replace(chr(10), '<br>') for x in _findings(v))}</td></tr>"
                for sid, v in st.items()
            )
            parts.append(
                "<table><tr><th>站点 Station</th><th>当前类别 Class now</th><th>目标 Target</th>"
                f"<th>发现 Findings</th></tr>{cells}</table>"
            )
        outlook = report.outlooks.get(area.id)
        img = report.charts.get(area.id)
        if outlook is not None and img is None and _charted(city, outlook, limits, w):
            img = outlook_chart(outlook, limits, tz, categories)
        if img:
            parts.append(f"<img alt='{_e(area.id)} chart' src='data:image/png;base64,{img}'>")
    if messages:
        # the lifecycle so far: newest first (messages come from the store in that order)
        parts += [
            "<h2>消息记录 / Message history</h2>",
            "<table><tr><th>发送 Sent</th><th>区域 Area</th><th>动作 Action</th>"
            "<th>级别 Level</th><th>CAP</th><th>时段 Period</th></tr>",
        ]
        for m in list(messages.values())[:30]:
            parts.append(
                f"<tr><td>{_e(_local_text(m['sent'], tz))}</td><td>{_e(m['area']['names'].get('zh', m['area']['id']))}"
                f"</td><td>{_e(m['action'])} ({_e(m['msgType'])})</td>"
                f"<td>{_e(m['level_names'].get('zh'))} / {_e(m['level_names'].get('en'))}</td>"
                f"<td class='small'>{_e(m['identifier'])}</td>"
                f"<td class='small'>{_e(_period(m['onset'], m['expires'], tz))}</td></tr>"
            )
        parts.append("</table>")
    parts.append(
        "<p class='small'>排放限值按各排放口执行的排放标准及类别(配置于网络文件);烟气为折算到基准氧含量的"
        "有效小时均值,废水为有效日均值;标记 M/C/D/F/S/B 的数据不参与超标判定。Limits are each outfall's "
        "standard and class (network file); flue gas: valid hourly means at the reference O2; wastewater: "
        "valid daily means; data flagged M/C/D/F/S/B are not judged.</p></body></html>"
        if source
        else "<p class='small'>水质类别按 GB 3838-2002 单因子评价(滑动窗口均值),阈值按实测有效数据判定。"
        "Water class by the GB 3838-2002 single-factor method on trailing-window means; thresholds "
        "on consecutive valid readings (QC-flagged values excluded).</p></body></html>"
        if water
        else "<p class='small'>日 AQI 按 HJ 633 由区域平均浓度计算;预警按滚动 24 小时日 AQI 判定。"
        "Daily AQI by HJ 633 from area-mean concentrations; warning levels from rolling 24-h daily AQI.</p>"
        "</body></html>"
    )
    return atomic_write(path, "\n".join(parts))
