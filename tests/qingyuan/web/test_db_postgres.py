"""The application database on a real PostgreSQL server, and its Alembic migrations.

Accounts, sessions, tokens and audit rows through the application and the command line on
PostgreSQL; the audit table refusing UPDATE, DELETE and TRUNCATE there; an application role
without those rights (the set-up of ``docs/deploy.md``); migrations that build exactly the
models' schema on both back ends; and an ``app.db`` written by the code before migrations
recognised, stamped and kept intact.
"""

from __future__ import annotations

import re
import threading

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from click.testing import CliRunner
from fastapi.testclient import TestClient

PASSWORD = "a long enough password"

# The DDL the application ran on every open before it had migrations (frozen copy of the
# former ``qingyuan.web.db``: ``Base.metadata.create_all`` followed by these triggers).
_OLD_SQLITE_TRIGGERS = [
    "CREATE TRIGGER IF NOT EXISTS audit_append_only_u BEFORE UPDATE ON audit "
    "BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END",
    "CREATE TRIGGER IF NOT EXISTS audit_append_only_d BEFORE DELETE ON audit "
    "BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END",
]
_OLD_PG_TRIGGERS = [
    "CREATE OR REPLACE FUNCTION qy_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS "
    "$$ BEGIN RAISE EXCEPTION 'audit log is append-only'; END $$",
    "DROP TRIGGER IF EXISTS audit_append_only ON audit",
    "CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit "
    "FOR EACH STATEMENT EXECUTE FUNCTION qy_audit_append_only()",
]


@pytest.fixture
def pg_url(postgres):
    """A fresh PostgreSQL database for one test (SQLAlchemy URL, psycopg 3)."""
    return postgres.new_database("web")


@pytest.fixture
def app(pg_url, tmp_path):
    """The web application on an empty workspace and a PostgreSQL application database."""
    from qingyuan.web import create_app
    from qingyuan.web.settings import load_settings

    (tmp_path / "store").mkdir()
    (tmp_path / "outputs").mkdir()
    app = create_app(load_settings(tmp_path / "store", tmp_path / "outputs", database_url=pg_url))
    yield app
    app.state.engine.dispose()


def _login(app, username: str, *, client: str = "10.9.0.1") -> TestClient:
    c = TestClient(app, raise_server_exceptions=False, client=(client, 5000))
    token = re.search(r'name="csrf_token" value="([^"]+)"', c.get("/login").text).group(1)
    r = c.post(
        "/login",
        data={"username": username, "password": PASSWORD, "csrf_token": token, "next": "/"},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    return c


def test_web_app_on_postgresql_users_login_tokens_and_audit(app):
    from qingyuan.web.accounts import add_user

    sessions = app.state.sessions
    assert app.state.engine.dialect.name == "postgresql"
    roles = app.state.policy.login_roles()
    add_user(sessions, "admin1", "admin", password=PASSWORD, roles=roles)
    add_user(sessions, "analyst1", "analyst", password=PASSWORD, roles=roles)
    browser = _login(app, "analyst1")
    me = browser.get("/api/v1/auth/me").json()
    assert me["username"] == "analyst1" and me["via"] == "session" and me["csrf_token"]
    api = TestClient(app, raise_server_exceptions=False, client=("10.9.0.2", 5000))
    r = api.post("/api/v1/auth/token", json={"username": "admin1", "password": PASSWORD})
    assert r.status_code == 201
    bearer = {"Authorization": f"Bearer {r.json()['token']}"}
    assert api.get("/api/v1/auth/me", headers=bearer).json()["via"] == "token"
    bad = api.post("/api/v1/auth/token", json={"username": "admin1", "password": "wrong one"})
    assert bad.status_code == 401
    assert browser.get("/api/v1/audit").status_code == 403  # analysts do not read the audit
    log = api.get("/api/v1/audit?page_size=1000", headers=bearer).json()["items"]
    acts = {(e["username"], e["action"], e["outcome"]) for e in log}
    assert ("analyst1", "login", "ok") in acts
    assert ("admin1", "token", "ok") in acts and (None, "token", "failed") in acts
    assert ("analyst1", "read", "denied") in acts
    with app.state.engine.connect() as con:
        q = sa.text("SELECT action, count(*) FROM audit GROUP BY action")
        rows = {a: n for a, n in con.execute(q)}
        assert con.execute(sa.text("SELECT count(*) FROM sessions")).scalar() == 1
        assert con.execute(sa.text("SELECT count(*) FROM api_tokens")).scalar() == 1
        assert con.execute(sa.text("SELECT count(*) FROM login_failures")).scalar() == 1
    assert rows["login"] == 1 and rows["token"] == 2


def test_audit_is_append_only_on_postgresql(pg_url):
    from qingyuan.web.accounts import Principal, record_audit
    from qingyuan.web.db import open_database

    engine, sessions = open_database(pg_url)
    try:
        record_audit(sessions, Principal("u", "admin", "cli"), "users.add", detail={"n": 1})
        for sql in ("UPDATE audit SET action = 'x'", "DELETE FROM audit", "TRUNCATE audit"):
            with engine.begin() as con, pytest.raises(sa.exc.DatabaseError, match="append-only"):
                con.execute(sa.text(sql))
        with engine.connect() as con:
            assert con.execute(sa.text("SELECT action, detail FROM audit")).one() == (
                "users.add",
                {"n": 1},
            )
    finally:
        engine.dispose()


def test_application_role_cannot_update_or_delete_the_audit(postgres, pg_url):
    """The roles of docs/deploy.md: the owner migrates, the application role only appends."""
    from qingyuan.web.accounts import (
        Principal,
        add_user,
        authenticate,
        create_token,
        record_audit,
        resolve_token,
    )
    from qingyuan.web.db import open_database

    db = pg_url.rsplit("/", 1)[1]
    owner, app_role = f"{db}_owner", f"{db}_app"
    postgres.psql(f"CREATE ROLE {owner} LOGIN; CREATE ROLE {app_role} LOGIN")
    postgres.psql(f"ALTER DATABASE {db} OWNER TO {owner}; REVOKE ALL ON DATABASE {db} FROM PUBLIC")
    postgres.psql(f"GRANT CONNECT ON DATABASE {db} TO {app_role}")
    postgres.psql(
        f"REVOKE CREATE ON SCHEMA public FROM PUBLIC; GRANT CREATE ON SCHEMA public TO {owner}", db
    )
    as_owner = pg_url.replace("//qingyuan@", f"//{owner}@")
    as_app = pg_url.replace("//qingyuan@", f"//{app_role}@")
    owner_engine, _ = open_database(as_owner)  # migrations as the owner
    owner_engine.dispose()
    postgres.psql(
        f"GRANT USAGE ON SCHEMA public TO {app_role};"
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON users, sessions, api_tokens, login_failures,"
        f" annotations TO {app_role};"
        f"GRANT SELECT, INSERT ON audit TO {app_role};"
        f"GRANT SELECT ON qingyuan_web_version TO {app_role};"
        f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO {app_role}",
        db,
    )
    engine, sessions = open_database(as_app)  # at the newest revision: no DDL needed
    try:
        add_user(sessions, "ops", "analyst", password=PASSWORD, roles=["analyst"])
        user = authenticate(sessions, "ops", PASSWORD, client="c", attempts=5, window_s=60)
        assert resolve_token(sessions, create_token(sessions, user.username, name="t", ttl_days=1))
        record_audit(sessions, Principal("ops", "analyst", "token"), "read", dataset="x")
        for sql in ("UPDATE audit SET action = 'x'", "DELETE FROM audit", "TRUNCATE audit"):
            with engine.begin() as con, pytest.raises(sa.exc.ProgrammingError, match="denied"):
                con.execute(sa.text(sql))
        with engine.begin() as con, pytest.raises(sa.exc.ProgrammingError, match="must be owner"):
            con.execute(sa.text("DROP TRIGGER audit_append_only ON audit"))
        with engine.connect() as con:
            assert con.execute(sa.text("SELECT count(*) FROM audit")).scalar() == 1
    finally:
        engine.dispose()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_migrations_build_exactly_the_models_schema(backend, postgres, tmp_path):
    from qingyuan.web.db import Base, current_revision, head_revision, open_database

    url = f"sqlite:///{tmp_path / 'app.db'}" if backend == "sqlite" else postgres.new_database()
    engine, _ = open_database(url)
    try:
        assert current_revision(engine) == head_revision() == "0001"
        with engine.connect() as con:
            ctx = MigrationContext.configure(con, opts={"version_table": "qingyuan_web_version"})
            diff = compare_metadata(ctx, Base.metadata)
            tables = set(sa.inspect(con).get_table_names())
        assert diff == []
        assert tables == set(Base.metadata.tables) | {"qingyuan_web_version"}
    finally:
        engine.dispose()


def _old_database(url: str) -> None:
    """An application database as the code before migrations left it, with some rows."""
    from qingyuan.web.db import Base

    engine = sa.create_engine(url)
    Base.metadata.create_all(engine)
    with engine.begin() as con:
        for ddl in (
            _OLD_PG_TRIGGERS if engine.dialect.name == "postgresql" else _OLD_SQLITE_TRIGGERS
        ):
            con.execute(sa.text(ddl))
    engine.dispose()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_database_from_before_migrations_is_stamped_and_kept(backend, postgres, tmp_path):
    from qingyuan.web.accounts import Principal, add_user, authenticate, record_audit
    from qingyuan.web.db import current_revision, open_database

    url = f"sqlite:///{tmp_path / 'app.db'}" if backend == "sqlite" else postgres.new_database()
    _old_database(url)
    engine = sa.create_engine(url)
    sessions = sa.orm.sessionmaker(engine, expire_on_commit=False)
    add_user(sessions, "dana", "decision", password=PASSWORD, roles=["decision"])
    record_audit(sessions, Principal("dana", "decision", "session"), "login")
    assert current_revision(engine) is None
    engine.dispose()

    engine, sessions = open_database(url)
    try:
        assert current_revision(engine) == "0001"
        user = authenticate(sessions, "dana", PASSWORD, client="c", attempts=5, window_s=60)
        assert user.role == "decision"
        record_audit(sessions, Principal("dana", "decision", "session"), "logout")
        with engine.connect() as con:
            acts = [a for (a,) in con.execute(sa.text("SELECT action FROM audit ORDER BY seq"))]
        assert acts == ["login", "logout"]
        with engine.begin() as con, pytest.raises(sa.exc.DatabaseError, match="append-only"):
            con.execute(sa.text("DELETE FROM audit"))
    finally:
        engine.dispose()
    engine, _ = open_database(url)  # opening again changes nothing
    with engine.connect() as con:
        assert con.execute(sa.text("SELECT count(*) FROM qingyuan_web_version")).scalar() == 1
        assert con.execute(sa.text("SELECT count(*) FROM users")).scalar() == 1
    engine.dispose()


def test_concurrent_starts_migrate_once(pg_url):
    """Several web workers opening a new database at once: one migrates, all succeed."""
    from qingyuan.web.db import current_revision, open_database

    errors: list[BaseException] = []
    engines = []

    def start() -> None:
        try:
            engines.append(open_database(pg_url)[0])
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    try:
        assert errors == [] and len(engines) == 4
        assert current_revision(engines[0]) == "0001"
        with engines[0].connect() as con:
            assert con.execute(sa.text("SELECT count(*) FROM qingyuan_web_version")).scalar() == 1
    finally:
        for e in engines:
            e.dispose()


def test_command_line_accounts_and_migrate_only_on_postgresql(pg_url, tmp_path, monkeypatch):
    from qingyuan.cli import main
    from qingyuan.web.db import current_revision

    monkeypatch.setenv("QINGYUAN_OUTPUTS", str(tmp_path))  # the secret key goes here
    monkeypatch.setenv("QINGYUAN_PASSWORD", PASSWORD)
    run = CliRunner().invoke
    out = run(main, ["web", "--outputs", str(tmp_path), "--database", pg_url, "--migrate-only"])
    assert out.exit_code == 0, out.output
    assert "at revision 0001" in out.output
    engine = sa.create_engine(pg_url)
    assert current_revision(engine) == "0001"
    assert (
        run(main, ["users", "add", "ops", "--role", "analyst", "--database", pg_url]).exit_code == 0
    )
    tok = run(main, ["users", "token", "ops", "--database", pg_url]).output.strip()
    assert tok.startswith("qy_")
    assert "ops\tanalyst\tactive" in run(main, ["users", "list", "--database", pg_url]).output
    with engine.connect() as con:
        acts = [a for (a,) in con.execute(sa.text("SELECT action FROM audit ORDER BY seq"))]
    engine.dispose()
    assert acts == ["users.add", "users.token"]
