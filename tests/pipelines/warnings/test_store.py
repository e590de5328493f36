"""The lifecycle store on its own: one transaction per step, duplicates, outbox rows, rollback."""

from __future__ import annotations

import sqlite3

import pandas as pd
import pytest
from qy_helpers import SCRIPTED_T0, render_stub, scripted_decision

from pipelines.warnings.store import WarningStore

T0 = SCRIPTED_T0


SUBS = [{"url": "http://a.example/hook", "formats": ["cap", "json"], "timeout_s": 3}]


def test_issue_extend_lift_and_the_outbox(tmp_path, scheme):
    store = WarningStore(tmp_path / "w.db")
    a1 = store.apply(scheme, "c", "x", T0, scripted_decision("yellow"), {"p": 1}, render_stub, SUBS)
    assert (a1.action, a1.level, a1.identifier) == (
        "issue",
        "yellow",
        f"qingyuan.c.x.{a1.warning_id}.1",
    )
    t1 = T0 + pd.Timedelta(hours=24)
    a2 = store.apply(
        scheme, "c", "x", t1, scripted_decision("yellow", days=3), {"p": 2}, render_stub, SUBS
    )
    assert a2.action == "extend" and a2.warning_id == a1.warning_id
    assert a2.identifier.endswith(".2")
    t2 = T0 + pd.Timedelta(hours=96)
    a3 = store.apply(scheme, "c", "x", t2, scripted_decision(None), {"p": 3}, render_stub, SUBS)
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
    first = store.apply(scheme, "c", "x", T0, scripted_decision("yellow"), {}, render_stub)
    again = store.apply(scheme, "c", "x", T0, scripted_decision("red", days=4), {}, render_stub)
    assert again.duplicate and again.action == "issue" and again.level == "yellow"
    assert again.identifier == first.identifier
    assert len(store.messages("c")) == 1 and len(store.audit("c")) == 1


def test_a_failing_render_leaves_no_trace(tmp_path, scheme):
    store = WarningStore(tmp_path / "w.db")

    def broken(ctx):
        raise RuntimeError("renderer down")

    with pytest.raises(RuntimeError, match="renderer down"):
        store.apply(scheme, "c", "x", T0, scripted_decision("yellow"), {}, broken, SUBS)
    assert store.active("c") == [] and store.audit("c") == [] and store.messages("c") == []
    # and the step can be taken afterwards
    assert (
        store.apply(scheme, "c", "x", T0, scripted_decision("yellow"), {}, render_stub).action
        == "issue"
    )


def test_ops_alerts_are_kept_in_order(tmp_path):
    store = WarningStore(tmp_path / "w.db")
    store.record_ops_alert("c", "forecast_missing", "none")
    store.record_ops_alert("c", "forecast_stale", "old", T0)
    kinds = [(a["kind"], a["issue_time"]) for a in store.ops_alerts("c")]
    assert kinds == [("forecast_missing", None), ("forecast_stale", T0.isoformat())]
