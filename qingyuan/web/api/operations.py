"""Operations: ingest reports, quarantine, operational alerts, outbox, last runs, audit logs."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy import func, select

from pipelines import results as R
from qingyuan.web.accounts import Principal
from qingyuan.web.api.catalogue import _records
from qingyuan.web.db import AuditEntry
from qingyuan.web.deps import Page, page_of, reader, respond
from qingyuan.web.params import IDENT, Ident

__all__ = ["router"]

router = APIRouter(tags=["operations and audit"])


def _ws(request: Request) -> R.Workspace:
    return request.app.state.settings.workspace


@router.get("/operations/ingest", summary="Ingest reports")
def ingest_reports(
    request: Request,
    network: str | None = Query(None, pattern=IDENT),
    page: Page = Depends(),
    who: Principal = Depends(reader("operations")),
):
    """Return what each ingest read, stored, flagged and quarantined (newest first)."""
    r = R.ingest_reports(_ws(request), network=network, limit=100_000)
    return respond(request, page_of(r.data, page), modified=r.modified, dataset="operations")


@router.get("/operations/ingest/{network}/{report}/quarantine", summary="Quarantined input rows")
def quarantine(
    request: Request,
    network: Ident,
    report: Ident,
    page: Page = Depends(),
    who: Principal = Depends(reader("quarantine")),
):
    """Return the input rows an ingest refused, with file, line, field and reason."""
    r = R.quarantine(_ws(request), network, report)
    return respond(
        request, page_of(_records(r.data), page), modified=r.modified, dataset="quarantine"
    )


@router.get("/operations/alerts", summary="Operational alerts of the warning jobs")
def alerts(
    request: Request,
    city: str | None = Query(None, pattern=IDENT),
    page: Page = Depends(),
    who: Principal = Depends(reader("operations")),
):
    """Return runs that changed no warning, and why (forecast missing, stale, unreadable)."""
    r = R.ops_alerts(_ws(request), city=city)
    return respond(
        request, page_of(list(reversed(r.data)), page), modified=r.modified, dataset="operations"
    )


@router.get("/operations/outbox", summary="Delivery outbox")
def outbox(request: Request, who: Principal = Depends(reader("operations"))):
    """Messages queued for subscribers: delivered, pending, dead."""
    r = R.outbox(_ws(request))
    return respond(request, r.data, modified=r.modified, dataset="operations")


@router.get("/operations/runs", summary="Last runs")
def runs(request: Request, who: Principal = Depends(reader("operations"))):
    """Return the last main / scheduled runs: ingest, forecast and warning times per network and city."""
    r = R.last_runs(_ws(request))
    return respond(request, r.data, modified=r.modified, dataset="operations")


@router.get("/audit", summary="Access and change audit log (append-only)")
def audit_log(
    request: Request,
    username: str | None = Query(None, pattern=r"^[\w.\-@]{1,64}$"),
    page: Page = Depends(),
    who: Principal = Depends(reader("audit")),
):
    """Who read restricted data or changed something, what, when and from where (newest first)."""
    with request.app.state.sessions() as s:
        q = select(AuditEntry).order_by(AuditEntry.seq.desc())
        if username:
            q = q.where(AuditEntry.username == username)
        rows = [
            {
                "seq": a.seq,
                "at": a.at.isoformat(),
                "username": a.username,
                "role": a.role,
                "action": a.action,
                "dataset": a.dataset,
                "target": a.target,
                "client": a.client,
                "outcome": a.outcome,
                "detail": a.detail,
            }
            for a in s.scalars(q.limit(page.size).offset((page.page - 1) * page.size))
        ]
        cq = select(func.count()).select_from(AuditEntry)
        total = s.scalar(cq.where(AuditEntry.username == username) if username else cq)
    body = {
        "items": rows,
        "page": page.page,
        "page_size": page.size,
        "total": total,
        "pages": max(1, -(-total // page.size)),
    }
    return respond(request, body, dataset="audit")


@router.get("/audit/warnings", summary="Warning lifecycle audit log")
def lifecycle_audit(
    request: Request,
    city: str | None = Query(None, pattern=IDENT),
    page: Page = Depends(),
    who: Principal = Depends(reader("audit")),
):
    """Every lifecycle decision with its provenance (the warnings database's append-only table)."""
    r = R.lifecycle_audit(_ws(request), city=city)
    return respond(
        request, page_of(list(reversed(r.data)), page), modified=r.modified, dataset="audit"
    )
