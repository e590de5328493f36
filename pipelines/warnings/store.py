"""Persisted warning lifecycle (SQLite): warnings, decisions, messages, audit log, ops alerts.

One SQLite file per deployment (default ``outputs/warnings/warnings.db``). Each call of
:meth:`WarningStore.apply` runs in one ``BEGIN IMMEDIATE`` transaction: it records the decision for
``(city, area, issue_time)`` (a primary key, so re-running the same issue time changes nothing and
returns the stored outcome), moves the area's warning through the state machine of
:func:`features.warnings.rules.next_transition`, renders the CAP / JSON message and queues it for
every subscriber in the outbox. The audit table is append-only (SQLite triggers refuse UPDATE and
DELETE) and every row carries the provenance of the forecast behind it.

A city with ``confirmation: required`` holds every step that would send a message instead
(:meth:`WarningStore.hold`): a ``pending`` row per ``(city, area, issue_time)`` that decision staff
confirm (the step is then applied as above, :mod:`pipelines.warnings.confirm`) or reject; a newer
hold or a newer applied decision of the area supersedes it. Holding, rejecting and superseding
are audited (actions ``held``, ``rejected``, ``superseded``).
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

from features.warnings.rules import Decision, Transition, WarningScheme, next_transition

__all__ = ["MESSAGE_ACTIONS", "AppliedDecision", "WarningStore", "decision_from_dict"]

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
CREATE TABLE IF NOT EXISTS pending (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    city TEXT NOT NULL, area TEXT NOT NULL, issue_time TEXT NOT NULL, created TEXT NOT NULL,
    proposed_action TEXT NOT NULL, proposed_level TEXT, from_level TEXT,
    proposed_onset TEXT, proposed_expires TEXT, why TEXT, cap_status TEXT,
    decision TEXT NOT NULL, provenance TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'confirmed', 'rejected', 'superseded')),
    decided_by TEXT, decided_at TEXT, note TEXT, identifier TEXT,
    UNIQUE (city, area, issue_time)
);
CREATE INDEX IF NOT EXISTS pending_by_status ON pending (city, status);
"""

_MSG_TYPE = {"issue": "Alert", "upgrade": "Update", "downgrade": "Update", "extend": "Update"}
_MSG_TYPE["lift"] = "Cancel"

#: The lifecycle steps that send a message (the others, ``none`` and ``hold``, send nothing).
MESSAGE_ACTIONS = frozenset(_MSG_TYPE)


def _iso(t: pd.Timestamp | None) -> str | None:
    return None if t is None else pd.Timestamp(t).isoformat()


def _ts(s: str | None) -> pd.Timestamp | None:
    return None if s is None else pd.Timestamp(s)


def decision_dict(d: Decision) -> dict[str, Any]:
    """JSON-able form of a decision."""
    out = asdict(d)
    out["start"], out["end"] = _iso(d.start), _iso(d.end)
    return out


def decision_from_dict(data: dict[str, Any]) -> Decision:
    """Rebuild a :class:`~features.warnings.rules.Decision` from :func:`decision_dict` (parsed JSON).

    The episode ``start`` / ``end`` become :class:`pandas.Timestamp` again and ``aqi_range`` a
    tuple, so that a message rendered from the rebuilt decision equals one from the original.
    """
    d = dict(data)
    d["start"], d["end"] = _ts(d.get("start")), _ts(d.get("end"))
    if d.get("aqi_range") is not None:
        d["aqi_range"] = tuple(float(x) for x in d["aqi_range"])
    return Decision(**d)


def _pending_row(row: sqlite3.Row) -> dict[str, Any]:
    out = dict(row)
    out["decision"] = json.loads(out["decision"])
    out["provenance"] = json.loads(out["provenance"])
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
    @staticmethod
    def _active_row(con: sqlite3.Connection, city: str, area: str) -> sqlite3.Row | None:
        return con.execute(
            "SELECT * FROM warnings WHERE city=? AND area=? AND status='active'", (city, area)
        ).fetchone()

    @staticmethod
    def _step(
        scheme: WarningScheme,
        cur: sqlite3.Row | None,
        decision: Decision,
        issue_time: pd.Timestamp,
    ) -> Transition:
        """Return the lifecycle step from the area's active warning row (or none) and a decision."""
        return next_transition(
            scheme,
            cur["level"] if cur else None,
            _ts(cur["onset"]) if cur else None,
            _ts(cur["expires"]) if cur else None,
            decision,
            issue_time,
        )

    def preview(
        self,
        scheme: WarningScheme,
        city: str,
        area: str,
        issue_time: pd.Timestamp,
        decision: Decision,
    ) -> Transition:
        """Return the lifecycle step :meth:`apply` would take now, without writing anything.

        Parameters
        ----------
        scheme : WarningScheme
            Levels and decision settings.
        city, area : str
            City and area ids.
        issue_time : pandas.Timestamp
            Issue time of the decision (UTC).
        decision : Decision
            The decision for that issue time.

        Returns
        -------
        Transition
            The step from the area's active warning; it sends a message when its ``action`` is
            in :data:`MESSAGE_ACTIONS` (issue, upgrade, downgrade, extend, lift).
        """
        con = self._connect()
        try:
            cur = self._active_row(con, city, area)
        finally:
            con.close()
        return self._step(scheme, cur, decision, pd.Timestamp(issue_time))

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
            cur = self._active_row(con, city, area)
            step = self._step(scheme, cur, decision, issue_time)
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

    # ------------------------------------------------------------------ confirmation
    def decision_at(self, city: str, area: str, issue_time: pd.Timestamp) -> dict[str, Any] | None:
        """Return the applied decision of one area and issue time (``decisions`` row), or None."""
        con = self._connect()
        try:
            row = con.execute(
                "SELECT * FROM decisions WHERE city=? AND area=? AND issue_time=?",
                (city, area, _iso(pd.Timestamp(issue_time))),
            ).fetchone()
        finally:
            con.close()
        return dict(row) if row else None

    def pending_at(self, city: str, area: str, issue_time: pd.Timestamp) -> dict[str, Any] | None:
        """Return the held decision of one area and issue time (any status, JSON parsed), or None."""
        con = self._connect()
        try:
            row = con.execute(
                "SELECT * FROM pending WHERE city=? AND area=? AND issue_time=?",
                (city, area, _iso(pd.Timestamp(issue_time))),
            ).fetchone()
        finally:
            con.close()
        return _pending_row(row) if row else None

    def hold(
        self,
        city: str,
        area: str,
        issue_time: pd.Timestamp,
        decision: Decision,
        provenance: dict[str, Any],
        step: Transition,
        *,
        cap_status: str | None = None,
    ) -> int:
        """Hold a lifecycle step that would send a message until it is confirmed or rejected.

        Nothing is sent and the area's warning does not change: one ``pending`` row and one
        ``held`` audit row are written in one transaction. Older pending rows of the area (earlier
        issue times) are marked ``superseded``: only the newest decision of an area can be
        released. A hold for an issue time older than a pending one of the area is stored
        ``superseded`` at once.

        Parameters
        ----------
        city, area : str
            City and area ids.
        issue_time : pandas.Timestamp
            Issue time of the decision (UTC).
        decision : Decision
            The decision, stored as JSON (:func:`decision_dict`).
        provenance : dict
            Provenance of the forecast behind it (as :meth:`apply` takes it).
        step : Transition
            The step :meth:`preview` returned: the action, level, onset and expiry proposed for
            release.
        cap_status : str, optional
            CAP status of the run that held it (e.g. ``Exercise`` for a drill), kept for the
            release.

        Returns
        -------
        int
            Id of the pending row; for an issue time held before, the existing row's id
            (nothing is written).
        """
        issue_time = pd.Timestamp(issue_time)
        it = _iso(issue_time)
        now = dt.datetime.now(dt.UTC).isoformat()
        ddict = json.dumps(decision_dict(decision))
        prov = json.dumps(provenance, default=str)
        con = self._connect()
        try:
            con.execute("BEGIN IMMEDIATE")
            done = con.execute(
                "SELECT id FROM pending WHERE city=? AND area=? AND issue_time=?", (city, area, it)
            ).fetchone()
            if done is not None:
                con.execute("ROLLBACK")
                return int(done["id"])
            cur = self._active_row(con, city, area)
            newer = con.execute(
                "SELECT id FROM pending WHERE city=? AND area=? AND status='pending' "
                "AND issue_time > ? ORDER BY issue_time DESC LIMIT 1",
                (city, area, it),
            ).fetchone()
            cursor = con.execute(
                "INSERT INTO pending (city, area, issue_time, created, proposed_action, "
                "proposed_level, from_level, proposed_onset, proposed_expires, why, cap_status, "
                "decision, provenance, status, decided_at, note) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    city,
                    area,
                    it,
                    now,
                    step.action,
                    step.level,
                    cur["level"] if cur else None,
                    _iso(step.onset),
                    _iso(step.expires),
                    step.why,
                    cap_status,
                    ddict,
                    prov,
                    "superseded" if newer else "pending",
                    now if newer else None,
                    f"superseded by pending #{newer['id']} (a later issue time)" if newer else None,
                ),
            )
            pid = int(cursor.lastrowid)
            warning_id = cur["id"] if cur else None
            self._audit(
                con,
                now,
                city,
                area,
                it,
                warning_id,
                "held",
                cur["level"] if cur else None,
                step.level,
                f"held for confirmation as pending #{pid}: {step.action} "
                f"{step.level or ''} ({step.why})"
                + (f"; superseded at once by pending #{newer['id']}" if newer else ""),
                prov,
                ddict,
            )
            if newer is None:
                older = con.execute(
                    "SELECT * FROM pending WHERE city=? AND area=? AND status='pending' "
                    "AND issue_time < ?",
                    (city, area, it),
                ).fetchall()
                for row in older:
                    self._supersede(con, row, now, f"superseded by pending #{pid}", warning_id)
            con.execute("COMMIT")
        except BaseException:
            if con.in_transaction:
                con.execute("ROLLBACK")
            raise
        finally:
            con.close()
        return pid

    def pending(
        self, city: str | None = None, status: str | None = "pending"
    ) -> list[dict[str, Any]]:
        """Return the held decisions, oldest first, with ``decision`` and ``provenance`` parsed.

        Parameters
        ----------
        city : str, optional
            Only this city.
        status : str or None
            ``pending`` (default: awaiting confirmation), ``confirmed``, ``rejected``,
            ``superseded``, or None for every row.
        """
        sql, args = "SELECT * FROM pending WHERE 1=1", []
        if city is not None:
            sql, args = sql + " AND city = ?", [*args, city]
        if status is not None:
            sql, args = sql + " AND status = ?", [*args, status]
        con = self._connect()
        try:
            return [_pending_row(r) for r in con.execute(sql + " ORDER BY id", args)]
        finally:
            con.close()

    def pending_item(self, pending_id: int) -> dict[str, Any]:
        """Return one held decision (any status), JSON parsed.

        Raises
        ------
        LookupError
            No pending row has this id.
        """
        con = self._connect()
        try:
            row = con.execute("SELECT * FROM pending WHERE id=?", (int(pending_id),)).fetchone()
        finally:
            con.close()
        if row is None:
            raise LookupError(f"no pending decision #{pending_id}")
        return _pending_row(row)

    def releasable(self, pending_id: int) -> dict[str, Any]:
        """Return the held decision when it may still be released, else refuse.

        A row is releasable when it is ``pending`` and no decision of its area was applied at its
        issue time or later. A stale row is marked ``superseded`` (with an audit row) before the
        refusal.

        Raises
        ------
        LookupError
            No pending row has this id.
        ValueError
            The row is not pending (confirmed, rejected or superseded) or it is stale.
        """
        now = dt.datetime.now(dt.UTC).isoformat()
        con = self._connect()
        try:
            con.execute("BEGIN IMMEDIATE")
            row = self._open_row(con, pending_id, "confirmed", now, same_time_stale=True)
            con.execute("COMMIT")
        except ValueError:
            if con.in_transaction:
                con.execute("COMMIT")  # keep a stale row's "superseded" mark
            raise
        except BaseException:
            if con.in_transaction:
                con.execute("ROLLBACK")
            raise
        finally:
            con.close()
        return _pending_row(row)

    def resolve_pending(
        self,
        pending_id: int,
        status: str,
        *,
        by: str,
        note: str = "",
        identifier: str | None = None,
        now: pd.Timestamp | None = None,
    ) -> dict[str, Any]:
        """Mark a held decision ``rejected``, or ``confirmed`` once its message was applied.

        Parameters
        ----------
        pending_id : int
            Id of the pending row.
        status : {"confirmed", "rejected"}
            The outcome. ``rejected`` writes a ``rejected`` audit row (who and the note in
            ``why``); nothing is sent. ``confirmed`` needs the ``identifier`` of the message
            :meth:`apply` released for the row's issue time (:func:`pipelines.warnings.confirm.
            confirm_pending` does both); the audit row of that step carries who confirmed it.
        by : str
            Who decided (user name).
        note : str
            Why (free text).
        identifier : str, optional
            CAP identifier of the message released (``confirmed`` only).
        now : pandas.Timestamp, optional
            Decision time (UTC; default: the wall clock).

        Returns
        -------
        dict
            The updated row (JSON parsed).

        Raises
        ------
        LookupError
            No pending row has this id.
        ValueError
            The row is not pending; it is stale (its area has a newer decision applied; the row
            is then marked ``superseded``); or a confirmation without its applied message.
        """
        if status not in ("confirmed", "rejected"):
            raise ValueError(f"status must be 'confirmed' or 'rejected', not {status!r}")
        at = (
            pd.Timestamp(now).isoformat()
            if now is not None
            else dt.datetime.now(dt.UTC).isoformat()
        )
        con = self._connect()
        try:
            con.execute("BEGIN IMMEDIATE")
            row = self._open_row(con, pending_id, status, at, same_time_stale=status == "rejected")
            if status == "confirmed":
                done = con.execute(
                    "SELECT identifier FROM decisions WHERE city=? AND area=? AND issue_time=?",
                    (row["city"], row["area"], row["issue_time"]),
                ).fetchone()
                if identifier is None or done is None or done["identifier"] != identifier:
                    raise ValueError(
                        f"pending decision #{pending_id}: no message {identifier!r} was applied "
                        f"for issue time {row['issue_time']}; release it with confirm_pending"
                    )
            con.execute(
                "UPDATE pending SET status=?, decided_by=?, decided_at=?, note=?, identifier=? "
                "WHERE id=?",
                (status, by, at, note, identifier, row["id"]),
            )
            if status == "rejected":
                cur = self._active_row(con, row["city"], row["area"])
                self._audit(
                    con,
                    at,
                    row["city"],
                    row["area"],
                    row["issue_time"],
                    cur["id"] if cur else None,
                    "rejected",
                    row["from_level"],
                    row["proposed_level"],
                    f"pending #{row['id']} ({row['proposed_action']} "
                    f"{row['proposed_level'] or ''}) rejected by {by}: {note}",
                    row["provenance"],
                    row["decision"],
                )
            out = con.execute("SELECT * FROM pending WHERE id=?", (row["id"],)).fetchone()
            con.execute("COMMIT")
        except ValueError:
            if con.in_transaction:
                con.execute("COMMIT")  # keep a stale row's "superseded" mark (nothing else written)
            raise
        except BaseException:
            if con.in_transaction:
                con.execute("ROLLBACK")
            raise
        finally:
            con.close()
        return _pending_row(out)

    # ------------------------------------------------------------------ confirmation helpers
    def _open_row(
        self,
        con: sqlite3.Connection,
        pending_id: int,
        verb: str,
        at: str,
        *,
        same_time_stale: bool,
    ) -> sqlite3.Row:
        """Return the pending row, refused when unknown, not pending or stale (in a transaction).

        Stale: a decision of the area was applied at a later issue time (or, with
        ``same_time_stale``, at the row's own); the row is then marked ``superseded``.
        """
        row = con.execute("SELECT * FROM pending WHERE id=?", (int(pending_id),)).fetchone()
        if row is None:
            raise LookupError(f"no pending decision #{pending_id}")
        what = (
            f"pending decision #{row['id']} ({row['city']}/{row['area']}, issue time "
            f"{row['issue_time']}, {row['proposed_action']} {row['proposed_level'] or ''})"
        )
        if row["status"] != "pending":
            who = f" by {row['decided_by']}" if row["decided_by"] else ""
            why = f": {row['note']}" if row["note"] else ""
            raise ValueError(
                f"{what} is already {row['status']}{who}{why}; "
                f"only a pending decision can be {verb}"
            )
        newer = con.execute(
            "SELECT issue_time, action FROM decisions WHERE city=? AND area=? AND issue_time "
            + (">=" if same_time_stale else ">")
            + " ? ORDER BY issue_time DESC LIMIT 1",
            (row["city"], row["area"], row["issue_time"]),
        ).fetchone()
        if newer is not None:
            reason = (
                f"stale: area {row['area']} already has a newer decision applied "
                f"(issue time {newer['issue_time']}, action {newer['action']})"
            )
            cur = self._active_row(con, row["city"], row["area"])
            self._supersede(con, row, at, reason, cur["id"] if cur else None)
            raise ValueError(f"{what} is {reason}; marked superseded, it cannot be {verb}")
        return row

    def _supersede(
        self,
        con: sqlite3.Connection,
        row: sqlite3.Row,
        at: str,
        why: str,
        warning_id: int | None,
    ) -> None:
        con.execute(
            "UPDATE pending SET status='superseded', decided_at=?, note=? WHERE id=?",
            (at, why, row["id"]),
        )
        self._audit(
            con,
            at,
            row["city"],
            row["area"],
            row["issue_time"],
            warning_id,
            "superseded",
            row["from_level"],
            row["proposed_level"],
            f"pending #{row['id']} ({row['proposed_action']} {row['proposed_level'] or ''}) {why}",
            row["provenance"],
            row["decision"],
        )

    @staticmethod
    def _audit(con: sqlite3.Connection, *values: Any) -> None:
        """Append one audit row.

        ``values``: at, city, area, issue_time, warning_id, action, from_level, to_level, why,
        provenance (JSON text), decision (JSON text).
        """
        con.execute(
            "INSERT INTO audit (at, city, area, issue_time, warning_id, action, from_level, "
            "to_level, why, provenance, decision) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            values,
        )
