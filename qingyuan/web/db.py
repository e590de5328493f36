"""The application database: users, sessions, API tokens, login failures, annotations, audit.

SQLAlchemy 2 models, the same on SQLite (default) and PostgreSQL. The schema is versioned with
Alembic (``qingyuan/web/migrations``, version table ``qingyuan_web_version``) and brought up to
date on every open. The audit table is append-only in the database itself: triggers refuse
UPDATE and DELETE on SQLite, UPDATE, DELETE and TRUNCATE on PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Text,
    create_engine,
    event,
    inspect,
    text,
)
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, sessionmaker

__all__ = [
    "VERSION_TABLE",
    "Annotation",
    "ApiToken",
    "AuditEntry",
    "Base",
    "LoginFailure",
    "SessionRow",
    "User",
    "current_revision",
    "head_revision",
    "migrate",
    "open_database",
    "utcnow",
]


def utcnow() -> dt.datetime:
    """Return the present, UTC, timezone-aware."""
    return dt.datetime.now(dt.UTC)


class Base(DeclarativeBase):
    """Declarative base of the application tables."""


class User(Base):
    """A person or client who logs in."""

    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    display_name: Mapped[str] = mapped_column(String(128), default="")
    role: Mapped[str] = mapped_column(String(32))
    password_hash: Mapped[str] = mapped_column(String(256))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    password_changed: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class SessionRow(Base):
    """A browser login (the cookie holds the token; only its hash is stored)."""

    __tablename__ = "sessions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    csrf: Mapped[str] = mapped_column(String(64))
    created: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    client: Mapped[str] = mapped_column(String(64), default="")


class ApiToken(Base):
    """A bearer token of an API client (only its hash is stored)."""

    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(64), default="")
    created: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)


class LoginFailure(Base):
    """A failed login (for rate limiting by user name and by client address)."""

    __tablename__ = "login_failures"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), index=True)
    client: Mapped[str] = mapped_column(String(64), index=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)


class Annotation(Base):
    """A note a decision maker or analyst attached to a warning."""

    __tablename__ = "annotations"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    city: Mapped[str] = mapped_column(String(64))
    warning_id: Mapped[int] = mapped_column(Integer, index=True)
    username: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class AuditEntry(Base):
    """Who read restricted data or changed something, what, when and from where (append-only)."""

    __tablename__ = "audit"
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    username: Mapped[str | None] = mapped_column(String(64), nullable=True)
    role: Mapped[str] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(64))  # read, login, login_failed, confirm, ...
    dataset: Mapped[str] = mapped_column(String(64), default="")
    target: Mapped[str] = mapped_column(String(512), default="")  # the path or object
    client: Mapped[str] = mapped_column(String(64), default="")
    outcome: Mapped[str] = mapped_column(String(16), default="ok")  # ok, denied, failed
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


VERSION_TABLE = "qingyuan_web_version"
"""Table holding the Alembic revision of the application database."""

_MIGRATIONS = Path(__file__).resolve().parent / "migrations"
_INITIAL = "0001"
_LOCK_KEY = 0x51_59_57_45_42  # pg_advisory_xact_lock key of the migrations ("QYWEB")


def _alembic_config(connection: Connection) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str:
    """Return the newest revision of the application database's migrations."""
    head = ScriptDirectory(str(_MIGRATIONS)).get_current_head()
    assert head is not None  # the folder has at least the initial revision
    return head


def current_revision(engine: Engine) -> str | None:
    """Return the revision a database is at (None: no migrations applied or stamped yet)."""
    with engine.connect() as con:
        return MigrationContext.configure(
            con, opts={"version_table": VERSION_TABLE}
        ).get_current_revision()


def migrate(engine: Engine) -> str:
    """Bring the database to the newest revision; return it.

    An empty database gets every revision. A database the application made before it had
    migrations (its tables, no version table) is completed like the old code did (missing
    tables and the audit triggers created, no row touched) and stamped with the initial
    revision; later revisions then apply. At the newest revision nothing is executed but one
    ``SELECT`` (an application role without DDL rights can open a migrated database). On
    PostgreSQL an advisory lock serialises concurrent starts (several web workers).

    Parameters
    ----------
    engine : sqlalchemy.engine.Engine
        The application database.

    Returns
    -------
    str
        The revision the database is at afterwards.
    """
    head = head_revision()
    if current_revision(engine) == head:
        return head
    with engine.begin() as con:
        if con.dialect.name == "postgresql":
            con.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
        cfg = _alembic_config(con)
        names = set(inspect(con).get_table_names())
        if VERSION_TABLE not in names and "users" in names:  # made before migrations existed
            initial = ScriptDirectory.from_config(cfg).get_revision(_INITIAL).module
            initial.tables(MetaData()).create_all(con, checkfirst=True)
            initial.triggers(con)
            command.stamp(cfg, _INITIAL)
        command.upgrade(cfg, "head")
    return head


def open_database(url: str) -> tuple[Engine, sessionmaker]:
    """Connect, apply the migrations (:func:`migrate`); return engine and sessions.

    Parameters
    ----------
    url : str
        SQLAlchemy URL (``sqlite:///path`` or ``postgresql+psycopg://user@host:port/db``).

    Returns
    -------
    engine : sqlalchemy.engine.Engine
    sessions : sqlalchemy.orm.sessionmaker
        Sessions that keep their objects usable after commit.
    """
    kwargs: dict[str, Any] = {}
    if url.startswith("sqlite"):
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
    engine = create_engine(url, pool_pre_ping=True, **kwargs)
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_con, _record) -> None:  # noqa: ANN001 - DB-API connection
            cur = dbapi_con.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

    migrate(engine)
    return engine, sessionmaker(engine, expire_on_commit=False)
