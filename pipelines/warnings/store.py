"""Persisted warning lifecycle: warnings, decisions, messages, audit log, ops alerts.

One database per deployment: the embedded SQLite file ``outputs/warnings/warnings.db`` by default,
or a PostgreSQL server named by ``QINGYUAN_WARNINGS_DB`` (:mod:`pipelines.warnings.db`: URL,
schema, Alembic migrations applied on open, dialect differences). Each call of
:meth:`WarningStore.apply` runs in one transaction serialised per city (SQLite ``BEGIN
IMMEDIATE``; PostgreSQL an advisory lock of the city): it records the decision for
``(city, area, issue_time)`` (a primary key, so re-running the same issue time changes nothing and
returns the stored outcome), moves the area's warning through the state machine of
:func:`features.warnings.rules.next_transition`, renders the CAP / JSON message and queues it for
every subscriber in the outbox. The audit table is append-only (SQLite triggers, a PostgreSQL
trigger function: UPDATE, DELETE and TRUNCATE are refused), hash-chained per city
(:mod:`pipelines.warnings.audit_chain`, checked by ``qingyuan audit verify``), and every row
carries the provenance of the forecast behind it. A database that fails or goes away during a write raises
:class:`pipelines.warnings.db.WarningDatabaseError`; nothing of that write is committed.

A city with ``confirmation: required`` holds every step that would send a message instead
(:meth:`WarningStore.hold`): a ``pending`` row per ``(city, area, issue_time)`` that decision staff
confirm (the step is then applied as above, :mod:`pipelines.warnings.confirm`) or reject; a newer
hold or a newer applied decision of the area supersedes it. Holding, rejecting and superseding
are audited (actions ``held``, ``rejected``, ``superseded``).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import Connection, RowMapping, text

from features.warnings.rules import Decision, Transition, WarningScheme, next_transition
from pipelines.warnings.audit_chain import chained_row
from pipelines.warnings.db import (
    dialect_of,
    engine_for,
    ensure_schema,
    location,
    resolve_url,
    write_transaction,
)

__all__ = ["MESSAGE_ACTIONS", "AppliedDecision", "WarningStore", "decision_from_dict"]

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


def _q(con: Connection, sql: str, **params: Any) -> Any:
    """Run ``sql`` (named ``:parameters``) and return its rows as mappings."""
    return con.execute(text(sql), params).mappings()


def _dict(row: RowMapping) -> dict[str, Any]:
    """Return a row as a dict, without the ``rowid`` column PostgreSQL's ``messages`` carries."""
    out = dict(row)
    out.pop("rowid", None)
    return out


def _pending_row(row: RowMapping) -> dict[str, Any]:
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
    path : pathlib.Path or str
        SQLite file (created with its tables when missing; ``QINGYUAN_WARNINGS_DB`` names a
        server instead) or a SQLAlchemy URL (``postgresql+psycopg://...``); see
        :func:`pipelines.warnings.db.resolve_url`. The schema is migrated to the newest revision
        on open.

    Attributes
    ----------
    url : sqlalchemy.engine.URL
        The database.
    path : pathlib.Path or str
        The SQLite file, or the URL (as a string) of a server: what the outbox functions take.
    location : str
        What to show: the file, or the URL without its password.
    """

    def __init__(self, path: Path | str):
        self.url = resolve_url(path)
        is_file = self.url.get_backend_name() == "sqlite"
        self.path: Path | str = (
            Path(self.url.database or "") if is_file else self.url.render_as_string(False)
        )
        self.location = location(self.url)
        ensure_schema(self.url)
        self._engine = engine_for(self.url)

    def _read(self) -> Connection:
        """Open a connection for reads (closed, and its transaction ended, by ``with``)."""
        return self._engine.connect()

    def _insert(self, con: Connection, sql: str, **params: Any) -> int:
        """Run an ``INSERT`` and return the new row's id."""
        return dialect_of(self.url).insert_id(con, sql, params)

    def _write(self, city: str | None = None) -> Any:
        """One write transaction, serialised with the other writers of ``city``."""
        return write_transaction(self._engine, city=city)

    # ------------------------------------------------------------------ reads
    def active(self, city: str, area: str | None = None) -> list[dict[str, Any]]:
        """Active warnings of a city (optionally one area)."""
        sql = "SELECT * FROM warnings WHERE city = :city AND status = 'active'"
        if area is not None:
            sql += " AND area = :area"
        with self._read() as con:
            return [_dict(r) for r in _q(con, sql + " ORDER BY area", city=city, area=area)]

    def audit(self, city: str | None = None) -> list[dict[str, Any]]:
        """Return the audit log, oldest first."""
        with self._read() as con:
            rows = _q(
                con,
                "SELECT * FROM audit" + (" WHERE city = :city" if city else "") + " ORDER BY seq",
                city=city,
            )
            return [_dict(r) for r in rows]

    def messages(self, city: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """Issued messages, newest first."""
        with self._read() as con:
            rows = _q(
                con,
                "SELECT * FROM messages"
                + (" WHERE city = :city" if city else "")
                + " ORDER BY sent DESC, rowid DESC LIMIT :limit",
                city=city,
                limit=int(limit),
            )
            return [_dict(r) for r in rows]

    def ops_alerts(self, city: str | None = None) -> list[dict[str, Any]]:
        """Operational alerts (why a run changed nothing), oldest first."""
        with self._read() as con:
            rows = _q(
                con,
                "SELECT * FROM ops_alerts"
                + (" WHERE city = :city" if city else "")
                + " ORDER BY seq",
                city=city,
            )
            return [_dict(r) for r in rows]

    def record_ops_alert(
        self, city: str, kind: str, message: str, issue_time: pd.Timestamp | None = None
    ) -> None:
        """Record an operational alert (e.g. forecast missing or stale: no warning changed)."""
        with self._write() as con:
            _q(
                con,
                "INSERT INTO ops_alerts (at, city, issue_time, kind, message) "
                "VALUES (:at, :city, :it, :kind, :message)",
                at=dt.datetime.now(dt.UTC).isoformat(),
                city=city,
                it=_iso(issue_time),
                kind=kind,
                message=message,
            )

    # ------------------------------------------------------------------ the state machine
    @staticmethod
    def _active_row(con: Connection, city: str, area: str) -> RowMapping | None:
        return _q(
            con,
            "SELECT * FROM warnings WHERE city=:city AND area=:area AND status='active'",
            city=city,
            area=area,
        ).first()

    @staticmethod
    def _step(
        scheme: WarningScheme,
        cur: RowMapping | None,
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
        with self._read() as con:
            cur = self._active_row(con, city, area)
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

        One transaction, serialised with every other write of the city (a second cycle of the
        same city waits for this one to commit, then sees its outcome).

        Parameters
        ----------
        render : callable
            ``render(context) -> (cap_xml, json_text)`` for a message; ``context`` has the
            action, CAP message type, identifier, sent time, references, level, onset, expires,
            decision, provenance and the reasons (``why`` in English, ``why_zh`` in Chinese).
        subscribers : list of dict
            ``{"url", "formats", "timeout_s"}``; one outbox row per URL and format.
        sent : pandas.Timestamp, optional
            Message time (default: the issue time, so that a replay is reproducible).

        Raises
        ------
        pipelines.warnings.db.WarningDatabaseError
            The database failed or went away; nothing of this step was committed.
        """
        issue_time = pd.Timestamp(issue_time)
        sent = pd.Timestamp(sent) if sent is not None else issue_time
        now = dt.datetime.now(dt.UTC).isoformat()
        ddict = decision_dict(decision)
        it = _iso(issue_time)
        with self._write(city) as con:
            done = _q(
                con,
                "SELECT * FROM decisions WHERE city=:city AND area=:area AND issue_time=:it",
                city=city,
                area=area,
                it=it,
            ).first()
            if done is not None:
                w = None
                if done["warning_id"] is not None:
                    w = _q(
                        con, "SELECT level FROM warnings WHERE id=:id", id=done["warning_id"]
                    ).first()
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
                    warning_id = self._insert(
                        con,
                        "INSERT INTO warnings (city, area, level, status, onset, expires, "
                        "first_issued, last_updated, version, last_identifier, last_sent) "
                        "VALUES (:city, :area, :level, 'active', :onset, :expires, :it, :it, 0, "
                        "'', '')",
                        city=city,
                        area=area,
                        level=step.level,
                        onset=_iso(step.onset),
                        expires=_iso(step.expires),
                        it=it,
                    )
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
                    "why_zh": step.why_zh,
                }
                cap_xml, json_text = render(context)
                sent_text = json.loads(json_text)["sent"]  # as written in the CAP message
                _q(
                    con,
                    "UPDATE warnings SET level=:level, status=:status, onset=:onset, "
                    "expires=:expires, last_updated=:it, version=:version, "
                    "last_identifier=:identifier, last_sent=:sent WHERE id=:id",
                    level=context["level"],
                    status="lifted" if step.action == "lift" else "active",
                    onset=_iso(step.onset),
                    expires=_iso(step.expires),
                    it=it,
                    version=version,
                    identifier=identifier,
                    sent=sent_text,
                    id=warning_id,
                )
                _q(
                    con,
                    "INSERT INTO messages (identifier, warning_id, city, area, msg_type, action, "
                    "sent, refs, cap_xml, json) VALUES (:identifier, :warning_id, :city, :area, "
                    ":msg_type, :action, :sent, :refs, :cap_xml, :json)",
                    identifier=identifier,
                    warning_id=warning_id,
                    city=city,
                    area=area,
                    msg_type=context["msg_type"],
                    action=step.action,
                    sent=_iso(sent),
                    refs=refs,
                    cap_xml=cap_xml,
                    json=json_text,
                )
                for sub in subscribers or []:
                    for fmt in sub.get("formats", ["cap"]):
                        _q(
                            con,
                            "INSERT INTO outbox (identifier, url, format, next_attempt_at, "
                            "timeout_s) VALUES (:identifier, :url, :format, :now, :timeout_s)",
                            identifier=identifier,
                            url=sub["url"],
                            format=fmt,
                            now=now,
                            timeout_s=float(sub.get("timeout_s", 10)),
                        )
            _q(
                con,
                "INSERT INTO decisions (city, area, issue_time, action, warning_id, identifier, "
                "decision) VALUES (:city, :area, :it, :action, :warning_id, :identifier, "
                ":decision)",
                city=city,
                area=area,
                it=it,
                action=step.action,
                warning_id=warning_id,
                identifier=identifier,
                decision=json.dumps(ddict),
            )
            self._audit(
                con,
                now,
                city,
                area,
                it,
                warning_id,
                step.action,
                cur["level"] if cur else None,
                step.level,
                step.why,
                json.dumps(provenance, default=str),
                json.dumps(ddict),
            )
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
        with self._read() as con:
            row = _q(
                con,
                "SELECT * FROM decisions WHERE city=:city AND area=:area AND issue_time=:it",
                city=city,
                area=area,
                it=_iso(pd.Timestamp(issue_time)),
            ).first()
        return dict(row) if row else None

    def pending_at(self, city: str, area: str, issue_time: pd.Timestamp) -> dict[str, Any] | None:
        """Return the held decision of one area and issue time (any status, JSON parsed), or None."""
        with self._read() as con:
            row = _q(
                con,
                "SELECT * FROM pending WHERE city=:city AND area=:area AND issue_time=:it",
                city=city,
                area=area,
                it=_iso(pd.Timestamp(issue_time)),
            ).first()
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
        key = {"city": city, "area": area, "it": it}
        with self._write(city) as con:
            done = _q(
                con,
                "SELECT id FROM pending WHERE city=:city AND area=:area AND issue_time=:it",
                **key,
            ).first()
            if done is not None:
                return int(done["id"])
            cur = self._active_row(con, city, area)
            newer = _q(
                con,
                "SELECT id FROM pending WHERE city=:city AND area=:area AND status='pending' "
                "AND issue_time > :it ORDER BY issue_time DESC LIMIT 1",
                **key,
            ).first()
            pid = int(
                self._insert(
                    con,
                    "INSERT INTO pending (city, area, issue_time, created, proposed_action, "
                    "proposed_level, from_level, proposed_onset, proposed_expires, why, "
                    "cap_status, decision, provenance, status, decided_at, note) "
                    "VALUES (:city, :area, :it, :now, :action, :level, :from_level, :onset, "
                    ":expires, :why, :cap_status, :decision, :provenance, :status, :decided_at, "
                    ":note)",
                    **key,
                    now=now,
                    action=step.action,
                    level=step.level,
                    from_level=cur["level"] if cur else None,
                    onset=_iso(step.onset),
                    expires=_iso(step.expires),
                    why=step.why,
                    cap_status=cap_status,
                    decision=ddict,
                    provenance=prov,
                    status="superseded" if newer else "pending",
                    decided_at=now if newer else None,
                    note=(
                        f"superseded by pending #{newer['id']} (a later issue time)"
                        if newer
                        else None
                    ),
                )
            )
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
                older = _q(
                    con,
                    "SELECT * FROM pending WHERE city=:city AND area=:area AND status='pending' "
                    "AND issue_time < :it",
                    **key,
                ).all()
                for row in older:
                    self._supersede(con, row, now, f"superseded by pending #{pid}", warning_id)
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
        sql = "SELECT * FROM pending WHERE 1=1"
        if city is not None:
            sql += " AND city = :city"
        if status is not None:
            sql += " AND status = :status"
        with self._read() as con:
            rows = _q(con, sql + " ORDER BY id", city=city, status=status).all()
        return [_pending_row(r) for r in rows]

    def pending_item(self, pending_id: int) -> dict[str, Any]:
        """Return one held decision (any status), JSON parsed.

        Raises
        ------
        LookupError
            No pending row has this id.
        """
        with self._read() as con:
            row = _q(con, "SELECT * FROM pending WHERE id=:id", id=int(pending_id)).first()
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
        refused: ValueError | None = None
        with self._write() as con:
            self._lock_city_of(con, pending_id)
            try:
                row = self._open_row(con, pending_id, "confirmed", now, same_time_stale=True)
            except ValueError as exc:
                refused = exc  # committed below: keep a stale row's "superseded" mark
        if refused is not None:
            raise refused
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
        refused: ValueError | None = None
        with self._write() as con:
            self._lock_city_of(con, pending_id)
            try:
                out = self._resolve(con, pending_id, status, by, note, identifier, at)
            except ValueError as exc:
                refused = exc  # committed: keep a stale row's "superseded" mark (nothing else)
        if refused is not None:
            raise refused
        return _pending_row(out)

    def _resolve(
        self,
        con: Connection,
        pending_id: int,
        status: str,
        by: str,
        note: str,
        identifier: str | None,
        at: str,
    ) -> RowMapping:
        """Write :meth:`resolve_pending` (in its transaction); return the updated row."""
        row = self._open_row(con, pending_id, status, at, same_time_stale=status == "rejected")
        if status == "confirmed":
            done = _q(
                con,
                "SELECT identifier FROM decisions WHERE city=:city AND area=:area "
                "AND issue_time=:it",
                city=row["city"],
                area=row["area"],
                it=row["issue_time"],
            ).first()
            if identifier is None or done is None or done["identifier"] != identifier:
                raise ValueError(
                    f"pending decision #{pending_id}: no message {identifier!r} was applied "
                    f"for issue time {row['issue_time']}; release it with confirm_pending"
                )
        _q(
            con,
            "UPDATE pending SET status=:status, decided_by=:by, decided_at=:at, note=:note, "
            "identifier=:identifier WHERE id=:id",
            status=status,
            by=by,
            at=at,
            note=note,
            identifier=identifier,
            id=row["id"],
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
        return _q(con, "SELECT * FROM pending WHERE id=:id", id=row["id"]).one()

    # ------------------------------------------------------------------ confirmation helpers
    @staticmethod
    def _lock_city_of(con: Connection, pending_id: int) -> None:
        """Serialise with the other writers of the pending row's city (when the row exists)."""
        row = _q(con, "SELECT city FROM pending WHERE id=:id", id=int(pending_id)).first()
        if row is not None:
            dialect_of(con.engine.url).lock_city(con, row["city"])

    def _open_row(
        self,
        con: Connection,
        pending_id: int,
        verb: str,
        at: str,
        *,
        same_time_stale: bool,
    ) -> RowMapping:
        """Return the pending row, refused when unknown, not pending or stale (in a transaction).

        Stale: a decision of the area was applied at a later issue time (or, with
        ``same_time_stale``, at the row's own); the row is then marked ``superseded``.
        """
        row = _q(con, "SELECT * FROM pending WHERE id=:id", id=int(pending_id)).first()
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
        newer = _q(
            con,
            "SELECT issue_time, action FROM decisions WHERE city=:city AND area=:area "
            "AND issue_time "
            + (">=" if same_time_stale else ">")
            + " :it ORDER BY issue_time DESC LIMIT 1",
            city=row["city"],
            area=row["area"],
            it=row["issue_time"],
        ).first()
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
        con: Connection,
        row: RowMapping,
        at: str,
        why: str,
        warning_id: int | None,
    ) -> None:
        _q(
            con,
            "UPDATE pending SET status='superseded', decided_at=:at, note=:note WHERE id=:id",
            at=at,
            note=why,
            id=row["id"],
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

    _AUDIT_COLUMNS = (
        "at, city, area, issue_time, warning_id, action, from_level, to_level, why, provenance, "
        "decision"
    )

    @classmethod
    def _audit(cls, con: Connection, *values: Any) -> None:
        """Append one audit row, linked to the city's previous one (hash chain).

        ``values``: at, city, area, issue_time, warning_id, action, from_level, to_level, why,
        provenance (JSON text), decision (JSON text). Call holding the city's lock: the row's
        ``prev_hash`` is the hash of the city's last row (:mod:`pipelines.warnings.audit_chain`).
        """
        names = [c.strip() for c in cls._AUDIT_COLUMNS.split(",")]
        row = chained_row(con, dict(zip(names, values, strict=True)))
        _q(
            con,
            f"INSERT INTO audit ({', '.join(row)}) VALUES ("
            + ", ".join(f":{n}" for n in row)
            + ")",
            **row,
        )
