"""The lifecycle store on its own: one transaction per step, duplicates, outbox rows, rollback."""

from __future__ import annotations

import json
import sqlite3

import pandas as pd
import pytest

from features.warnings.rules import Decision
from pipelines.config.warnings import load_warning_config
from pipelines.warnings.store import WarningStore

T0 = pd.Timestamp("2016-12-14 00:00")


def _decision(level: str | None, days: int = 2) -> Decision:
    start = T0 + pd.Timedelta(hours=24)
    return Decision(
        level=level,
        start=start if level else None,
        end=start + pd.Timedelta(hours=24 * days) if level else None,
        probability=0.9,
        aqi_range=(220.0, 260.0),
        primary_pollutant="pm25",
        clear_hours=24.0 if level else 96.0,
        lead_hours=24.0 if level else None,
        used_upper_bound=False,
        day_probability=[0.1, 0.9, 0.9, 0.1],
        reasons=["scripted"],
    )


def _render(ctx):
    body = {"sent": ctx["sent"].isoformat(), "identifier": ctx["identifier"]}
    return f"<alert>{ctx['identifier']}</alert>", json.dumps(body)


@pytest.fixture
def scheme():
    return load_warning_config("national-2018")[0]


SUBS = [{"url": "http://a.example/hook", "formats": ["cap", "json"], "timeout_s": 3}]


def test_issue_extend_lift_and_the_outbox(tmp_path, scheme):
    store = WarningStore(tmp_path / "w.db")
    a1 = store.apply(scheme, "c", "x", T0, _decision("yellow"), {"p": 1}, _render, SUBS)
    assert (a1.action, a1.level, a1.identifier) == (
        "issue",
        "yellow",
        f"qingyuan.c.x.{a1.warning_id}.1",
    )
    t1 = T0 + pd.Timedelta(hours=24)
    a2 = store.apply(scheme, "c", "x", t1, _decision("yellow", days=3), {"p": 2}, _render, SUBS)
    assert a2.action == "extend" and a2.warning_id == a1.warning_id
    assert a2.identifier.endswith(".2")
    t2 = T0 + pd.Timedelta(hours=96)
    a3 = store.apply(scheme, "c", "x", t2, _decision(None), {"p": 3}, _render, SUBS)
    assert a3.action == "lift" and store.active("c") == []
    con = sqlite3.connect(store.path)
    rows = con.execute("SELECT identifier, format, status FROM outbox ORDER BY id").fetchall()
    assert len(rows) == 6 and {r[1] for r in rows} == {"cap", "json"}
    assert {r[2] for r in rows} == {"pending"}
    refs = [r[0] for r in con.execute("SELECT refs FROM messages ORDER BY rowid")]
    assert refs[0] is None and refs[1].startswith(a1.identifier + ",")
    assert [m["msg_type"] for m in reversed(store.messages("c"))] == ["Alert", "Update", "Cancel"]


def test_the_same_issue_time_twice_changes_nothing(tmp_path, scheme):
    store = WarningStore(tmp_path / "w.db")
    first = store.apply(scheme, "c", "x", T0, _decision("yellow"), {}, _render)
    again = store.apply(scheme, "c", "x", T0, _decision("red", days=4), {}, _render)
    assert again.duplicate and again.action == "issue" and again.level == "yellow"
    assert again.identifier == first.identifier
    assert len(store.messages("c")) == 1 and len(store.audit("c")) == 1


def test_a_failing_render_leaves_no_trace(tmp_path, scheme):
    store = WarningStore(tmp_path / "w.db")

    def broken(ctx):
        raise RuntimeError("renderer down")

    with pytest.raises(RuntimeError, match="renderer down"):
        store.apply(scheme, "c", "x", T0, _decision("yellow"), {}, broken, SUBS)
    assert store.active("c") == [] and store.audit("c") == [] and store.messages("c") == []
    # and the step can be taken afterwards
    assert store.apply(scheme, "c", "x", T0, _decision("yellow"), {}, _render).action == "issue"


def test_ops_alerts_are_kept_in_order(tmp_path):
    store = WarningStore(tmp_path / "w.db")
    store.record_ops_alert("c", "forecast_missing", "none")
    store.record_ops_alert("c", "forecast_stale", "old", T0)
    kinds = [(a["kind"], a["issue_time"]) for a in store.ops_alerts("c")]
    assert kinds == [("forecast_missing", None), ("forecast_stale", T0.isoformat())]
