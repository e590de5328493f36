"""Webhook delivery from the persisted outbox, with retries and exponential backoff.

Messages are queued in the ``outbox`` table of the warning database in the same transaction that
creates them (:mod:`pipelines.warnings.store`), so a message exists for delivery exactly when the
warning changed. :func:`deliver_due` POSTs every due row; a receiver that is down, slow or
answers with an error keeps the row ``pending`` with its attempt count, last error and the time of
the next attempt (``backoff_s * 2**(attempts - 1)``); after ``max_attempts`` it is ``dead`` but
still listed by :func:`outbox_status`. Nothing is ever deleted.

The database is the lifecycle store's (a SQLite file or a server URL,
:func:`pipelines.warnings.db.resolve_url`). The due rows are read first; each attempt's outcome
is then committed on its own, so a pass that stops half-way keeps what it did, and no connection
is held while a receiver answers.
"""

from __future__ import annotations

import datetime as dt
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, text

from pipelines.warnings.db import engine_for, resolve_url, write_transaction

__all__ = ["deliver_due", "delivery_problem", "outbox_status"]

_CONTENT = {"cap": "application/cap+xml; charset=utf-8", "json": "application/json; charset=utf-8"}


def _engine(db: Path | str) -> Engine:
    return engine_for(resolve_url(db))


def delivery_problem(counts: dict[str, int] | None) -> str | None:
    """Return what an operator must hear about one delivery pass (:func:`deliver_due`), or None.

    Messages given up (``dead``) always; failures when nothing at all got through (the
    endpoints are down or misconfigured). A failure among deliveries that worked is retried
    quietly.
    """
    if not counts:
        return None
    ok, failed, dead = (int(counts.get(k, 0)) for k in ("delivered", "failed", "dead"))
    if dead:
        return (
            f"{dead} outbox message(s) given up after their last attempt ({ok} delivered, "
            f"{failed} to retry); see `qingyuan warn --status`"
        )
    if failed and not ok:
        return (
            f"every delivery failed ({failed} message(s), retried later by `qingyuan warn "
            "--deliver` or the next run); see `qingyuan warn --status`"
        )
    return None


def deliver_due(
    db: Path | str,
    now: dt.datetime | None = None,
    max_attempts: int = 8,
    backoff_s: float = 30.0,
) -> dict[str, int]:
    """Try every pending outbox row whose next attempt is due.

    Parameters
    ----------
    db : pathlib.Path or str
        The warning database (file or URL, as :class:`~pipelines.warnings.store.WarningStore`
        takes it).
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
    engine = _engine(db)
    with engine.connect() as con:
        rows = (
            con.execute(
                text(
                    "SELECT o.*, m.cap_xml, m.json FROM outbox o JOIN messages m USING (identifier) "
                    "WHERE o.status = 'pending' AND o.next_attempt_at <= :now ORDER BY o.id"
                ),
                {"now": now.isoformat()},
            )
            .mappings()
            .all()
        )
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
        args = {"attempts": attempts, "error": error, "id": row["id"], "now": now.isoformat()}
        if ok:
            sql, outcome = (
                "UPDATE outbox SET status='delivered', attempts=:attempts, delivered_at=:now, "
                "last_error=NULL WHERE id=:id",
                "delivered",
            )
        elif attempts >= max_attempts:
            sql, outcome = (
                "UPDATE outbox SET status='dead', attempts=:attempts, last_error=:error "
                "WHERE id=:id",
                "dead",
            )
        else:
            wait = dt.timedelta(seconds=backoff_s * 2 ** (attempts - 1))
            args["next"] = (now + wait).isoformat()
            sql, outcome = (
                "UPDATE outbox SET attempts=:attempts, last_error=:error, next_attempt_at=:next "
                "WHERE id=:id",
                "failed",
            )
        with write_transaction(engine) as con:
            con.execute(text(sql), {k: v for k, v in args.items() if f":{k}" in sql})
        counts[outcome] += 1
    return counts


def outbox_status(db: Path | str) -> dict[str, Any]:
    """Return counts by status and every undelivered row (for ``qingyuan warn --status``).

    Parameters
    ----------
    db : pathlib.Path or str
        The warning database (file or URL).

    Returns
    -------
    dict
        ``{"counts": {status: n}, "undelivered": [rows, oldest first]}``.
    """
    with _engine(db).connect() as con:
        counts = {
            r["status"]: r["n"]
            for r in con.execute(
                text("SELECT status, COUNT(*) AS n FROM outbox GROUP BY status")
            ).mappings()
        }
        waiting = [
            dict(r)
            for r in con.execute(
                text(
                    "SELECT id, identifier, url, format, status, attempts, next_attempt_at, "
                    "last_error FROM outbox WHERE status != 'delivered' ORDER BY id"
                )
            ).mappings()
        ]
    return {"counts": counts, "undelivered": waiting}
