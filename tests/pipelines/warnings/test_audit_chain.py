"""The warning audit log's hash chain on both backends: a SQLite file and a real PostgreSQL.

Rows are edited and removed behind the system's back (the append-only trigger dropped on
SQLite, disabled by the superuser on PostgreSQL) and :func:`verify_audit` must name the first
row concerned; a database at revision 0001 is chained by the migration; concurrent cities keep
valid chains.
"""

from __future__ import annotations

import sqlite3
import threading
import time

import pandas as pd
import pytest
from qy_helpers import SCRIPTED_T0, render_stub, scripted_decision
from sqlalchemy import create_engine, text
from sqlalchemy import exc as sa_exc

from features.integrity import GENESIS, record_hash
from pipelines.warnings import db as wdb
from pipelines.warnings.audit_chain import CONTENT, verify_audit
from pipelines.warnings.store import WarningStore

T0 = SCRIPTED_T0
H = pd.Timedelta(hours=1)


def _sql(url: str, *statements: str, **params) -> list[tuple]:
    """Run statements in one transaction (committed); return the last one's rows."""
    engine = create_engine(url)
    try:
        with engine.begin() as con:
            rows: list[tuple] = []
            for sql in statements:
                res = con.execute(text(sql), params)
                rows = [tuple(r) for r in res] if res.returns_rows else []
            return rows
    finally:
        engine.dispose()


def _behind_the_back(url: str, sql: str, **params) -> None:
    """Run an UPDATE or DELETE on ``audit`` past its append-only trigger, as an intruder would."""
    if url.startswith("sqlite"):
        con = sqlite3.connect(url.removeprefix("sqlite:///"))
        con.executescript("DROP TRIGGER audit_append_only_u; DROP TRIGGER audit_append_only_d;")
        con.execute(sql, params)
        con.commit()
        con.close()
    else:  # the test server's user is the superuser (initdb -U qingyuan)
        _sql(
            url,
            "ALTER TABLE audit DISABLE TRIGGER audit_append_only",
            sql,
            "ALTER TABLE audit ENABLE TRIGGER audit_append_only",
            **params,
        )


def _history(store: WarningStore, scheme, city: str = "c") -> None:
    """Issue, upgrade and lift in area x, issue in y: four audit rows of ``city``."""
    store.apply(scheme, city, "x", T0, scripted_decision("yellow"), {"p": 1}, render_stub)
    store.apply(scheme, city, "y", T0, scripted_decision("yellow"), {"p": 2}, render_stub)
    store.apply(scheme, city, "x", T0 + 24 * H, scripted_decision("red"), {"p": 3}, render_stub)
    store.apply(scheme, city, "x", T0 + 96 * H, scripted_decision(None), {"p": 4}, render_stub)


def _only(statuses, name):
    found = [s for s in statuses if s.name == name]
    assert len(found) == 1, [s.name for s in statuses]
    return found[0]


def test_every_row_is_linked_to_its_citys_previous_row(backend, scheme):
    store = WarningStore(backend)
    _history(store, scheme, "c")
    _history(store, scheme, "d")
    rows = store.audit("c")
    assert rows[0]["prev_hash"] == GENESIS
    assert [r["prev_hash"] for r in rows[1:]] == [r["hash"] for r in rows[:-1]]
    assert rows[2]["hash"] == record_hash(rows[1]["hash"], {k: rows[2][k] for k in CONTENT})
    assert store.audit("d")[0]["prev_hash"] == GENESIS  # one chain per city
    statuses = verify_audit(backend)
    assert [s.name for s in statuses] == ["warnings audit c", "warnings audit d"]
    assert all(s.ok for s in statuses) and [s.check.count for s in statuses] == [4, 4]
    assert statuses[0].check.head == rows[-1]["hash"]


def test_held_rejected_and_superseded_rows_are_chained_too(backend, scheme):
    store = WarningStore(backend)
    step = store.preview(scheme, "c", "x", T0, scripted_decision("yellow"))
    p1 = store.hold("c", "x", T0, scripted_decision("yellow"), {}, step)
    store.hold("c", "x", T0 + 24 * H, scripted_decision("red"), {}, step)  # supersedes p1
    p3 = store.hold("c", "y", T0, scripted_decision("yellow"), {}, step)
    store.resolve_pending(p3, "rejected", by="duty officer", note="sensor fault")
    actions = [r["action"] for r in store.audit("c")]
    assert actions == ["held", "held", "superseded", "held", "rejected"] and p1 != p3
    (status,) = verify_audit(backend)
    assert status.ok and status.check.count == 5


def test_an_edited_row_is_named(backend, scheme):
    store = WarningStore(backend)
    _history(store, scheme)
    _history(store, scheme, "d")
    seq = store.audit("c")[2]["seq"]
    _behind_the_back(backend, "UPDATE audit SET why = 'forged' WHERE seq = :seq", seq=seq)
    assert store.audit("c")[2]["why"] == "forged"
    c = _only(verify_audit(backend), "warnings audit c")
    assert not c.ok and c.check.count == 4
    assert (c.check.broken.key, c.check.broken.index) == (f"audit seq {seq}", 2)
    assert c.check.broken.kind == "altered" and "does not match its hash" in c.check.broken.reason
    assert _only(verify_audit(backend), "warnings audit d").ok  # the other city is intact


def test_a_removed_row_is_named_by_the_row_after_it(backend, scheme):
    store = WarningStore(backend)
    _history(store, scheme)
    seqs = [r["seq"] for r in store.audit("c")]
    _behind_the_back(backend, "DELETE FROM audit WHERE seq = :seq", seq=seqs[1])
    (c,) = verify_audit(backend)
    assert c.check.broken.key == f"audit seq {seqs[2]}" and c.check.broken.kind == "missing"
    assert f"audit seq {seqs[0]}" in c.check.broken.reason


def test_a_rewritten_row_with_its_hash_recomputed_breaks_the_next_link(backend, scheme):
    store = WarningStore(backend)
    _history(store, scheme)
    rows = store.audit("c")
    forged = {k: rows[1][k] for k in CONTENT} | {"why": "forged"}
    _behind_the_back(
        backend,
        "UPDATE audit SET why = 'forged', hash = :h WHERE seq = :seq",
        h=record_hash(rows[1]["prev_hash"], forged),
        seq=rows[1]["seq"],
    )
    (c,) = verify_audit(backend)
    assert c.check.broken.key == f"audit seq {rows[2]['seq']}"
    assert "rewritten with a recomputed hash" in c.check.broken.reason


def test_a_row_removed_from_the_end_shows_on_sqlite(tmp_path, scheme, monkeypatch):
    monkeypatch.delenv(wdb.ENV_VAR, raising=False)
    url = f"sqlite:///{tmp_path / 'w.db'}"
    store = WarningStore(url)
    _history(store, scheme)
    last = store.audit("c")[-1]["seq"]
    _behind_the_back(url, "DELETE FROM audit WHERE seq = :seq", seq=last)
    statuses = verify_audit(url)
    assert statuses[0].ok  # a shorter chain is a valid chain ...
    tail = _only(statuses, "warnings audit")
    assert not tail.ok and f"after seq {last - 1} is missing" in tail.problem  # ... but not here


def test_the_chain_continues_after_a_row_the_migration_chained(backend, scheme):
    """A database at revision 0001 with audit rows: revision 0002 chains them in seq order."""
    store = WarningStore(backend)
    _history(store, scheme, "c")
    _history(store, scheme, "d")
    before = store.audit()
    # back to revision 0001: no chain columns, no index
    _sql(
        backend,
        "DROP INDEX audit_chain",
        "ALTER TABLE audit DROP COLUMN hash",
        "ALTER TABLE audit DROP COLUMN prev_hash",
        f"UPDATE {wdb.VERSION_TABLE} SET version_num = '0001'",
    )
    assert verify_audit(backend)[0].problem.startswith("the audit log is not chained yet")
    url = wdb.resolve_url(backend)
    for read_only in (False, True):  # as a new process would: no statement prepared before
        wdb.engine_for(url, read_only=read_only).dispose()
    store = WarningStore(backend)  # migrates
    assert _sql(backend, f"SELECT version_num FROM {wdb.VERSION_TABLE}") == [(wdb.HEAD,)]
    assert store.audit() == before  # the same hashes: chained as the store would have
    store.apply(scheme, "c", "z", T0, scripted_decision("yellow"), {}, render_stub)
    statuses = verify_audit(backend)
    assert [(s.name, s.ok, s.check.count) for s in statuses] == [
        ("warnings audit c", True, 5),
        ("warnings audit d", True, 4),
    ]
    # and the append-only trigger is back
    with pytest.raises(sa_exc.DBAPIError, match="append-only"):
        _sql(backend, "UPDATE audit SET why = 'forged'")


def test_concurrent_cities_keep_valid_chains(backend, scheme):
    WarningStore(backend)
    errors = []

    def slow(ctx):
        time.sleep(0.02)
        return render_stub(ctx)

    def cycles(city: str, area: str) -> None:
        try:
            store = WarningStore(backend)
            for k in range(4):
                level = ("yellow", "orange", "red", None)[k]
                store.apply(scheme, city, area, T0 + 24 * k * H, scripted_decision(level), {}, slow)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [
        threading.Thread(target=cycles, args=(city, area))
        for city in ("a", "b", "c")
        for area in ("x", "y")
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    statuses = verify_audit(backend)
    assert [(s.name, s.ok, s.check.count) for s in statuses] == [
        (f"warnings audit {c}", True, 8) for c in ("a", "b", "c")
    ]
