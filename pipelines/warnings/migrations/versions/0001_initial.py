"""The initial schema: the lifecycle tables as the store wrote them before migrations.

Revision ID: 0001
Revises:
Create Date: 2025-01-01

Tables ``warnings`` (with the unique partial index ``one_active_per_area``), ``decisions``,
``audit`` (append-only), ``messages``, ``outbox``, ``ops_alerts`` and ``pending``
(:data:`pipelines.warnings.db.metadata`), plus the dialect's extras
(:meth:`pipelines.warnings.db.Dialect.create_extras`). Idempotent: a file made before
migrations is completed and stamped with this revision.
"""

from __future__ import annotations

from alembic import op

from pipelines.warnings.db import create_schema

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create every table, index and trigger that is missing."""
    create_schema(op.get_bind())


def downgrade() -> None:
    """Refuse: the lifecycle (audit log included) is never dropped by a migration."""
    raise NotImplementedError("the initial warning schema cannot be downgraded")
