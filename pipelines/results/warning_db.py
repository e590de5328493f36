"""Read-only access to the warning lifecycle database (``outputs/warnings/warnings.db``).

The database is written by :class:`pipelines.warnings.store.WarningStore` in WAL mode. Readers
open it with a ``file:...?mode=ro`` URI: a read never creates the file, never takes a write lock
and never changes it (SQLite may create the ``-shm`` / ``-wal`` side files a WAL reader needs).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pipelines.results.workspace import Workspace

__all__ = ["connect_ro", "db_files", "db_rows"]


def db_files(ws: Workspace) -> list[Path]:
    """Return the database and, when it holds anything, its write-ahead log.

    In WAL mode a commit may touch only the log, so the log is part of every cache key; an
    empty log (as a reader leaves it) is not, so that it does not count as a change.

    Parameters
    ----------
    ws : Workspace
        The workspace.

    Returns
    -------
    list of pathlib.Path
        The files whose signature keys the cached reads of the database.
    """
    db = ws.warnings_db
    wal = db.with_name(db.name + "-wal")
    try:
        return [db, wal] if wal.stat().st_size > 0 else [db]
    except OSError:
        return [db]


@contextmanager
def connect_ro(ws: Workspace) -> Iterator[sqlite3.Connection | None]:
    """Open the warning database read-only (None when it does not exist).

    Parameters
    ----------
    ws : Workspace
        The workspace.

    Yields
    ------
    sqlite3.Connection or None
        Rows as :class:`sqlite3.Row`; closed on exit.
    """
    db = ws.warnings_db
    if not db.is_file() or db.stat().st_size == 0:
        yield None
        return
    con = sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True, timeout=10)
    con.row_factory = sqlite3.Row
    try:
        yield con
    finally:
        con.close()


def db_rows(ws: Workspace, sql: str, args: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
    """Rows of a query as dicts (empty without a database or without the table).

    Parameters
    ----------
    ws : Workspace
        The workspace.
    sql : str
        A SELECT statement.
    args : tuple
        Its parameters.

    Returns
    -------
    list of dict
        One dict per row.
    """
    with connect_ro(ws) as con:
        if con is None:
            return []
        try:
            return [dict(r) for r in con.execute(sql, args)]
        except sqlite3.OperationalError as exc:  # an older database without the table
            if "no such table" in str(exc):
                return []
            raise
