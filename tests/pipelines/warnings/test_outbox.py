"""Outbox delivery: backoff doubling, dead rows after the last attempt, the city's settings."""

from __future__ import annotations

import datetime as dt
import sqlite3

from pipelines.config.warnings import OutboxSettings, load_warning_config
from pipelines.warnings.outbox import deliver_due, outbox_status
from pipelines.warnings.publish import deliver_city
from pipelines.warnings.store import WarningStore

NOWHERE = "http://127.0.0.1:9/never"  # discard port: connection refused


def _queue(tmp_path, n: int = 1):
    store = WarningStore(tmp_path / "w.db")
    con = sqlite3.connect(store.path)
    t0 = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
    for i in range(n):
        con.execute(
            "INSERT INTO messages (identifier, warning_id, city, area, msg_type, action, sent, "
            "cap_xml, json) VALUES (?,?,?,?,?,?,?,?,?)",
            (f"m{i}", 1, "c", "x", "Alert", "issue", "s", "<alert/>", "{}"),
        )
        con.execute(
            "INSERT INTO outbox (identifier, url, format, next_attempt_at, timeout_s) "
            "VALUES (?,?,?,?,?)",
            (f"m{i}", NOWHERE, "cap", t0.isoformat(), 1),
        )
    con.commit()
    return store.path, t0


def test_backoff_doubles_then_the_row_is_dead(tmp_path):
    db, t0 = _queue(tmp_path)
    assert deliver_due(db, now=t0, max_attempts=3, backoff_s=10) == {
        "delivered": 0,
        "failed": 1,
        "dead": 0,
    }
    row = outbox_status(db)["undelivered"][0]
    assert row["attempts"] == 1 and row["last_error"]
    assert row["next_attempt_at"] == (t0 + dt.timedelta(seconds=10)).isoformat()
    # not yet due: nothing tried
    assert (
        deliver_due(db, now=t0 + dt.timedelta(seconds=5), max_attempts=3, backoff_s=10)["failed"]
        == 0
    )
    t1 = t0 + dt.timedelta(seconds=10)
    deliver_due(db, now=t1, max_attempts=3, backoff_s=10)
    row = outbox_status(db)["undelivered"][0]
    assert row["next_attempt_at"] == (t1 + dt.timedelta(seconds=20)).isoformat()  # doubled
    counts = deliver_due(db, now=t1 + dt.timedelta(seconds=20), max_attempts=3, backoff_s=10)
    assert counts["dead"] == 1
    assert outbox_status(db)["counts"] == {"dead": 1}


def test_deliver_city_uses_the_city_settings_or_the_schema_defaults(tmp_path, monkeypatch):
    _, city = load_warning_config("beijing")
    assert city.outbox == OutboxSettings(max_attempts=8, backoff_s=30)
    seen = []

    def fake(db, now=None, max_attempts=0, backoff_s=0.0):
        seen.append((max_attempts, backoff_s))
        return {}

    monkeypatch.setattr("pipelines.warnings.publish.deliver_due", fake)
    deliver_city(
        tmp_path / "w.db", city.model_copy(update={"outbox": OutboxSettings(max_attempts=2)})
    )
    deliver_city(tmp_path / "w.db", None)
    assert seen == [(2, 30.0), (8, 30.0)]
