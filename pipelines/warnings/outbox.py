"""Webhook delivery from the persisted outbox, with retries and exponential backoff.

Messages are queued in the ``outbox`` table of the warning database in the same transaction that
creates them (:mod:`pipelines.warnings.store`), so a message exists for delivery exactly when the
warning changed. :func:`deliver_due` POSTs every due row; a receiver that is down, slow or
answers with an error keeps the row ``pending`` with its attempt count, last error and the time of
the next attempt (``backoff_s * 2**(attempts - 1)``); after ``max_attempts`` it is ``dead`` but
still listed by :func:`outbox_status`. Nothing is ever deleted.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

__all__ = ["deliver_due", "outbox_status"]

_CONTENT = {"cap": "application/cap+xml; charset=utf-8", "json": "application/json; charset=utf-8"}


def _connect(db: Path) -> sqlite3.Connection:
    con = sqlite3.connect(db, timeout=30, isolation_level=None)
    con.row_factory = sqlite3.Row
    return con


def deliver_due(
    db: Path,
    now: dt.datetime | None = None,
    max_attempts: int = 8,
    backoff_s: float = 30.0,
) -> dict[str, int]:
    """Try every pending outbox row whose next attempt is due.

    Parameters
    ----------
    db : pathlib.Path
        The warning database.
    now : datetime.datetime, optional
        Current time (UTC); tests pass a later time to skip the wait.
    max_attempts : int
        Attempts before a row is marked ``dead``.
    backoff_s : float
        Delay before the first retry [s]; doubles with every failure.

    Returns
    -------
    dict
        Counts of ``delivered``, ``failed`` (will be retried) and ``dead`` rows in this pass.
    """
    now = now or dt.datetime.now(dt.UTC)
    counts = {"delivered": 0, "failed": 0, "dead": 0}
    con = _connect(db)
    try:
        rows = con.execute(
            "SELECT o.*, m.cap_xml, m.json FROM outbox o JOIN messages m USING (identifier) "
            "WHERE o.status = 'pending' AND o.next_attempt_at <= ? ORDER BY o.id",
            (now.isoformat(),),
        ).fetchall()
        for row in rows:
            body = (row["cap_xml"] if row["format"] == "cap" else row["json"]).encode("utf-8")
            req = urllib.request.Request(
                row["url"],
                data=body,
                method="POST",
                headers={
                    "Content-Type": _CONTENT[row["format"]],
                    "X-Qingyuan-Identifier": row["identifier"],
                },
            )
            attempts = row["attempts"] + 1
            try:
                with urllib.request.urlopen(req, timeout=row["timeout_s"]) as resp:  # noqa: S310
                    ok, error = 200 <= resp.status < 300, f"HTTP {resp.status}"
            except urllib.error.HTTPError as exc:
                ok, error = False, f"HTTP {exc.code}"
            except (urllib.error.URLError, TimeoutError, OSError) as exc:
                ok, error = False, f"{type(exc).__name__}: {getattr(exc, 'reason', exc)}"
            if ok:
                con.execute(
                    "UPDATE outbox SET status='delivered', attempts=?, delivered_at=?, "
                    "last_error=NULL WHERE id=?",
                    (attempts, now.isoformat(), row["id"]),
                )
                counts["delivered"] += 1
            elif attempts >= max_attempts:
                con.execute(
                    "UPDATE outbox SET status='dead', attempts=?, last_error=? WHERE id=?",
                    (attempts, error, row["id"]),
                )
                counts["dead"] += 1
            else:
                wait = dt.timedelta(seconds=backoff_s * 2 ** (attempts - 1))
                con.execute(
                    "UPDATE outbox SET attempts=?, last_error=?, next_attempt_at=? WHERE id=?",
                    (attempts, error, (now + wait).isoformat(), row["id"]),
                )
                counts["failed"] += 1
    finally:
        con.close()
    return counts


def outbox_status(db: Path) -> dict[str, Any]:
    """Return counts by status and every undelivered row (for ``qingyuan warn --status``)."""
    con = _connect(db)
    try:
        counts = {
            r["status"]: r["n"]
            for r in con.execute("SELECT status, COUNT(*) AS n FROM outbox GROUP BY status")
        }
        waiting = [
            dict(r)
            for r in con.execute(
                "SELECT id, identifier, url, format, status, attempts, next_attempt_at, last_error "
                "FROM outbox WHERE status != 'delivered' ORDER BY id"
            )
        ]
    finally:
        con.close()
    return {"counts": counts, "undelivered": waiting}
