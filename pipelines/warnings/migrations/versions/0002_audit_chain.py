"""Hash-chain the audit log: columns ``prev_hash`` and ``hash``, index ``audit_chain``.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-10

Each audit row carries the hash of the previous row of its city
(:mod:`pipelines.warnings.audit_chain`). The rows already there are chained here, city by city in
``seq`` order, so that an old database verifies (``qingyuan audit verify``). Idempotent: a
column or index that exists (a schema created from today's tables) is kept.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from pipelines.warnings.audit_chain import chain_unchained

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the chain columns and index, then chain the rows without a hash."""
    con = op.get_bind()
    columns = {c["name"] for c in sa.inspect(con).get_columns("audit")}
    for name in ("prev_hash", "hash"):
        if name not in columns:
            op.add_column("audit", sa.Column(name, sa.Text()))
    if "audit_chain" not in {i["name"] for i in sa.inspect(con).get_indexes("audit")}:
        op.create_index("audit_chain", "audit", ["city", "seq"])
    chain_unchained(con)


def downgrade() -> None:
    """Refuse: the chain of the audit log is never dropped by a migration."""
    raise NotImplementedError("the audit chain cannot be downgraded")
