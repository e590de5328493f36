"""The hash chain of the warning audit log: linking a new row, chaining old rows, verifying.

Scope: one chain per city. Each audit row carries ``prev_hash`` (the ``hash`` of the previous
row of the same city, in ``seq`` order; :data:`features.integrity.GENESIS` for the city's
first row) and ``hash = record_hash(prev_hash, content)``, where the content is the row's
columns :data:`CONTENT` (``seq`` is not hashed: it is assigned by the insert). Every writer of
audit rows holds the city's lock (:func:`pipelines.warnings.db.write_transaction` /
:meth:`~pipelines.warnings.db.Dialect.lock_city`: SQLite ``BEGIN IMMEDIATE``, PostgreSQL the
city's advisory lock), so "the city's last row" read inside the write transaction is the row
the new one follows, also with several processes on one PostgreSQL server. A single global
chain would need a global lock, serialising every city: there is none, by design.

Revision 0002 (:func:`chain_unchained`) chains the rows written before the chain existed, in
``seq`` order. :func:`verify_audit` reads the chains back read-only.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import groupby
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, inspect, text
from sqlalchemy.engine import URL

from features.integrity import GENESIS, ChainRecord, ChainStatus, record_hash, verify_chain
from pipelines.warnings.db import connect_ro, dialect_of, location, resolve_url

__all__ = ["CONTENT", "chain_unchained", "chained_row", "verify_audit"]

#: The hashed columns of an audit row, in table order (``warning_id`` an integer, the rest text).
CONTENT = (
    "at",
    "city",
    "area",
    "issue_time",
    "warning_id",
    "action",
    "from_level",
    "to_level",
    "why",
    "provenance",
    "decision",
)
_INTEGER = frozenset({"warning_id"})
_SELECT = "SELECT seq, " + ", ".join(CONTENT) + ", prev_hash, hash FROM audit"


def _stored(record: dict[str, Any]) -> dict[str, Any]:
    """Return the content as the database gives it back (integers and text; None kept)."""
    out = {}
    for name in CONTENT:
        v = record[name]
        out[name] = None if v is None else int(v) if name in _INTEGER else str(v)
    return out


def _last_hash(con: Connection, city: str) -> str:
    row = con.execute(
        text("SELECT hash FROM audit WHERE city = :city ORDER BY seq DESC LIMIT 1"),
        {"city": city},
    ).first()
    return GENESIS if row is None or row[0] is None else str(row[0])


def chained_row(con: Connection, record: dict[str, Any]) -> dict[str, Any]:
    """Return an audit row to insert: its content as stored, ``prev_hash`` and ``hash``.

    Call inside the write transaction that inserts it, holding the city's lock.

    Parameters
    ----------
    con : sqlalchemy.Connection
        The write transaction.
    record : dict
        Every column of :data:`CONTENT`.

    Returns
    -------
    dict
        The columns of :data:`CONTENT` (integers and text, as read back), ``prev_hash`` (the
        hash of the city's last row, or the genesis) and ``hash``.
    """
    row = _stored(record)
    prev = _last_hash(con, row["city"])
    return {**row, "prev_hash": prev, "hash": record_hash(prev, row)}


def chain_unchained(con: Connection) -> int:
    """Give every audit row without a hash its link, city by city in ``seq`` order.

    Used by revision 0002 on rows written before the chain; rows already chained are kept and
    followed. The append-only trigger is lifted for this transaction only
    (:meth:`~pipelines.warnings.db.Dialect.audit_writable`).

    Parameters
    ----------
    con : sqlalchemy.Connection
        The migration transaction.

    Returns
    -------
    int
        Rows chained.
    """
    if con.execute(text("SELECT 1 FROM audit WHERE hash IS NULL LIMIT 1")).first() is None:
        return 0
    rows = con.execute(text(_SELECT + " ORDER BY city, seq")).mappings().all()
    n = 0
    with dialect_of(con.engine.url).audit_writable(con):
        for _, group in groupby(rows, key=lambda r: r["city"]):
            prev = GENESIS
            for r in group:
                if r["hash"] is None:
                    h = record_hash(prev, _stored(dict(r)))
                    con.execute(
                        text("UPDATE audit SET prev_hash = :p, hash = :h WHERE seq = :seq"),
                        {"p": prev, "h": h, "seq": r["seq"]},
                    )
                    prev, n = h, n + 1
                else:
                    prev = r["hash"]
    return n


def _records(rows: Iterator[Any]) -> Iterator[ChainRecord]:
    for r in rows:
        yield ChainRecord(
            key=f"audit seq {r['seq']}",
            content=_stored(dict(r)),
            prev_hash=r["prev_hash"],
            hash=r["hash"],
        )


def verify_audit(target: str | URL) -> list[ChainStatus]:
    """Verify the audit chain of every city of a warning database, read-only.

    Parameters
    ----------
    target : str or sqlalchemy.engine.URL
        The database: a URL, or a SQLite file path (``QINGYUAN_WARNINGS_DB`` names a server
        instead; :func:`pipelines.warnings.db.resolve_url`).

    Returns
    -------
    list of ChainStatus
        One per city (``warnings audit <city>``), in city order; an empty list when the SQLite
        file does not exist or has no audit table. A database not yet at revision 0002 gives one
        status with a ``problem`` (it is chained when a warning job next opens it). On SQLite,
        rows removed from the end of the table (the ``AUTOINCREMENT`` counter is past the last
        row) give one more ``problem`` (``warnings audit``, any city).
    """
    url = target if isinstance(target, URL) else resolve_url(target)
    where = location(url)
    if url.get_backend_name() == "sqlite" and not Path(url.database or "").is_file():
        return []
    with connect_ro(url) as con:
        insp = inspect(con)
        if "audit" not in insp.get_table_names():
            return []
        if "hash" not in {c["name"] for c in insp.get_columns("audit")}:
            problem = (
                "the audit log is not chained yet (schema before revision 0002): it is "
                "migrated and chained when a warning job next opens it"
            )
            return [ChainStatus("warnings audit", where, None, problem)]
        out = []
        rows = con.execution_options(stream_results=True).execute(
            text(_SELECT + " ORDER BY city, seq")
        )
        for city, group in groupby(rows.mappings(), key=lambda r: r["city"]):
            out.append(ChainStatus(f"warnings audit {city}", where, verify_chain(_records(group))))
        last = con.execute(text("SELECT MAX(seq) FROM audit")).scalar()
        assigned = dialect_of(url).audit_sequence(con)
        if assigned is not None and (last or 0) < assigned:
            gone = f"every row after seq {last}" if last else "every row"
            problem = (
                f"rows were removed from the end of the audit table: {gone} is missing "
                f"(seq {assigned} was assigned)"
            )
            out.append(ChainStatus("warnings audit", where, None, problem))
    return out
