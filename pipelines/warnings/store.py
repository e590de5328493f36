"""Persisted warning lifecycle (SQLite): warnings, decisions, messages, audit log, ops alerts.

One SQLite file per deployment (default ``outputs/warnings/warnings.db``). Each call of
:meth:`WarningStore.apply` runs in one ``BEGIN IMMEDIATE`` transaction: it records the decision for
``(city, area, issue_time)`` (a primary key, so re-running the same issue time changes nothing and
returns the stored outcome), moves the area's warning through the state machine of
:func:`features.warnings.rules.next_transition`, renders the CAP / JSON message and queues it for
every subscriber in the outbox. The audit table is append-only (SQLite triggers refuse UPDATE and
DELETE) and every row carries the provenance of the forecast behind it.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from features.warnings.rules import Decision, WarningScheme, next_transition

__all__ = ["AppliedDecision", "WarningStore"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS warnings (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    city TEXT NOT NULL, area TEXT NOT NULL, level TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('active', 'lifted')),
    onset TEXT, expires TEXT, first_issued TEXT NOT NULL, last_updated TEXT NOT NULL,
    version INTEGER NOT NULL, last_identifier TEXT NOT NULL, last_sent TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS one_active_per_area
    ON warnings (city, area) WHERE status = 'active';
CREATE TABLE IF NOT EXISTS decisions (
    city TEXT NOT NULL, area TEXT NOT NULL, issue_time TEXT NOT NULL,
    action TEXT NOT NULL, warning_id INTEGER, identifier TEXT, decision TEXT NOT NULL,
    PRIMARY KEY (city, area, issue_time)
);
CREATE TABLE IF NOT EXISTS audit (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL, city TEXT NOT NULL, area TEXT NOT NULL, issue_time TEXT NOT NULL,
    warning_id INTEGER, action TEXT NOT NULL, from_level TEXT, to_level TEXT,
    why TEXT, provenance TEXT NOT NULL, decision TEXT NOT NULL
);
CREATE TRIGGER IF NOT EXISTS audit_append_only_u BEFORE UPDATE ON audit
    BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_append_only_d BEFORE DELETE ON audit
    BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
CREATE TABLE IF NOT EXISTS messages (
    identifier TEXT PRIMARY KEY, warning_id INTEGER NOT NULL, city TEXT NOT NULL,
    area TEXT NOT NULL, msg_type TEXT NOT NULL, action TEXT NOT NULL, sent TEXT NOT NULL,
    refs TEXT, cap_xml TEXT NOT NULL, json TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    identifier TEXT NOT NULL, url TEXT NOT NULL, format TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'dead')),
    attempts INTEGER NOT NULL DEFAULT 0, next_attempt_at TEXT NOT NULL,
    last_error TEXT, delivered_at TEXT, timeout_s REAL NOT NULL DEFAULT 10,
    UNIQUE (identifier, url, format)
);
CREATE TABLE IF NOT EXISTS ops_alerts (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, city TEXT NOT NULL,
    issue_time TEXT, kind TEXT NOT NULL, message TEXT NOT NULL
);
"""

_MSG_TYPE = {"issue": "Alert", "upgrade": "Update", "downgrade": "Update", "extend": "Update"}
_MSG_TYPE["lift"] = "Cancel"


def _iso(t: pd.Timestamp | None) -> str | None:
    return None if t is None else pd.Timestamp(t).isoformat()


def _ts(s: str | None) -> pd.Timestamp | None:
    return None if s is None else pd.Timestamp(s)


def decision_dict(d: Decision) -> dict[str, Any]:
    """JSON-able form of a decision."""
    out = asdict(d)
    out["start"], out["end"] = _iso(d.start), _iso(d.end)
    return out


@dataclass
class AppliedDecision:
    """Outcome of one decision for one area."""

    city: str
    area: str
    issue_time: pd.Timestamp
    action: str
    level: str | None
    warning_id: int | None
    identifier: str | None  # CAP identifier of the message sent, if any
    duplicate: bool  # True when this issue time had already been decided (nothing changed)
    why: str


class WarningStore:
    """The lifecycle database.

    Parameters
    ----------
    path : pathlib.Path
        SQLite file (created with its tables when missing).
    """

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as con:
            con.executescript(_SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        con = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        con.row_factory = sqlite3.Row
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("PRAGMA foreign_keys=ON")
        return con

    # ------------------------------------------------------------------ reads
    def active(self, city: str, area: str | None = None) -> list[dict[str, Any]]:
        """Active warnings of a city (optionally one area)."""
        sql = "SELECT * FROM warnings WHERE city = ? AND status = 'active'"
        args: list[Any] = [city]
        if area is not None:
            sql += " AND area = ?"
            args.append(area)
        with self._connect() as con:
            return [dict(r) for r in con.execute(sql + " ORDER BY area", args)]

    def audit(self, city: str | None = None) -> list[dict[str, Any]]:
        """Return the audit log, oldest first."""
        with self._connect() as con:
            rows = con.execute(
                "SELECT * FROM audit" + (" WHERE city = ?" if city else "") + " ORDER BY seq",
                [city] if city else [],
            )
            return [dict(r) for r in rows]

    def messages(self, city: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """Issued messages, newest first."""
        with self._connect() as con:
            rows = con.execute(
                "SELECT * FROM messages"
                + (" WHERE city = ?" if city else "")
                + " ORDER BY sent DESC, rowid DESC LIMIT ?",
                ([city] if city else []) + [limit],
            )
            return [dict(r) for r in rows]

    def ops_alerts(self, city: str | None = None) -> list[dict[str, Any]]:
        """Operational alerts (why a run changed nothing), oldest first."""
        with self._connect() as con:
            rows = con.execute(
                "SELECT * FROM ops_alerts" + (" WHERE city = ?" if city else "") + " ORDER BY seq",
                [city] if city else [],
            )
            return [dict(r) for r in rows]

    def record_ops_alert(
        self, city: str, kind: str, message: str, issue_time: pd.Timestamp | None = None
    ) -> None:
        """Record an operational alert (e.g. forecast missing or stale: no warning changed)."""
        with self._connect() as con:
            con.execute(
                "INSERT INTO ops_alerts (at, city, issue_time, kind, message) VALUES (?,?,?,?,?)",
                (dt.datetime.now(dt.UTC).isoformat(), city, _iso(issue_time), kind, message),
            )

    # ------------------------------------------------------------------ the state machine
    def apply(
        self,
        scheme: WarningScheme,
        city: str,
        area: str,
        issue_time: pd.Timestamp,
        decision: Decision,
        provenance: dict[str, Any],
        render: Callable[[dict[str, Any]], tuple[str, str]],
        subscribers: list[dict[str, Any]] | None = None,
        sent: pd.Timestamp | None = None,
    ) -> AppliedDecision:
        """Decide the lifecycle step for one area and persist it atomically.

        Parameters
        ----------
        render : callable
            ``render(context) -> (cap_xml, json_text)`` for a message; ``context`` has the
            action, CAP message type, identifier, sent time, references, level, onset, expires,
            decision and provenance.
        subscribers : list of dict
            ``{"url", "formats", "timeout_s"}``; one outbox row per URL and format.
        sent : pandas.Timestamp, optional
            Message time (default: the issue time, so that a replay is reproducible).
        """
        issue_time = pd.Timestamp(issue_time)
        sent = pd.Timestamp(sent) if sent is not None else issue_time
        now = dt.datetime.now(dt.UTC).isoformat()
        ddict = decision_dict(decision)
        con = self._connect()
        try:
            con.execute("BEGIN IMMEDIATE")
            done = con.execute(
                "SELECT * FROM decisions WHERE city=? AND area=? AND issue_time=?",
                (city, area, _iso(issue_time)),
            ).fetchone()
            if done is not None:
                con.execute("ROLLBACK")
                w = None
                if done["warning_id"] is not None:
                    w = con.execute(
                        "SELECT level FROM warnings WHERE id=?", (done["warning_id"],)
                    ).fetchone()
                return AppliedDecision(
                    city,
                    area,
                    issue_time,
                    done["action"],
                    w["level"] if w else None,
                    done["warning_id"],
                    done["identifier"],
                    True,
                    "already decided",
                )
            cur = con.execute(
                "SELECT * FROM warnings WHERE city=? AND area=? AND status='active'", (city, area)
            ).fetchone()
            step = next_transition(
                scheme,
                cur["level"] if cur else None,
                _ts(cur["onset"]) if cur else None,
                _ts(cur["expires"]) if cur else None,
                decision,
                issue_time,
            )
            warning_id = cur["id"] if cur else None
            identifier = None
            if step.action in _MSG_TYPE:
                version = (cur["version"] + 1) if cur else 1
                if cur is None:
                    cursor = con.execute(
                        "INSERT INTO warnings (city, area, level, status, onset, expires, "
                        "first_issued, last_updated, version, last_identifier, last_sent) "
                        "VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                        (
                            city,
                            area,
                            step.level,
                            "active",
                            _iso(step.onset),
                            _iso(step.expires),
                            _iso(issue_time),
                            _iso(issue_time),
                            0,
                            "",
                            "",
                        ),
                    )
                    warning_id = cursor.lastrowid
                identifier = f"qingyuan.{city}.{area}.{warning_id}.{version}"
                refs = None  # the message this one updates or cancels: "identifier,sent"
                if cur is not None:
                    refs = f"{cur['last_identifier']},{cur['last_sent']}"
                context = {
                    "action": step.action,
                    "msg_type": _MSG_TYPE[step.action],
                    "identifier": identifier,
                    "sent": sent,
                    "references": refs,
                    "city": city,
                    "area": area,
                    "warning_id": warning_id,
                    "version": version,
                    "level": step.level if step.action != "lift" else cur["level"],
                    "previous_level": cur["level"] if cur else None,
                    "onset": step.onset,
                    "expires": step.expires,
                    "decision": decision,
                    "issue_time": issue_time,
                    "provenance": provenance,
                    "why": step.why,
                }
                cap_xml, json_text = render(context)
                sent_text = json.loads(json_text)["sent"]  # as written in the CAP message
                con.execute(
                    "UPDATE warnings SET level=?, status=?, onset=?, expires=?, last_updated=?, "
                    "version=?, last_identifier=?, last_sent=? WHERE id=?",
                    (
                        context["level"],
                        "lifted" if step.action == "lift" else "active",
                        _iso(step.onset),
                        _iso(step.expires),
                        _iso(issue_time),
                        version,
                        identifier,
                        sent_text,
                        warning_id,
                    ),
                )
                con.execute(
                    "INSERT INTO messages (identifier, warning_id, city, area, msg_type, action, "
                    "sent, refs, cap_xml, json) VALUES (?,?,?,?,?,?,?,?,?,?)",
                    (
                        identifier,
                        warning_id,
                        city,
                        area,
                        context["msg_type"],
                        step.action,
                        _iso(sent),
                        refs,
                        cap_xml,
                        json_text,
                    ),
                )
                for sub in subscribers or []:
                    for fmt in sub.get("formats", ["cap"]):
                        con.execute(
                            "INSERT INTO outbox (identifier, url, format, next_attempt_at, "
                            "timeout_s) VALUES (?,?,?,?,?)",
                            (identifier, sub["url"], fmt, now, float(sub.get("timeout_s", 10))),
                        )
            con.execute(
                "INSERT INTO decisions (city, area, issue_time, action, warning_id, identifier, "
                "decision) VALUES (?,?,?,?,?,?,?)",
                (
                    city,
                    area,
                    _iso(issue_time),
                    step.action,
                    warning_id,
                    identifier,
                    json.dumps(ddict),
                ),
            )
            con.execute(
                "INSERT INTO audit (at, city, area, issue_time, warning_id, action, from_level, "
                "to_level, why, provenance, decision) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (
                    now,
                    city,
                    area,
                    _iso(issue_time),
                    warning_id,
                    step.action,
                    cur["level"] if cur else None,
                    step.level,
                    step.why,
                    json.dumps(provenance, default=str),
                    json.dumps(ddict),
                ),
            )
            con.execute("COMMIT")
        except BaseException:
            if con.in_transaction:
                con.execute("ROLLBACK")
            raise
        finally:
            con.close()
        return AppliedDecision(
            city,
            area,
            issue_time,
            step.action,
            step.level,
            warning_id,
            identifier,
            False,
            step.why,
        )
