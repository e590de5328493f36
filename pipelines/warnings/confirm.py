"""Release or reject the warning steps held for confirmation ("待确认预警").

A city warning file with ``confirmation: required`` makes the warning job hold every lifecycle
step that would send a message (issue, upgrade, downgrade, extend, lift) in the ``pending`` table
of the lifecycle store (:meth:`pipelines.warnings.store.WarningStore.hold`). Decision staff then

- confirm it (:func:`confirm_pending`): the step is applied exactly as the job would have applied
  it (same issue time, decision, provenance and renderer, so the same level, period and message),
  with ``confirmed_by`` / ``confirmation_note`` added to the provenance (CAP parameter, JSON
  message, audit row); the CAP files, feed and bulletin are written and the outbox delivered;
- or reject it (:func:`reject_pending`): nothing is sent, an audit row says who and why.

A held step is refused (``ValueError``) once it is no longer pending or once its area has a newer
decision applied (it is then marked ``superseded``); an unknown id raises ``LookupError``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from pipelines.config import load_network
from pipelines.warnings.alert_job import load_city
from pipelines.warnings.db import database_exists
from pipelines.warnings.job import message_renderer
from pipelines.warnings.publish import deliver_city, publish
from pipelines.warnings.reports import WarnReport
from pipelines.warnings.store import AppliedDecision, WarningStore, decision_from_dict

__all__ = ["confirm_pending", "reject_pending"]


def _store(outputs: Path, db: Path | None) -> WarningStore:
    """Open the lifecycle database (default ``warnings/warnings.db`` under ``outputs``)."""
    path = Path(db) if db is not None else Path(outputs) / "warnings" / "warnings.db"
    if not database_exists(path):  # a server (QINGYUAN_WARNINGS_DB) always exists
        raise LookupError(f"no warnings database at {path}")
    return WarningStore(path)


def _who(by: str) -> str:
    if not by or not by.strip():
        raise ValueError("name who decides (by): a held warning is released or rejected by someone")
    return by.strip()


def _iso(t: Any) -> str | None:
    return None if t is None else pd.Timestamp(t).isoformat()


def confirm_pending(
    pending_id: int,
    *,
    by: str,
    note: str = "",
    outputs: Path,
    db: Path | None = None,
    now: pd.Timestamp | None = None,
    deliver: bool = True,
) -> AppliedDecision:
    """Confirm a held step and release its message.

    Parameters
    ----------
    pending_id : int
        Id of the pending row (:meth:`~pipelines.warnings.store.WarningStore.pending`).
    by : str
        Who confirms (user name); carried by the message and the audit row.
    note : str
        Remark of the confirmation (JSON message provenance and audit row).
    outputs : pathlib.Path
        Outputs root: CAP files, feed and bulletin go to ``warnings/<city>/``.
    db : pathlib.Path, optional
        Lifecycle database (default ``warnings/warnings.db`` under ``outputs``).
    now : pandas.Timestamp, optional
        Time of the confirmation (UTC; default: the wall clock). The message's ``sent`` time is
        the issue time, as when the job applies a step.
    deliver : bool
        Deliver the due outbox rows after publishing.

    Returns
    -------
    AppliedDecision
        The step applied (action, level, warning id, CAP identifier).

    Raises
    ------
    LookupError
        Unknown id (or no database).
    ValueError
        The row is not pending (confirmed, rejected, superseded), it is stale (a newer decision
        of its area was applied: it is marked superseded), the area's warning changed since it
        was held, or ``by`` is empty.
    """
    by = _who(by)
    store = _store(outputs, db)
    item = store.releasable(pending_id)
    scheme, city = load_city(item["city"])
    if item.get("cap_status") and item["cap_status"] != city.cap_status:
        city = city.model_copy(update={"cap_status": item["cap_status"]})  # e.g. a drill
    area = next((a for a in city.areas if a.id == item["area"]), None)
    if area is None:
        raise ValueError(
            f"pending decision #{pending_id}: area {item['area']!r} is no longer in the warning "
            f"file of {city.name}"
        )
    net = load_network(city.network)
    issue = pd.Timestamp(item["issue_time"])
    decision = decision_from_dict(item["decision"])
    step = store.preview(scheme, city.name, area.id, issue, decision)
    proposed = (
        item["proposed_action"],
        item["proposed_level"],
        item["proposed_onset"],
        item["proposed_expires"],
    )
    if (step.action, step.level, _iso(step.onset), _iso(step.expires)) != proposed:
        raise ValueError(
            f"pending decision #{pending_id}: the warning of {area.id} changed since it was held "
            f"(it proposed {proposed[0]} {proposed[1] or ''}, now the step would be "
            f"{step.action} {step.level or ''}); not released"
        )
    provenance = {**item["provenance"], "confirmed_by": by, "confirmation_note": note}
    applied = store.apply(
        scheme,
        city.name,
        area.id,
        issue,
        decision,
        provenance,
        message_renderer(scheme, city, net, area),
        [s.model_dump() for s in city.subscribers],
    )
    if applied.duplicate or applied.identifier is None:
        raise ValueError(
            f"pending decision #{pending_id}: issue time {issue} of {area.id} was decided "
            f"meanwhile ({applied.action}, {applied.identifier}); nothing released again"
        )
    store.resolve_pending(
        pending_id, "confirmed", by=by, note=note, identifier=applied.identifier, now=now
    )
    report = WarnReport(
        city.name,
        issue,
        item["provenance"].get("forecast_file"),
        applied=[applied],
        decisions={area.id: decision},
    )
    publish(store, scheme, city, report, Path(outputs))
    if deliver:
        report.delivery = deliver_city(store.path, city)
    return applied


def reject_pending(
    pending_id: int,
    *,
    by: str,
    note: str,
    outputs: Path,
    db: Path | None = None,
) -> dict[str, Any]:
    """Reject a held step: nothing is sent, an audit row ``rejected`` names who and why.

    Parameters
    ----------
    pending_id : int
        Id of the pending row.
    by : str
        Who rejects (user name).
    note : str
        Why (required).
    outputs : pathlib.Path
        Outputs root (the database defaults to ``warnings/warnings.db`` under it).
    db : pathlib.Path, optional
        Lifecycle database.

    Returns
    -------
    dict
        The pending row, now ``rejected``.

    Raises
    ------
    LookupError
        Unknown id (or no database).
    ValueError
        The row is not pending or stale (then marked superseded), or ``by`` / ``note`` is empty.
    """
    by = _who(by)
    if not note or not note.strip():
        raise ValueError("a rejection needs a note saying why")
    return _store(outputs, db).resolve_pending(pending_id, "rejected", by=by, note=note)
