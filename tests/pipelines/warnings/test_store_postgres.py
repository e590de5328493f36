"""The lifecycle store, outbox and reader on both backends: the SQLite file and a real PostgreSQL.

The ``backend`` fixture gives each test a fresh database: a file under ``tmp_path`` or a new
database on the session's throw-away PostgreSQL server (``postgres`` fixture, tests/qy_postgres.py).
The same assertions run on both; what only one dialect can show (a server killed mid-cycle, a
second city proceeding while the first is locked) is tested on PostgreSQL alone.
"""

from __future__ import annotations

import http.server
import json
import sqlite3
import subprocess
import threading
import time
from pathlib import Path

import pandas as pd
import pytest
from qy_helpers import SCRIPTED_T0, render_stub, scripted_decision
from sqlalchemy import create_engine, text
from sqlalchemy import exc as sa_exc

from pipelines.results.cache import file_signature
from pipelines.results.warning_db import connect_ro, db_files, db_rows
from pipelines.results.workspace import Workspace
from pipelines.warnings import db as wdb
from pipelines.warnings.audit_chain import verify_audit
from pipelines.warnings.outbox import deliver_due, outbox_status
from pipelines.warnings.store import WarningStore

T0 = SCRIPTED_T0
H = pd.Timedelta(hours=1)
NOWHERE = "http://127.0.0.1:9/never"  # discard port: connection refused


def _sql(url: str, sql: str, **params) -> list[tuple]:
    """Run one statement on its own connection (committed) and return its rows."""
    engine = create_engine(url)
    try:
        with engine.begin() as con:
            res = con.execute(text(sql), params)
            return [tuple(r) for r in res] if res.returns_rows else []
    finally:
        engine.dispose()


def _count(url: str, table: str) -> int:
    return _sql(url, f"SELECT COUNT(*) FROM {table}")[0][0]


SUBS = [{"url": NOWHERE, "formats": ["cap", "json"], "timeout_s": 1}]


# ------------------------------------------------------------------------------ the lifecycle
def test_issue_upgrade_lift_with_outbox_and_reader(backend, scheme, tmp_path, monkeypatch):
    store = WarningStore(backend)
    a1 = store.apply(scheme, "c", "x", T0, scripted_decision("yellow"), {"p": 1}, render_stub, SUBS)
    assert (a1.action, a1.level, a1.identifier) == (
        "issue",
        "yellow",
        f"qingyuan.c.x.{a1.warning_id}.1",
    )
    # a second area at the same issue time: messages of one "sent" ordered by insertion
    b1 = store.apply(scheme, "c", "y", T0, scripted_decision("yellow"), {}, render_stub)
    a2 = store.apply(
        scheme, "c", "x", T0 + 24 * H, scripted_decision("red"), {"p": 2}, render_stub, SUBS
    )
    assert a2.action == "upgrade" and a2.level == "red" and a2.warning_id == a1.warning_id
    a3 = store.apply(
        scheme, "c", "x", T0 + 96 * H, scripted_decision(None), {"p": 3}, render_stub, SUBS
    )
    assert a3.action == "lift" and [w["area"] for w in store.active("c")] == ["y"]
    msgs = store.messages("c")
    assert [m["identifier"] for m in msgs] == [
        a3.identifier,
        a2.identifier,
        b1.identifier,
        a1.identifier,
    ]
    assert "rowid" not in msgs[0] and msgs[1]["refs"].startswith(a1.identifier + ",")
    assert [m["msg_type"] for m in msgs] == ["Cancel", "Update", "Alert", "Alert"]
    assert [a["action"] for a in store.audit("c")] == ["issue", "issue", "upgrade", "lift"]
    assert json.loads(store.audit("c")[2]["provenance"]) == {"p": 2}
    st = outbox_status(store.path)
    assert st["counts"] == {"pending": 6} and {r["format"] for r in st["undelivered"]} == {
        "cap",
        "json",
    }
    # the read-only reader of the web pages sees the same rows
    monkeypatch.setenv(wdb.ENV_VAR, backend)
    ws = Workspace(store=tmp_path / "store", outputs=tmp_path / "outputs")
    rows = db_rows(
        ws, "SELECT identifier FROM messages WHERE city = ? ORDER BY sent, rowid", ("c",)
    )
    assert [r["identifier"] for r in rows] == [m["identifier"] for m in reversed(msgs)]
    assert db_rows(ws, "SELECT * FROM no_such_table") == []
    key = file_signature(db_files(ws))
    store.record_ops_alert("c", "forecast_stale", "old", T0)
    assert (
        file_signature(db_files(ws)) != key
    )  # a write moves the cache key (file signature or counters)


def test_the_same_issue_time_twice_changes_nothing(backend, scheme):
    store = WarningStore(backend)
    first = store.apply(scheme, "c", "x", T0, scripted_decision("yellow"), {}, render_stub, SUBS)
    again = store.apply(
        scheme, "c", "x", T0, scripted_decision("red", days=4), {}, render_stub, SUBS
    )
    assert again.duplicate and (again.action, again.level) == ("issue", "yellow")
    assert again.identifier == first.identifier
    assert len(store.messages("c")) == 1 and len(store.audit("c")) == 1
    assert _count(backend, "outbox") == 2


def test_a_failing_render_leaves_no_trace(backend, scheme):
    store = WarningStore(backend)

    def broken(ctx):
        raise RuntimeError("renderer down")

    with pytest.raises(RuntimeError, match="renderer down"):
        store.apply(scheme, "c", "x", T0, scripted_decision("yellow"), {}, broken, SUBS)
    for table in ("warnings", "messages", "outbox", "decisions", "audit"):
        assert _count(backend, table) == 0, table
    assert (
        store.apply(scheme, "c", "x", T0, scripted_decision("yellow"), {}, render_stub).action
        == "issue"
    )


def test_hold_confirm_reject_and_supersede(backend, scheme):
    store = WarningStore(backend)
    step = store.preview(scheme, "c", "x", T0, scripted_decision("yellow"))
    pid = store.hold(
        "c", "x", T0, scripted_decision("yellow"), {"p": 1}, step, cap_status="Exercise"
    )
    assert store.hold("c", "x", T0, scripted_decision("yellow"), {}, step) == pid  # already held
    row = store.releasable(pid)
    assert row["status"] == "pending" and row["decision"]["level"] == "yellow"
    with pytest.raises(ValueError, match="no message"):
        store.resolve_pending(pid, "confirmed", by="Li", identifier="nope")
    applied = store.apply(scheme, "c", "x", T0, scripted_decision("yellow"), {}, render_stub)
    done = store.resolve_pending(pid, "confirmed", by="Li", identifier=applied.identifier)
    assert (done["status"], done["decided_by"], done["identifier"]) == (
        "confirmed",
        "Li",
        applied.identifier,
    )
    # a newer hold supersedes an older pending one; rejecting is audited
    t1, t2 = T0 + 24 * H, T0 + 48 * H
    lift = store.preview(scheme, "c", "x", t1, scripted_decision(None))
    p1 = store.hold("c", "x", t1, scripted_decision(None), {}, lift)
    p2 = store.hold("c", "x", t2, scripted_decision(None), {}, lift)
    assert store.pending_item(p1)["status"] == "superseded"
    assert store.resolve_pending(p2, "rejected", by="Wang", note="not yet")["status"] == "rejected"
    with pytest.raises(ValueError, match="already rejected by Wang"):
        store.releasable(p2)
    assert [a["action"] for a in store.audit("c")] == [
        "held",
        "issue",
        "held",
        "held",
        "superseded",
        "rejected",
    ]
    assert store.pending("c") == [] and len(store.pending("c", status=None)) == 3


def test_a_stale_pending_row_is_marked_superseded_and_refused(backend, scheme):
    store = WarningStore(backend)
    step = store.preview(scheme, "c", "x", T0, scripted_decision("yellow"))
    pid = store.hold("c", "x", T0, scripted_decision("yellow"), {}, step)
    store.apply(scheme, "c", "x", T0 + 24 * H, scripted_decision("yellow"), {}, render_stub)
    with pytest.raises(ValueError, match="stale"):
        store.releasable(pid)
    assert store.pending_item(pid)["status"] == "superseded"  # committed despite the refusal


class _Hook(http.server.BaseHTTPRequestHandler):
    received: list[tuple[str, str]] = []

    def do_POST(self):  # noqa: N802 - http.server's name
        n = int(self.headers["Content-Length"])
        _Hook.received.append((self.headers["X-Qingyuan-Identifier"], self.rfile.read(n).decode()))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_outbox_delivery_retries_and_dead_rows(backend, scheme):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _Hook.received.clear()
    try:
        hook = f"http://127.0.0.1:{server.server_address[1]}/hook"
        subs = [
            {"url": hook, "formats": ["json"]},
            {"url": NOWHERE, "formats": ["cap"], "timeout_s": 1},
        ]
        store = WarningStore(backend)
        a = store.apply(scheme, "c", "x", T0, scripted_decision("yellow"), {}, render_stub, subs)
        now = pd.Timestamp.now(tz="UTC").to_pydatetime()
        assert deliver_due(store.path, now=now, max_attempts=2, backoff_s=10) == {
            "delivered": 1,
            "failed": 1,
            "dead": 0,
        }
        assert [i for i, _ in _Hook.received] == [a.identifier]
        assert json.loads(_Hook.received[0][1])["identifier"] == a.identifier
        (row,) = outbox_status(store.path)["undelivered"]
        assert row["attempts"] == 1 and row["url"] == NOWHERE and row["last_error"]
        assert deliver_due(store.path, now=now, max_attempts=2, backoff_s=10)["failed"] == 0
        later = now + pd.Timedelta(seconds=10).to_pytimedelta()
        assert deliver_due(store.path, now=later, max_attempts=2, backoff_s=10)["dead"] == 1
        assert outbox_status(store.path)["counts"] == {"delivered": 1, "dead": 1}
        assert len(_Hook.received) == 1  # a delivered row is never sent again
    finally:
        server.shutdown()


# ------------------------------------------------------------------------------ schema guarantees
def test_the_audit_log_is_append_only(backend, scheme):
    store = WarningStore(backend)
    store.apply(scheme, "c", "x", T0, scripted_decision("yellow"), {}, render_stub)
    for sql in ("UPDATE audit SET why = 'forged'", "DELETE FROM audit"):
        with pytest.raises(sa_exc.DBAPIError, match="append-only"):
            _sql(backend, sql)
    if backend.startswith("postgresql"):
        with pytest.raises(sa_exc.DBAPIError, match="append-only"):
            _sql(backend, "TRUNCATE audit")
    assert _count(backend, "audit") == 1 and store.audit("c")[0]["why"] != "forged"


def test_one_active_warning_per_area(backend, scheme):
    store = WarningStore(backend)
    store.apply(scheme, "c", "x", T0, scripted_decision("yellow"), {}, render_stub)
    insert = (
        "INSERT INTO warnings (city, area, level, status, first_issued, last_updated, version, "
        "last_identifier, last_sent) VALUES ('c', 'x', 'red', :status, 't', 't', 1, 'i', 's')"
    )
    with pytest.raises(sa_exc.IntegrityError):
        _sql(backend, insert, status="active")
    _sql(backend, insert, status="lifted")  # lifted ones are not limited
    assert _count(backend, "warnings") == 2


def test_migrations_head_and_a_second_open_does_not_migrate(backend, monkeypatch):
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(wdb.MIGRATIONS))
    assert ScriptDirectory.from_config(cfg).get_current_head() == wdb.HEAD
    WarningStore(backend)
    assert _sql(backend, f"SELECT version_num FROM {wdb.VERSION_TABLE}") == [(wdb.HEAD,)]

    def no(*args, **kwargs):
        raise AssertionError("migrated a database already at head")

    monkeypatch.setattr("alembic.command.upgrade", no)
    monkeypatch.setattr("alembic.command.stamp", no)
    t = time.perf_counter()
    WarningStore(backend)
    assert time.perf_counter() - t < 2.0


def test_the_reader_never_writes(backend, tmp_path, monkeypatch):
    WarningStore(backend)
    with wdb.connect_ro(wdb.resolve_url(backend)) as con:
        with pytest.raises(sa_exc.DBAPIError, match="(?i)read.?only"):
            con.exec_driver_sql(
                "INSERT INTO ops_alerts (at, city, kind, message) VALUES ('a', 'c', 'k', 'm')"
            )
    assert _count(backend, "ops_alerts") == 0


def test_the_reader_does_not_create_a_missing_file(tmp_path, monkeypatch):
    monkeypatch.delenv(wdb.ENV_VAR, raising=False)
    ws = Workspace(store=tmp_path / "store", outputs=tmp_path / "outputs")
    with connect_ro(ws) as con:
        assert con is None
    assert db_rows(ws, "SELECT * FROM warnings") == [] and not ws.warnings_db.exists()


# ------------------------------------------------------------------------------ choosing the database
def test_a_path_is_the_sqlite_default_unless_the_environment_names_a_server(
    tmp_path, monkeypatch, postgres
):
    monkeypatch.delenv(wdb.ENV_VAR, raising=False)
    f = tmp_path / "outputs" / "warnings" / "warnings.db"
    store = WarningStore(f)
    assert store.path == f and f.is_file() and store.location == str(f)
    url = postgres.new_database("wenv")
    monkeypatch.setenv(wdb.ENV_VAR, url)
    g = tmp_path / "other" / "warnings.db"
    server = WarningStore(g)
    assert server.url.get_backend_name() == "postgresql" and not g.exists()
    assert "qingyuan" in server.location and server.path == url
    assert wdb.location(wdb.resolve_url("postgresql+psycopg://u:secret@h/db")) == (
        "postgresql+psycopg://u:***@h/db"
    )
    with pytest.raises(ValueError, match="unsupported backend"):
        wdb.dialect_of("mysql://h/db")


_LEGACY_SCHEMA = """
CREATE TABLE warnings (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    city TEXT NOT NULL, area TEXT NOT NULL, level TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('active', 'lifted')),
    onset TEXT, expires TEXT, first_issued TEXT NOT NULL, last_updated TEXT NOT NULL,
    version INTEGER NOT NULL, last_identifier TEXT NOT NULL, last_sent TEXT NOT NULL
);
CREATE UNIQUE INDEX one_active_per_area ON warnings (city, area) WHERE status = 'active';
CREATE TABLE decisions (
    city TEXT NOT NULL, area TEXT NOT NULL, issue_time TEXT NOT NULL,
    action TEXT NOT NULL, warning_id INTEGER, identifier TEXT, decision TEXT NOT NULL,
    PRIMARY KEY (city, area, issue_time)
);
CREATE TABLE audit (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL, city TEXT NOT NULL, area TEXT NOT NULL, issue_time TEXT NOT NULL,
    warning_id INTEGER, action TEXT NOT NULL, from_level TEXT, to_level TEXT,
    why TEXT, provenance TEXT NOT NULL, decision TEXT NOT NULL
);
CREATE TRIGGER audit_append_only_u BEFORE UPDATE ON audit
    BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
CREATE TRIGGER audit_append_only_d BEFORE DELETE ON audit
    BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
CREATE TABLE messages (
    identifier TEXT PRIMARY KEY, warning_id INTEGER NOT NULL, city TEXT NOT NULL,
    area TEXT NOT NULL, msg_type TEXT NOT NULL, action TEXT NOT NULL, sent TEXT NOT NULL,
    refs TEXT, cap_xml TEXT NOT NULL, json TEXT NOT NULL
);
CREATE TABLE outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    identifier TEXT NOT NULL, url TEXT NOT NULL, format TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'dead')),
    attempts INTEGER NOT NULL DEFAULT 0, next_attempt_at TEXT NOT NULL,
    last_error TEXT, delivered_at TEXT, timeout_s REAL NOT NULL DEFAULT 10,
    UNIQUE (identifier, url, format)
);
CREATE TABLE ops_alerts (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, city TEXT NOT NULL,
    issue_time TEXT, kind TEXT NOT NULL, message TEXT NOT NULL
);
"""  # the store's schema before migrations, before the ``pending`` table (confirmation)


def _shape(db: Path) -> dict:
    """Columns (name, affinity, not null, default, pk), indexes and triggers of a file.

    A primary key counts as NOT NULL: SQLAlchemy declares it so, SQLite never stores a NULL
    rowid, and the store never inserts a NULL key.
    """
    con = sqlite3.connect(db)
    out = {}
    for (name,) in con.execute(
        "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%' "
        "AND name != ?",
        (wdb.VERSION_TABLE,),
    ):
        cols = [
            (c[1], c[2].replace("FLOAT", "REAL"), c[3] or c[5], (c[4] or "").strip("()"), c[5])
            for c in con.execute(f"PRAGMA table_info({name})")
        ]
        idx = sorted(
            (i[2], i[3], i[4]) for i in con.execute(f"PRAGMA index_list({name})")
        )  # unique, origin, partial
        out[name] = (cols, idx)
    out["triggers"] = sorted(
        r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='trigger'")
    )
    con.close()
    return out


def test_a_file_made_before_migrations_is_stamped_and_keeps_its_rows(tmp_path, scheme, monkeypatch):
    monkeypatch.delenv(wdb.ENV_VAR, raising=False)
    old = tmp_path / "old.db"
    con = sqlite3.connect(old)
    con.executescript(_LEGACY_SCHEMA)
    con.execute(
        "INSERT INTO warnings (city, area, level, status, first_issued, last_updated, version, "
        "last_identifier, last_sent) VALUES ('c', 'x', 'yellow', 'active', ?, ?, 1, "
        "'qingyuan.c.x.1.1', ?)",
        (T0.isoformat(), T0.isoformat(), T0.isoformat()),
    )
    con.execute(
        "INSERT INTO audit (at, city, area, issue_time, action, provenance, decision) "
        "VALUES ('a', 'c', 'x', ?, 'issue', '{}', '{}')",
        (T0.isoformat(),),
    )
    con.commit()
    con.close()
    store = WarningStore(old)
    assert [w["last_identifier"] for w in store.active("c")] == ["qingyuan.c.x.1.1"]
    assert len(store.audit("c")) == 1 and store.pending() == []  # ``pending`` added
    assert sqlite3.connect(old).execute(f"SELECT * FROM {wdb.VERSION_TABLE}").fetchall() == [
        (wdb.HEAD,)
    ]
    # the lifecycle continues from the old row: an extend of warning 1, version 2
    a = store.apply(
        scheme, "c", "x", T0 + 24 * H, scripted_decision("yellow", days=3), {}, render_stub
    )
    assert a.action == "extend" and a.identifier == "qingyuan.c.x.1.2"
    # the old audit row was chained on open (revision 0002) and the new one follows it
    (chain,) = verify_audit(old)
    assert chain.ok and chain.check.count == 2
    # and the schema is the one a new database gets
    new = tmp_path / "new.db"
    WarningStore(new)
    assert _shape(old) == _shape(new)


def test_a_new_sqlite_file_has_todays_schema(tmp_path, monkeypatch):
    monkeypatch.delenv(wdb.ENV_VAR, raising=False)
    legacy = tmp_path / "legacy.db"
    con = sqlite3.connect(legacy)
    con.executescript(_LEGACY_SCHEMA)
    con.executescript(
        """
        CREATE TABLE pending (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            city TEXT NOT NULL, area TEXT NOT NULL, issue_time TEXT NOT NULL, created TEXT NOT NULL,
            proposed_action TEXT NOT NULL, proposed_level TEXT, from_level TEXT,
            proposed_onset TEXT, proposed_expires TEXT, why TEXT, cap_status TEXT,
            decision TEXT NOT NULL, provenance TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'pending'
                CHECK (status IN ('pending', 'confirmed', 'rejected', 'superseded')),
            decided_by TEXT, decided_at TEXT, note TEXT, identifier TEXT,
            UNIQUE (city, area, issue_time)
        );
        CREATE INDEX pending_by_status ON pending (city, status);
        ALTER TABLE audit ADD COLUMN prev_hash TEXT;
        ALTER TABLE audit ADD COLUMN hash TEXT;
        CREATE INDEX audit_chain ON audit (city, seq);
        """  # revision 0002: the audit log's hash chain
    )
    con.close()
    new = tmp_path / "new.db"
    WarningStore(new)
    assert _shape(new) == _shape(legacy)
    assert sqlite3.connect(new).execute("PRAGMA journal_mode").fetchone() == ("wal",)


# ------------------------------------------------------------------------------ concurrency, faults
def test_two_concurrent_cycles_of_a_city_are_serialised(backend, scheme):
    WarningStore(backend)
    spans: list[tuple[float, float]] = []
    outcomes = []
    errors = []

    def slow_render(ctx):
        t = time.perf_counter()
        time.sleep(0.4)
        spans.append((t, time.perf_counter()))
        return render_stub(ctx)

    def cycle():
        try:
            store = WarningStore(backend)
            outcomes.append(
                store.apply(
                    scheme, "c", "x", T0, scripted_decision("yellow"), {}, slow_render, SUBS
                )
            )
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=cycle) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert sorted(o.duplicate for o in outcomes) == [False, True]  # the second saw the first
    assert outcomes[0].identifier == outcomes[1].identifier
    assert len(spans) == 1  # rendered once: the second waited, then found it decided
    assert _count(backend, "messages") == 1 and _count(backend, "outbox") == 2
    assert _count(backend, "audit") == 1


def test_the_city_lock_serialises_interleaved_steps(backend, scheme):
    """Two cycles deciding different issue times of one area never read a stale warning."""
    WarningStore(backend)
    errors = []
    inside = threading.Event()
    spans = []

    def render_slow(ctx):
        inside.set()
        t = time.perf_counter()
        time.sleep(0.5)
        spans.append((ctx["action"], t, time.perf_counter()))
        return render_stub(ctx)

    def run(t, level, render):
        try:
            WarningStore(backend).apply(scheme, "c", "x", t, scripted_decision(level), {}, render)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    first = threading.Thread(target=run, args=(T0, "yellow", render_slow))
    first.start()
    assert inside.wait(10)
    second = threading.Thread(target=run, args=(T0 + 24 * H, "red", render_slow))
    second.start()
    first.join(60)
    second.join(60)
    assert errors == []
    (a1, s1, e1), (a2, s2, e2) = spans
    assert (a1, a2) == ("issue", "upgrade")  # the second saw the first's warning
    assert s2 >= e1  # never interleaved
    w = _sql(backend, "SELECT version, level FROM warnings")
    assert w == [(2, "red")]


def test_other_cities_are_not_blocked_on_postgres(postgres, scheme, monkeypatch):
    monkeypatch.delenv(wdb.ENV_VAR, raising=False)
    url = postgres.new_database("wcity")
    WarningStore(url)
    inside, other_done = threading.Event(), threading.Event()
    errors = []

    def waiting_render(ctx):
        inside.set()
        assert other_done.wait(20), "city b was blocked by city a's transaction"
        return render_stub(ctx)

    def city_a():
        try:
            WarningStore(url).apply(
                scheme, "a", "x", T0, scripted_decision("yellow"), {}, waiting_render
            )
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    t = threading.Thread(target=city_a)
    t.start()
    assert inside.wait(10)
    WarningStore(url).apply(scheme, "b", "x", T0, scripted_decision("yellow"), {}, render_stub)
    other_done.set()
    t.join(30)
    assert errors == [] and _count(url, "decisions") == 2


def test_the_server_going_away_mid_cycle_fails_loudly_and_commits_nothing(
    postgres, scheme, monkeypatch
):
    monkeypatch.delenv(wdb.ENV_VAR, raising=False)
    url = postgres.new_database("wgone")
    name = url.rsplit("/", 1)[1]
    store = WarningStore(url)

    def kill_my_backend(ctx):
        # the warning row is inserted, the transaction is open: terminate its connection
        postgres.psql(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            f"WHERE datname = '{name}' AND pid <> pg_backend_pid()",
            name,
        )
        return render_stub(ctx)

    with pytest.raises(wdb.WarningDatabaseError, match="nothing of it was committed"):
        store.apply(scheme, "c", "x", T0, scripted_decision("yellow"), {}, kill_my_backend, SUBS)
    for table in ("warnings", "messages", "outbox", "decisions", "audit"):
        assert _count(url, table) == 0, table
    # the pool recovers: the same step is taken afterwards
    assert (
        store.apply(scheme, "c", "x", T0, scripted_decision("yellow"), {}, render_stub).action
        == "issue"
    )


def test_a_stopped_server_is_a_clear_error(tmp_path, scheme, monkeypatch):
    """Stopping the whole server (a cluster of its own) mid-cycle is a loud, clear error."""
    monkeypatch.delenv(wdb.ENV_VAR, raising=False)
    from qy_postgres import start_postgres

    try:
        srv = start_postgres(tmp_path / "pg")
    except (RuntimeError, subprocess.CalledProcessError) as exc:
        pytest.fail(f"second PostgreSQL cluster did not start: {exc}")
    try:
        url = srv.new_database("wstop")
        store = WarningStore(url)

        def stop_server(ctx):
            srv.stop()
            return render_stub(ctx)

        with pytest.raises(wdb.WarningDatabaseError, match="failed during a write"):
            store.apply(scheme, "c", "x", T0, scripted_decision("yellow"), {}, stop_server)
        with pytest.raises(sa_exc.OperationalError):
            store.active("c")  # reads fail loudly as well
    finally:
        srv.stop()
