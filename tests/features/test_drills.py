"""Drill bookkeeping: the days a drill runs and the history rows it keeps."""

from __future__ import annotations

import pandas as pd

from features.drills import drill_days, drill_history


def test_drill_days_stop_before_the_latest_run():
    days = drill_days("2016-12-12", "2016-12-24", pd.Timestamp("2016-12-15 08:00"))
    assert days == [pd.Timestamp(f"2016-12-{d}") for d in (12, 13, 14, 15)]
    assert drill_days("2016-12-12", "2016-12-24", pd.Timestamp("2016-12-12")) == []
    assert len(drill_days("2016-12-12", "2016-12-14", pd.Timestamp("2017-01-01"))) == 3


def test_drill_history_keeps_changes_only():
    res = {
        "decisions": {
            "a": {"action": "issue", "level": "yellow", "identifier": "X1"},
            "b": {"action": "hold", "level": "yellow", "identifier": None},
            "c": {"action": "none", "level": None, "identifier": None},
            "d": {"action": "lift", "level": None, "identifier": "X2"},
        },
        "outputs": {"bulletin": "b.html", "cap_dir": "cap"},
    }
    rows = drill_history(res, pd.Timestamp("2016-12-16 00:00"), "beijing")
    assert [r["area"] for r in rows] == ["a", "d"]
    assert rows[0] == {
        "issue_local": "2016-12-16 00:00",
        "city": "beijing",
        "area": "a",
        "action": "issue",
        "level": "yellow",
        "identifier": "X1",
        "bulletin": "b.html",
        "cap_dir": "cap",
    }
