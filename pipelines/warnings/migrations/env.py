"""Alembic environment of the warning lifecycle database.

:func:`pipelines.warnings.db.ensure_schema` hands an open connection, already inside its
migration transaction, in ``config.attributes["connection"]``; the ``alembic`` command line (new
revisions, from the checkout) gives ``-x url=...`` instead.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from pipelines.warnings.db import VERSION_TABLE, metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        version_table=VERSION_TABLE,
        render_as_batch=connection.dialect.name == "sqlite",  # ALTER TABLE on SQLite
    )
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    from sqlalchemy import create_engine

    url = context.get_x_argument(as_dictionary=True).get("url")
    if not url:
        raise SystemExit(
            "give the database: alembic ... -x url=sqlite:///outputs/warnings/warnings.db"
        )
    engine = create_engine(url)
    with engine.begin() as con:
        _run(con)
    engine.dispose()
