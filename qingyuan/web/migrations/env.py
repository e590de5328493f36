"""Alembic environment of the application database.

:func:`qingyuan.web.db.migrate` hands an open connection in ``config.attributes["connection"]``;
the ``alembic`` command line (new revisions, from the checkout) gives ``-x url=...`` instead.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from qingyuan.web.db import VERSION_TABLE, Base


def _run(connection) -> None:  # noqa: ANN001 - a SQLAlchemy Connection
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        version_table=VERSION_TABLE,
        render_as_batch=connection.dialect.name == "sqlite",  # ALTER TABLE on SQLite
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    url = context.get_x_argument(as_dictionary=True).get("url")
    if not url:
        raise SystemExit("give the database: alembic ... -x url=sqlite:///outputs/web/app.db")
    engine = create_engine(url)
    with engine.begin() as con:
        _run(con)
    engine.dispose()
