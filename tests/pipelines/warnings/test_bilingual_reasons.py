"""Reasons in both languages: the bulletin's 依据 row, CAP's zh-CN / en-US info and the JSON feed.

Messages stored before the reasons were bilingual (``why`` in English only) still render.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
from lxml import etree

from features.warnings.rules import decide, next_transition
from pipelines.config import load_network
from pipelines.config.warnings import load_warning_config
from pipelines.warnings.bulletin import write_bulletin
from pipelines.warnings.cap import why_text
from pipelines.warnings.job import message_renderer
from pipelines.warnings.reports import WarnReport
from pipelines.warnings.store import WarningStore, decision_dict, decision_from_dict

CAP = "{urn:oasis:names:tc:emergency:cap:1.2}"
T0 = pd.Timestamp("2016-12-14 00:00")
CJK = re.compile(r"[\u4e00-\u9fff]")


def _heavy(scheme):
    m = np.array([150.0, 250.0, 260.0, 150.0])
    q = np.stack([m - 20, m, m + 20], axis=-1)
    return decide(scheme, T0, q, (0.1, 0.5, 0.9), ["pm25"] * 4)


def _why_row(html: str) -> str:
    row = re.search(r"<th>依据 Why</th><td>(.*?)</td>", html)
    assert row, "no 依据 row"
    return row.group(1)


def test_decision_and_transition_give_the_reasons_in_chinese_and_english():
    scheme, _ = load_warning_config("beijing")
    d = _heavy(scheme)
    assert d.level and len(d.reasons_zh) == len(d.reasons) > 0
    assert all(CJK.search(r) for r in d.reasons_zh)
    assert not any(CJK.search(r) for r in d.reasons)  # the English stays English
    t = next_transition(scheme, None, None, None, d, T0)
    assert t.why == "; ".join(d.reasons) and t.why_zh == "; ".join(d.reasons_zh)
    # a decision stored before reasons_zh existed comes back and answers in English
    old = decision_dict(d)
    del old["reasons_zh"]
    back = decision_from_dict(json.loads(json.dumps(old)))
    assert back.reasons_zh == [] and back.why("zh") == back.why("en") == t.why


def test_bulletin_cap_and_json_carry_both_languages(tmp_path):
    scheme, city = load_warning_config("beijing")
    area = city.areas[0]
    d = _heavy(scheme)
    store = WarningStore(tmp_path / "w.db")
    render = message_renderer(scheme, city, load_network(city.network), area)
    applied = store.apply(scheme, city.name, area.id, T0, d, {"data_cutoff": "c"}, render)
    assert applied.action == "issue"
    (row,) = store.messages(city.name)
    msg = json.loads(row["json"])
    zh, en = "; ".join(d.reasons_zh), "; ".join(d.reasons)
    assert msg["why"] == en  # what readers of the feed had before
    assert msg["why_text"] == {"zh": zh, "en": en}
    doc = etree.fromstring(row["cap_xml"].encode("utf-8"))
    info = {i.findtext(f"{CAP}language"): i for i in doc.findall(f"{CAP}info")}
    assert zh in info["zh-CN"].findtext(f"{CAP}description")
    assert en not in info["zh-CN"].findtext(f"{CAP}description")
    assert en in info["en-US"].findtext(f"{CAP}description")
    assert zh not in info["en-US"].findtext(f"{CAP}description")

    active = store.active(city.name)
    report = WarnReport(city.name, T0, None, decisions={area.id: d})
    page = write_bulletin(
        tmp_path / "b.html", scheme, city, report, active, {msg["identifier"]: msg}
    ).read_text(encoding="utf-8")
    cell = _why_row(page)
    assert cell.startswith(zh.replace(">", "&gt;")) and cell.endswith(en.replace(">", "&gt;"))
    assert "<br>" in cell  # Chinese first, English beside it on the next line


def test_an_english_only_stored_message_still_renders(tmp_path):
    scheme, city = load_warning_config("beijing")
    area = city.areas[0]
    d = _heavy(scheme)
    store = WarningStore(tmp_path / "w.db")
    render = message_renderer(scheme, city, load_network(city.network), area)
    store.apply(scheme, city.name, area.id, T0, d, {"data_cutoff": "c"}, render)
    msg = json.loads(store.messages(city.name)[0]["json"])
    msg.pop("why_text")  # as written before the reasons were bilingual
    msg["why"] = "yellow: 2 day(s) with daily AQI > 200 forecast"
    assert why_text(msg) == {"zh": msg["why"], "en": msg["why"]}
    report = WarnReport(city.name, T0, None)
    page = write_bulletin(
        tmp_path / "b.html", scheme, city, report, store.active(city.name), {msg["identifier"]: msg}
    ).read_text(encoding="utf-8")
    assert _why_row(page) == "yellow: 2 day(s) with daily AQI &gt; 200 forecast"


def test_the_bulletin_gives_periods_and_sent_times_in_local_wall_clock_time(tmp_path):
    scheme, city = load_warning_config("beijing")
    area = city.areas[0]
    store = WarningStore(tmp_path / "w.db")
    render = message_renderer(scheme, city, load_network(city.network), area)
    store.apply(scheme, city.name, area.id, T0, _heavy(scheme), {"data_cutoff": "c"}, render)
    msg = json.loads(store.messages(city.name)[0]["json"])
    tz = load_network(city.network).time_zone
    onset = pd.Timestamp(msg["onset"]).tz_convert(tz)
    expires = pd.Timestamp(msg["expires"]).tz_convert(tz)
    page = write_bulletin(
        tmp_path / "b.html",
        scheme,
        city,
        WarnReport(city.name, T0, None),
        store.active(city.name),
        {msg["identifier"]: msg},
    ).read_text(encoding="utf-8")
    want = f"{onset:%Y-%m-%d %H:%M} — {expires:%Y-%m-%d %H:%M} ({tz})"
    assert page.count(want) == 2  # the warning's period row and the message history
    assert msg["onset"] not in page and "+08:00" not in page  # no raw ISO offsets for readers
    assert f"{pd.Timestamp(msg['sent']).tz_convert(tz):%Y-%m-%d %H:%M}" in page


def test_a_cancel_notes_its_reasons_in_english_and_chinese(tmp_path):
    from pipelines.warnings.cap import render_cap

    scheme, city = load_warning_config("beijing")
    area = city.areas[0]
    store = WarningStore(tmp_path / "w.db")
    render = message_renderer(scheme, city, load_network(city.network), area)
    store.apply(scheme, city.name, area.id, T0, _heavy(scheme), {"data_cutoff": "c"}, render)
    msg = json.loads(store.messages(city.name)[0]["json"])
    msg |= {
        "msgType": "Cancel",
        "why": "clean for 96 h",
        "why_text": {"zh": "连续96小时达标", "en": "clean for 96 h"},
    }
    note = etree.fromstring(render_cap(msg, None).encode("utf-8")).findtext(f"{CAP}note")
    assert note == "clean for 96 h / 连续96小时达标"
    msg.pop("why_text")  # stored before the reasons were bilingual: English once
    note = etree.fromstring(render_cap(msg, None).encode("utf-8")).findtext(f"{CAP}note")
    assert note == "clean for 96 h"
