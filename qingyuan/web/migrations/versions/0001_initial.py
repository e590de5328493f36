"""The first schema: users, sessions, API tokens, login failures, annotations, audit.

The schema the application created before it had migrations (``create_all``), frozen here:
an ``app.db`` made by that code is recognised and stamped with this revision
(:func:`qingyuan.web.db.migrate`). The audit table is append-only in the database: triggers
refuse UPDATE and DELETE (SQLite) and UPDATE, DELETE and TRUNCATE (PostgreSQL).

Revision ID: 0001
Revises:
Create Date: 2026-05-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

SQLITE_TRIGGERS = [
    "CREATE TRIGGER IF NOT EXISTS audit_append_only_u BEFORE UPDATE ON audit "
    "BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END",
    "CREATE TRIGGER IF NOT EXISTS audit_append_only_d BEFORE DELETE ON audit "
    "BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END",
]
PG_TRIGGERS = [
    "CREATE OR REPLACE FUNCTION qy_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS "
    "$$ BEGIN RAISE EXCEPTION 'audit log is append-only'; END $$",
    "DROP TRIGGER IF EXISTS audit_append_only ON audit",
    "CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit "
    "FOR EACH STATEMENT EXECUTE FUNCTION qy_audit_append_only()",
]


def tables(meta: sa.MetaData) -> sa.MetaData:
    """Add the tables of this revision to ``meta`` (frozen: never edit, add a revision)."""
    tz = sa.DateTime(timezone=True)
    sa.Table(
        "users",
        meta,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("display_name", sa.String(128), nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("password_hash", sa.String(256), nullable=False),
        sa.Column("disabled", sa.Boolean, nullable=False),
        sa.Column("created", tz, nullable=False),
        sa.Column("password_changed", tz, nullable=False),
        sa.Index("ix_users_username", "username", unique=True),
    )
    fk = {"ondelete": "CASCADE"}
    sa.Table(
        "sessions",
        meta,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", **fk), nullable=False),
        sa.Column("csrf", sa.String(64), nullable=False),
        sa.Column("created", tz, nullable=False),
        sa.Column("expires", tz, nullable=False),
        sa.Column("client", sa.String(64), nullable=False),
        sa.Index("ix_sessions_token_hash", "token_hash", unique=True),
    )
    sa.Table(
        "api_tokens",
        meta,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", **fk), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("created", tz, nullable=False),
        sa.Column("expires", tz, nullable=False),
        sa.Column("revoked", sa.Boolean, nullable=False),
        sa.Index("ix_api_tokens_token_hash", "token_hash", unique=True),
    )
    sa.Table(
        "login_failures",
        meta,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("client", sa.String(64), nullable=False),
        sa.Column("at", tz, nullable=False),
        sa.Index("ix_login_failures_username", "username"),
        sa.Index("ix_login_failures_client", "client"),
        sa.Index("ix_login_failures_at", "at"),
    )
    sa.Table(
        "annotations",
        meta,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("city", sa.String(64), nullable=False),
        sa.Column("warning_id", sa.Integer, nullable=False),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("at", tz, nullable=False),
        sa.Index("ix_annotations_warning_id", "warning_id"),
    )
    sa.Table(
        "audit",
        meta,
        sa.Column("seq", sa.Integer, primary_key=True),
        sa.Column("at", tz, nullable=False),
        sa.Column("username", sa.String(64), nullable=True),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("dataset", sa.String(64), nullable=False),
        sa.Column("target", sa.String(512), nullable=False),
        sa.Column("client", sa.String(64), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("detail", sa.JSON, nullable=False),
        sa.Index("ix_audit_at", "at"),
    )
    return meta


def triggers(connection: sa.Connection) -> None:
    """Create (or replace) the append-only triggers of the audit table."""
    ddl = PG_TRIGGERS if connection.dialect.name == "postgresql" else SQLITE_TRIGGERS
    for statement in ddl:
        connection.execute(sa.text(statement))


def upgrade() -> None:
    """Create the tables, their indexes and the audit triggers."""
    bind = op.get_bind()
    tables(sa.MetaData()).create_all(bind)
    triggers(bind)


def downgrade() -> None:
    """Drop everything of this revision (the audit log too: only for a throw-away database)."""
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_append_only ON audit")
        op.execute("DROP FUNCTION IF EXISTS qy_audit_append_only()")
    else:
        op.execute("DROP TRIGGER IF EXISTS audit_append_only_u")
        op.execute("DROP TRIGGER IF EXISTS audit_append_only_d")
    tables(sa.MetaData()).drop_all(bind)
