"""Read-only access to the warning lifecycle database (``outputs/warnings/warnings.db``).

The database is written by :class:`pipelines.warnings.store.WarningStore`: by default the SQLite
file of the workspace, or the server ``QINGYUAN_WARNINGS_DB`` names
(:func:`pipelines.warnings.db.resolve_url`). Readers never write and never migrate: a SQLite file
is opened with a ``file:...?mode=ro`` URI (a read never creates the file, never takes a write lock
and never changes it; SQLite may create the ``-shm`` / ``-wal`` side files a WAL reader needs); a
PostgreSQL database is read in a ``SET TRANSACTION READ ONLY`` transaction.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import URL

from pipelines.results.workspace import Workspace
from pipelines.warnings import db as wdb

__all__ = ["connect_ro", "db_files", "db_rows"]

#: Counters that change with every write of the store (the cache key of a server database).
_CHANGE_SQL = (
    "SELECT (SELECT MAX(seq) FROM audit), (SELECT MAX(seq) FROM ops_alerts), "
    "(SELECT COUNT(*) FROM outbox), (SELECT SUM(attempts) FROM outbox), "
    "(SELECT MAX(id) FROM pending)"
)


def _url(ws: Workspace) -> URL:
    return wdb.resolve_url(ws.warnings_db)


def db_files(ws: Workspace) -> list[Path | str]:
    """Return the database and, when it holds anything, its write-ahead log.

    In WAL mode a commit may touch only the log, so the log is part of every cache key; an
    empty log (as a reader leaves it) is not, so that it does not count as a change. A server
    database has no file: its entry is a string naming it and its change counters (the last
    audit and ops-alert rows, the outbox attempts, the last held decision), which every write of
    the store moves, so that it keys the cache the same way.

    Parameters
    ----------
    ws : Workspace
        The workspace.

    Returns
    -------
    list of pathlib.Path or str
        The files whose signature keys the cached reads of the database.
    """
    url = _url(ws)
    if url.get_backend_name() != "sqlite":
        try:
            with wdb.connect_ro(url) as con:
                marks = con.exec_driver_sql(_CHANGE_SQL).one()
        except sa_exc.DBAPIError as exc:
            marks = ("unavailable", type(exc.orig).__name__)
        return [f"{wdb.location(url)}#" + ",".join(map(str, marks))]
    db = Path(url.database or ws.warnings_db)
    wal = db.with_name(db.name + "-wal")
    try:
        return [db, wal] if wal.stat().st_size > 0 else [db]
    except OSError:
        return [db]


@contextmanager
def connect_ro(ws: Workspace) -> Iterator[Connection | None]:
    """Open the warning database read-only (None when a SQLite file does not exist).

    Parameters
    ----------
    ws : Workspace
        The workspace.

    Yields
    ------
    sqlalchemy.Connection or None
        In a read-only transaction; closed on exit.
    """
    url = _url(ws)
    if url.get_backend_name() == "sqlite":
        db = Path(url.database or "")
        if not db.is_file() or db.stat().st_size == 0:
            yield None
            return
    with wdb.connect_ro(url) as con:
        yield con


def db_rows(ws: Workspace, sql: str, args: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
    """Rows of a query as dicts (empty without a database or without the table).

    Parameters
    ----------
    ws : Workspace
        The workspace.
    sql : str
        A SELECT statement with ``?`` placeholders (run on either dialect).
    args : tuple
        Its parameters.

    Returns
    -------
    list of dict
        One dict per row (PostgreSQL's ``messages.rowid`` identity column left out).
    """
    with connect_ro(ws) as con:
        if con is None:
            return []
        url = con.engine.url
        try:
            rows = con.exec_driver_sql(wdb.driver_sql(url, sql), tuple(args)).mappings()
            return [{k: v for k, v in r.items() if k != "rowid"} for r in rows]
        except sa_exc.DBAPIError as exc:  # an older database without the table
            if wdb.dialect_of(url).missing_table(exc):
                return []
            raise
