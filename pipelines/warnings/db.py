r"""The warning lifecycle database: URL, engines, schema, migrations and the dialect differences.

Which database
--------------
The lifecycle store (:class:`pipelines.warnings.store.WarningStore`), the outbox
(:mod:`pipelines.warnings.outbox`) and the read-only reader (:mod:`pipelines.results.warning_db`)
take a *target*: a file path or a SQLAlchemy URL.

- A URL (``sqlite:///...``, ``postgresql+psycopg://user:pw@host:5432/db``) is used as given.
- A path (what the callers derive from the outputs folder, ``<outputs>/warnings/warnings.db``)
  means the embedded default, ``sqlite:///<path>``, unless the environment variable
  ``QINGYUAN_WARNINGS_DB`` holds a URL: then every process of the deployment (jobs, flows, web)
  uses that database instead ("server mode", e.g. PostgreSQL shared by several hosts).

There is no config-file key: the city files (``configs/warnings/*.yml``) describe a city, not a
deployment, so the database is chosen by the environment, as ``QINGYUAN_WEB_DB`` chooses the web
application's.

Guarantees on both dialects
---------------------------
Every write that decides (``apply``, ``hold``, confirming or rejecting a held decision) is one
transaction, serialised per city: SQLite ``BEGIN IMMEDIATE`` (one writer per file);
PostgreSQL a transaction that first takes ``pg_advisory_xact_lock`` on a key derived from the
city, so that two cycles of the same city never interleave (other cities proceed). The audit
table is append-only (SQLite triggers; a PostgreSQL trigger function refusing ``UPDATE``,
``DELETE`` and ``TRUNCATE``) and hash-chained per city (each row carries the hash of the city's
previous row, :mod:`pipelines.warnings.audit_chain`; the city lock makes that row well defined);
the unique partial index ``one_active_per_area`` allows one active
warning per area. PostgreSQL has no implicit ``rowid``: ``messages``, the one table read in
insertion order (``ORDER BY sent, rowid``), has an identity column of that name there, so the same
queries run on both. All of this lives in :class:`Dialect` (below); the rest of the code has one
path.

Schema and migrations
---------------------
The schema is :data:`metadata`; Alembic revisions live in :mod:`pipelines.warnings.migrations`
(version table :data:`VERSION_TABLE`). :func:`ensure_schema` (called when a store opens) does one
cheap query when the database is already at :data:`HEAD`; otherwise, holding the migration lock,
it creates the schema (``upgrade head``) or, for a file made before migrations existed (tables but
no version table), creates only what is missing, keeps every row, stamps it ``0001`` and runs
the later revisions (``0002`` chains the existing audit rows). Readers never
migrate: :func:`connect_ro` opens SQLite files with ``mode=ro`` and PostgreSQL in a
``READ ONLY`` transaction.

New revisions (from the checkout)::

    .venv/bin/alembic -c pipelines/warnings/migrations/alembic.ini revision -m "..." \
        -x url=sqlite:///outputs/warnings/warnings.db
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    Column,
    Connection,
    Engine,
    Float,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
    UniqueConstraint,
    create_engine,
    event,
    inspect,
    text,
)
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import NullPool

__all__ = [
    "ENV_VAR",
    "HEAD",
    "VERSION_TABLE",
    "Dialect",
    "WarningDatabaseError",
    "connect_ro",
    "database_exists",
    "dialect_of",
    "driver_sql",
    "engine_for",
    "ensure_schema",
    "location",
    "metadata",
    "resolve_url",
    "write_transaction",
]

#: Environment variable naming the deployment's warning database (a SQLAlchemy URL).
ENV_VAR = "QINGYUAN_WARNINGS_DB"
#: Alembic version table (not ``alembic_version``: the database may be shared with other schemas).
VERSION_TABLE = "warnings_alembic_version"
#: Newest Alembic revision (checked against the scripts by the tests).
HEAD = "0002"

MIGRATIONS = Path(__file__).with_name("migrations")


class WarningDatabaseError(RuntimeError):
    """The warning database failed or went away during an operation (nothing was committed)."""


# ---------------------------------------------------------------------------------------- schema
metadata = MetaData()

_AUTO = {"sqlite_autoincrement": True}

Table(
    "warnings",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("city", Text, nullable=False),
    Column("area", Text, nullable=False),
    Column("level", Text, nullable=False),
    Column("status", Text, CheckConstraint("status IN ('active', 'lifted')"), nullable=False),
    Column("onset", Text),
    Column("expires", Text),
    Column("first_issued", Text, nullable=False),
    Column("last_updated", Text, nullable=False),
    Column("version", Integer, nullable=False),
    Column("last_identifier", Text, nullable=False),
    Column("last_sent", Text, nullable=False),
    Index(
        "one_active_per_area",
        "city",
        "area",
        unique=True,
        sqlite_where=text("status = 'active'"),
        postgresql_where=text("status = 'active'"),
    ),
    **_AUTO,
)
Table(
    "decisions",
    metadata,
    Column("city", Text, nullable=False),
    Column("area", Text, nullable=False),
    Column("issue_time", Text, nullable=False),
    Column("action", Text, nullable=False),
    Column("warning_id", Integer),
    Column("identifier", Text),
    Column("decision", Text, nullable=False),
    PrimaryKeyConstraint("city", "area", "issue_time"),
)
Table(
    "audit",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("at", Text, nullable=False),
    Column("city", Text, nullable=False),
    Column("area", Text, nullable=False),
    Column("issue_time", Text, nullable=False),
    Column("warning_id", Integer),
    Column("action", Text, nullable=False),
    Column("from_level", Text),
    Column("to_level", Text),
    Column("why", Text),
    Column("provenance", Text, nullable=False),
    Column("decision", Text, nullable=False),
    # the hash chain of each city's rows (pipelines.warnings.audit_chain; revision 0002)
    Column("prev_hash", Text),
    Column("hash", Text),
    Index("audit_chain", "city", "seq"),
    **_AUTO,
)
Table(
    "messages",
    metadata,
    Column("identifier", Text, primary_key=True),
    Column("warning_id", Integer, nullable=False),
    Column("city", Text, nullable=False),
    Column("area", Text, nullable=False),
    Column("msg_type", Text, nullable=False),
    Column("action", Text, nullable=False),
    Column("sent", Text, nullable=False),
    Column("refs", Text),
    Column("cap_xml", Text, nullable=False),
    Column("json", Text, nullable=False),
)
Table(
    "outbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("identifier", Text, nullable=False),
    Column("url", Text, nullable=False),
    Column("format", Text, nullable=False),
    Column(
        "status",
        Text,
        CheckConstraint("status IN ('pending', 'delivered', 'dead')"),
        nullable=False,
        server_default=text("'pending'"),
    ),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("next_attempt_at", Text, nullable=False),
    Column("last_error", Text),
    Column("delivered_at", Text),
    Column("timeout_s", Float, nullable=False, server_default=text("10")),
    UniqueConstraint("identifier", "url", "format"),
    **_AUTO,
)
Table(
    "ops_alerts",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("at", Text, nullable=False),
    Column("city", Text, nullable=False),
    Column("issue_time", Text),
    Column("kind", Text, nullable=False),
    Column("message", Text, nullable=False),
    **_AUTO,
)
Table(
    "pending",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("city", Text, nullable=False),
    Column("area", Text, nullable=False),
    Column("issue_time", Text, nullable=False),
    Column("created", Text, nullable=False),
    Column("proposed_action", Text, nullable=False),
    Column("proposed_level", Text),
    Column("from_level", Text),
    Column("proposed_onset", Text),
    Column("proposed_expires", Text),
    Column("why", Text),
    Column("cap_status", Text),
    Column("decision", Text, nullable=False),
    Column("provenance", Text, nullable=False),
    Column(
        "status",
        Text,
        CheckConstraint("status IN ('pending', 'confirmed', 'rejected', 'superseded')"),
        nullable=False,
        server_default=text("'pending'"),
    ),
    Column("decided_by", Text),
    Column("decided_at", Text),
    Column("note", Text),
    Column("identifier", Text),
    UniqueConstraint("city", "area", "issue_time"),
    Index("pending_by_status", "city", "status"),
    **_AUTO,
)

#: The tables a store needs (a database missing one is completed on open).
TABLES = frozenset(metadata.tables)


# ---------------------------------------------------------------------------------------- dialects
class Dialect:
    """What differs between the embedded SQLite file and a PostgreSQL server (SQLite here)."""

    name = "sqlite"

    def configure(self, engine: Engine, *, read_only: bool) -> None:
        """Install the connection hooks of an engine (SQLite: WAL, our own ``BEGIN``)."""

        @event.listens_for(engine, "connect")
        def _connect(dbapi_con: Any, _record: Any) -> None:
            dbapi_con.isolation_level = None  # the driver issues no BEGIN: the hook below does
            if not read_only:
                dbapi_con.execute("PRAGMA journal_mode=WAL")
                dbapi_con.execute("PRAGMA foreign_keys=ON")

        @event.listens_for(engine, "begin")
        def _begin(con: Connection) -> None:
            mode = "IMMEDIATE" if con.get_execution_options().get("qy_write") else "DEFERRED"
            con.exec_driver_sql(f"BEGIN {mode}")

    def engine_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of :func:`sqlalchemy.create_engine` (a file: no pool, 30-s busy wait)."""
        return {"poolclass": NullPool, "connect_args": {"timeout": 30}}

    def insert_id(self, con: Connection, sql: str, params: dict[str, Any]) -> int:
        """Run an ``INSERT`` and return the new row's ``id`` (SQLite: the cursor's rowid).

        ``RETURNING`` is not used on SQLite: a process may load an older libsqlite3 (bundled by
        a binary wheel) than the one the interpreter was built with.
        """
        return int(con.execute(text(sql), params).lastrowid)

    def lock_city(self, con: Connection, city: str) -> None:
        """Serialise the writers of one city (SQLite: ``BEGIN IMMEDIATE`` already did)."""

    def lock_migrations(self, con: Connection) -> None:
        """Serialise concurrent migrations (SQLite: ``BEGIN IMMEDIATE`` already did)."""

    def begin_read_only(self, con: Connection) -> None:
        """Make the open transaction read-only (SQLite: the file is opened ``mode=ro``)."""

    def create_extras(self, con: Connection) -> None:
        """Create the append-only triggers of ``audit`` (idempotent)."""
        for op, what in (("u", "UPDATE"), ("d", "DELETE")):
            con.exec_driver_sql(
                f"CREATE TRIGGER IF NOT EXISTS audit_append_only_{op} BEFORE {what} ON audit "
                "BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END"
            )

    @contextmanager
    def audit_writable(self, con: Connection) -> Iterator[None]:
        """Let the open transaction ``UPDATE`` audit rows (a migration only).

        SQLite: the update trigger is dropped, then created again.
        """
        con.exec_driver_sql("DROP TRIGGER IF EXISTS audit_append_only_u")
        yield
        self.create_extras(con)

    def audit_sequence(self, con: Connection) -> int | None:
        """Return the highest audit ``seq`` ever assigned, when the database keeps it exactly.

        SQLite ``AUTOINCREMENT`` keeps it in ``sqlite_sequence`` (a rolled-back insert takes
        nothing), so rows missing at the end of the table show; None when unknown.
        """
        try:
            row = con.exec_driver_sql(
                "SELECT seq FROM sqlite_sequence WHERE name = 'audit'"
            ).first()
        except sa_exc.OperationalError:  # no AUTOINCREMENT table at all
            return None
        return None if row is None else int(row[0])

    def missing_table(self, exc: sa_exc.DBAPIError) -> bool:
        """Tell whether a failed query named a table the database does not have."""
        return "no such table" in str(exc.orig)

    def read_only_url(self, url: URL) -> str:
        """Return the URL a reader opens (SQLite: ``file:...?mode=ro``, never creates the file)."""
        path = Path(url.database or "").resolve()
        return f"sqlite:///{path.as_uri()}?mode=ro&uri=true"


class PostgresDialect(Dialect):
    """PostgreSQL (psycopg 3): advisory locks, a trigger function, an identity ``rowid``."""

    name = "postgresql"

    def configure(self, engine: Engine, *, read_only: bool) -> None:
        """Nothing to install: psycopg runs each ``Connection`` transaction as is."""

    def engine_kwargs(self) -> dict[str, Any]:
        """Return a small pool whose connections are checked before use (a restarted server)."""
        return {"pool_pre_ping": True, "pool_size": 5, "max_overflow": 10}

    def insert_id(self, con: Connection, sql: str, params: dict[str, Any]) -> int:
        """Run an ``INSERT ... RETURNING id`` and return the new row's ``id``."""
        return int(con.execute(text(sql + " RETURNING id"), params).scalar_one())

    def lock_city(self, con: Connection, city: str) -> None:
        """Take the transaction-scoped advisory lock of the city (released at commit/rollback)."""
        con.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _lock_key("city:" + city)})

    def lock_migrations(self, con: Connection) -> None:
        """Take the advisory lock of the schema for the migration transaction."""
        con.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _lock_key("schema")})

    def begin_read_only(self, con: Connection) -> None:
        """``SET TRANSACTION READ ONLY`` (the first statement of the transaction)."""
        con.exec_driver_sql("SET TRANSACTION READ ONLY")

    def create_extras(self, con: Connection) -> None:
        """Append-only trigger function on ``audit``; identity ``rowid`` of ``messages``."""
        con.exec_driver_sql(
            "CREATE OR REPLACE FUNCTION audit_append_only() RETURNS trigger "
            "LANGUAGE plpgsql AS $$ BEGIN "
            "RAISE EXCEPTION 'audit log is append-only' USING ERRCODE = 'restrict_violation'; "
            "END $$"
        )
        con.exec_driver_sql("DROP TRIGGER IF EXISTS audit_append_only ON audit")
        con.exec_driver_sql(
            "CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit "
            "FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only()"
        )
        con.exec_driver_sql(
            "ALTER TABLE messages ADD COLUMN IF NOT EXISTS rowid BIGINT GENERATED ALWAYS AS IDENTITY"
        )

    @contextmanager
    def audit_writable(self, con: Connection) -> Iterator[None]:
        """Let the open transaction ``UPDATE`` audit rows (a migration only).

        The trigger is disabled, then enabled again, inside the transaction.
        """
        con.exec_driver_sql("ALTER TABLE audit DISABLE TRIGGER audit_append_only")
        yield
        con.exec_driver_sql("ALTER TABLE audit ENABLE TRIGGER audit_append_only")

    def audit_sequence(self, con: Connection) -> None:
        """Return None: a rolled-back insert loses its sequence value, so gaps are normal."""
        return None

    def missing_table(self, exc: sa_exc.DBAPIError) -> bool:
        """Tell whether a failed query named a missing table (SQLSTATE 42P01)."""
        return getattr(exc.orig, "sqlstate", None) == "42P01"

    def read_only_url(self, url: URL) -> str:
        """Return the same server URL (read-only is a property of the transaction)."""
        return url.render_as_string(hide_password=False)


_DIALECTS: dict[str, Dialect] = {"sqlite": Dialect(), "postgresql": PostgresDialect()}


def _lock_key(name: str) -> int:
    """Return a stable signed 64-bit advisory-lock key for ``name``."""
    digest = hashlib.blake2b(f"qingyuan.warnings:{name}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def dialect_of(url: str | URL) -> Dialect:
    """Return the :class:`Dialect` of a URL.

    Raises
    ------
    ValueError
        Neither SQLite nor PostgreSQL.
    """
    name = make_url(url).get_backend_name()
    if name not in _DIALECTS:
        raise ValueError(f"warning database: unsupported backend {name!r} (sqlite or postgresql)")
    return _DIALECTS[name]


# ---------------------------------------------------------------------------------------- URLs
def resolve_url(target: str | Path) -> URL:
    """Return the URL of a target (a URL as given; a path: ``QINGYUAN_WARNINGS_DB`` or the file).

    Parameters
    ----------
    target : str or pathlib.Path
        A SQLAlchemy URL (``sqlite:///...``, ``postgresql+psycopg://...``) or a SQLite file.

    Returns
    -------
    sqlalchemy.engine.URL
        The database URL.
    """
    if isinstance(target, str) and "://" in target:
        return make_url(target)
    env = os.environ.get(ENV_VAR, "").strip()
    if env:
        return make_url(env)
    return make_url(f"sqlite:///{Path(target)}")


def location(url: URL) -> str:
    """Return what to show of a database: the SQLite file path, or the URL without password."""
    if url.get_backend_name() == "sqlite":
        return str(url.database)
    return url.render_as_string(hide_password=True)


def database_exists(target: str | Path) -> bool:
    """Tell whether a target names a database to open: an existing SQLite file, or any server.

    Parameters
    ----------
    target : str or pathlib.Path
        As :func:`resolve_url` takes it.

    Returns
    -------
    bool
        False only for a SQLite file that does not exist (a server is reached when opened).
    """
    url = resolve_url(target)
    return url.get_backend_name() != "sqlite" or Path(url.database or "").is_file()


_ENGINES: dict[tuple[str, bool], Engine] = {}
_LOCK = threading.Lock()


def engine_for(url: URL, *, read_only: bool = False) -> Engine:
    """Return the process-wide engine of a URL (created once; read-only engines apart).

    Parameters
    ----------
    url : sqlalchemy.engine.URL
        The database.
    read_only : bool
        SQLite: open the file ``mode=ro`` (never created, never written).
    """
    key = (url.render_as_string(hide_password=False), read_only)
    with _LOCK:
        engine = _ENGINES.get(key)
        if engine is None:
            d = dialect_of(url)
            engine = create_engine(
                d.read_only_url(url) if read_only else key[0], **d.engine_kwargs()
            )
            d.configure(engine, read_only=read_only)
            _ENGINES[key] = engine
    return engine


# ---------------------------------------------------------------------------------------- transactions
@contextmanager
def write_transaction(engine: Engine, *, city: str | None = None) -> Iterator[Connection]:
    """Open one write transaction, serialised with the other writers (of ``city``).

    SQLite: ``BEGIN IMMEDIATE``. PostgreSQL: a transaction whose first statement takes the
    advisory lock of ``city`` (none without a city; lock later with :meth:`Dialect.lock_city`).
    Committed on normal exit, rolled back on an exception. A lost connection raises
    :class:`WarningDatabaseError` (nothing of the transaction is committed).

    Parameters
    ----------
    engine : sqlalchemy.Engine
        From :func:`engine_for`.
    city : str, optional
        City whose writers are serialised.
    """
    d = dialect_of(engine.url)
    try:
        with engine.connect().execution_options(qy_write=True) as con, con.begin():
            if city is not None:
                d.lock_city(con, city)
            yield con
    except sa_exc.DBAPIError as exc:
        if isinstance(exc, sa_exc.OperationalError) or exc.connection_invalidated:
            raise WarningDatabaseError(
                f"warning database {location(engine.url)} failed during a write; "
                f"nothing of it was committed: {exc.orig}"
            ) from exc
        raise


@contextmanager
def connect_ro(url: URL) -> Iterator[Connection]:
    """Open a read-only connection (SQLite ``mode=ro``; PostgreSQL ``READ ONLY`` transaction).

    Parameters
    ----------
    url : sqlalchemy.engine.URL
        The database (a SQLite file must exist).
    """
    engine = engine_for(url, read_only=True)
    with engine.connect() as con:
        con.begin()
        dialect_of(url).begin_read_only(con)
        yield con


def driver_sql(url: URL, sql: str) -> str:
    """Return ``sql`` written with ``?`` placeholders in the driver's paramstyle."""
    if dialect_of(url).name == "sqlite":
        return sql
    return sql.replace("%", "%%").replace("?", "%s")


# ---------------------------------------------------------------------------------------- migrations
def create_schema(con: Connection) -> None:
    """Create every missing table, index and trigger (idempotent; the initial revision)."""
    metadata.create_all(con, checkfirst=True)
    dialect_of(con.engine.url).create_extras(con)


def _alembic_config(con: Connection) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = con
    return cfg


def _state(con: Connection) -> tuple[str | None, set[str]]:
    """Return the stored revision (None without a version table) and the table names."""
    names = set(inspect(con).get_table_names())
    if VERSION_TABLE not in names:
        return None, names
    row = con.exec_driver_sql(f"SELECT version_num FROM {VERSION_TABLE}").first()
    return (row[0] if row else None), names


def ensure_schema(url: URL) -> None:
    """Bring the database to :data:`HEAD` (fast when it is there already).

    A database at head with every table costs one look at the catalogue (a few ms). Otherwise, under the migration lock: a new database gets ``upgrade head``; a file made
    before migrations (tables, no version table) gets the missing tables and indexes, its rows
    kept, is stamped ``0001`` and upgraded from there; a database at head missing a table gets
    it back.

    Parameters
    ----------
    url : sqlalchemy.engine.URL
        The database (a SQLite file and its folder are created when missing).
    """
    if url.get_backend_name() == "sqlite" and url.database:
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    engine = engine_for(url)
    try:
        with engine.connect() as con:
            rev, names = _state(con)
        if rev == HEAD and TABLES <= names:
            return
        from alembic import command

        with write_transaction(engine) as con:
            dialect_of(url).lock_migrations(con)
            rev, names = _state(con)  # again, under the lock
            cfg = _alembic_config(con)
            if rev is None and names & TABLES:  # made before migrations: keep it, stamp it
                create_schema(con)
                command.stamp(cfg, "0001")  # what create_schema completed; then the later ones
                command.upgrade(cfg, "head")
            elif rev == HEAD:  # a table dropped behind our back
                create_schema(con)
            else:
                command.upgrade(cfg, "head")
    except sa_exc.OperationalError as exc:
        raise WarningDatabaseError(
            f"warning database {location(url)} cannot be opened: {exc.orig}"
        ) from exc
