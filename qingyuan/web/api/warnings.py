"""Warnings: in force and history, lifecycle, CAP 1.2, JSON feed, bulletin, pending, annotations.

Pending decisions (cities with ``confirmation: required``) are confirmed or rejected here.
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import FileResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from pipelines import results as R
from qingyuan.web.accounts import Principal
from qingyuan.web.db import Annotation
from qingyuan.web.deps import (
    Page,
    actor,
    audit,
    city_kind,
    kind_dataset,
    page_of,
    readable_kind,
    reader,
    require_kind,
    respond,
)
from qingyuan.web.errors import ApiError
from qingyuan.web.params import IDENT, Ident, RowId

__all__ = ["annotations_of", "require_city", "router", "visible"]

router = APIRouter(tags=["warnings"])


class Note(BaseModel):
    """A note on a warning or on a pending decision."""

    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1, max_length=4000)


def _ws(request: Request) -> R.Workspace:
    return request.app.state.settings.workspace


def annotations_of(request: Request, warning_id: RowId) -> list[dict]:
    """Annotations of a warning, oldest first."""
    with request.app.state.sessions() as s:
        rows = s.scalars(
            select(Annotation).where(Annotation.warning_id == warning_id).order_by(Annotation.id)
        )
        return [
            {"id": a.id, "username": a.username, "text": a.text, "at": a.at.isoformat()}
            for a in rows
        ]


def _redact(request: Request, who: Principal, data):  # noqa: ANN001, ANN202
    return request.app.state.policy.redact(who.role, "warnings", data)


def _kind_of(request: Request, city: str, fallback: str | None = None) -> str | None:
    """Kind of a warning file (``air``, ``water``, ``source``); the payload's when not configured."""
    return city_kind(request, city) or fallback


def visible(
    request: Request, who: Principal, rows: list[dict], read: str = "warnings", *, key: str = "city"
) -> list:
    """Return the rows (warnings, pending decisions) whose warning file's kind ``who`` may read.

    ``by_kind`` of ``configs/access.yml`` decides (supervision alerts, kind ``source``, require
    ``enterprise``); rows of other kinds are left out, not refused. ``key`` names the field
    holding the warning file's name (``name`` for the records of
    :func:`pipelines.results.cities`). A restricted row shown is audited like a direct read.
    """
    kinds: dict[str, str | None] = {}
    out, shown = [], set()
    for r in rows:
        c = r.get(key, "")
        if c not in kinds:
            kinds[c] = _kind_of(request, c, r.get("kind"))
        if readable_kind(request, who, read, kinds[c]):
            out.append(r)
            shown.add(kind_dataset(request, read, kinds[c]))
    policy = request.app.state.policy
    for ds in sorted(shown):  # restricted rows shown in a list are audited like a direct read
        if policy.check(who.role, ds).audited:
            audit(request, who, "read", dataset=ds)
    return out


def require_city(
    request: Request, who: Principal, city: str, *, read: str = "warnings", kind: str | None = None
) -> None:
    """Refuse (401 / 403) unless ``who`` may make ``read`` of the warning file ``city``."""
    require_kind(request, who, read, _kind_of(request, city, kind))


@router.get("/warnings", summary="Warnings in force and their history")
def warnings(
    request: Request,
    city: str | None = Query(None, pattern=IDENT),
    status: Literal["active", "lifted"] | None = Query(None),
    page: Page = Depends(),
    who: Principal = Depends(reader("warnings")),
):
    """Issued warnings (newest first) with level, area, period, expected AQI, confidence, advice.

    Supervision alerts (warning files of kind ``source``) carry ``enterprise``,
    ``determining_station`` (the outfall or stack), ``condition``, ``primary_pollutant``,
    ``observed``, ``units``, ``limit``, ``ratio``, ``flags``, ``period`` and ``findings``
    instead of the AQI fields; they require the ``enterprise`` dataset (``by_kind`` of
    ``configs/access.yml``) and are left out of the list for other roles.
    """
    if city is not None:
        require_city(request, who, city)
    r = R.warnings(_ws(request), city=city, status=status)
    return respond(
        request,
        _redact(request, who, page_of(visible(request, who, r.data), page)),
        modified=r.modified,
        dataset="warnings",
    )


@router.get("/warnings/pending", summary="Decisions awaiting confirmation")
def pending(
    request: Request,
    city: str | None = Query(None, pattern=IDENT),
    page: Page = Depends(),
    who: Principal = Depends(reader("warnings_pending")),
):
    """Lifecycle steps held for confirmation (cities with ``confirmation: required``)."""
    if city is not None:
        require_city(request, who, city, read="warnings_pending")
    r = R.pending(_ws(request), city=city)
    rows = visible(request, who, r.data, "warnings_pending")
    return respond(request, page_of(rows, page), modified=r.modified, dataset="warnings_pending")


def _decided(request: Request, who: Principal, pending_id: RowId, note: str, verb: str):  # noqa: ANN202
    from pipelines.warnings.confirm import confirm_pending, reject_pending
    from pipelines.warnings.db import database_exists

    ws = _ws(request)
    if not database_exists(ws.warnings_db):
        raise ApiError(404, "no warnings database yet")
    held = next((p for p in R.pending(ws).data if p["id"] == pending_id), None)
    if held is not None:  # a decision on a supervision alert needs the enterprise dataset too
        require_city(request, who, held["city"], read="warnings_pending")
    fn = confirm_pending if verb == "confirm" else reject_pending
    try:
        out = fn(
            pending_id, by=who.username or "", note=note, outputs=ws.outputs, db=ws.warnings_db
        )
    except LookupError as exc:
        raise ApiError(404, str(exc)) from None
    except ValueError as exc:
        raise ApiError(409, str(exc)) from None
    audit(
        request,
        who,
        f"warning.{verb}",
        dataset="warnings_pending",
        detail={"pending_id": pending_id, "note": note},
    )
    result = {"pending_id": pending_id, "status": "confirmed" if verb == "confirm" else "rejected"}
    if verb == "confirm":
        result.update(
            action=out.action, level=out.level, warning_id=out.warning_id, identifier=out.identifier
        )
    return respond(request, result)


@router.post(
    "/warnings/pending/{pending_id}/confirm", summary="Confirm and release a held decision"
)
def confirm(
    request: Request,
    pending_id: RowId,
    body: Note | None = None,
    who: Principal = Depends(actor("warning.confirm")),
):
    """Release the held lifecycle step: CAP / JSON message, feed, bulletin, delivery."""
    return _decided(request, who, pending_id, body.text if body else "", "confirm")


@router.post("/warnings/pending/{pending_id}/reject", summary="Reject a held decision")
def reject(
    request: Request,
    pending_id: RowId,
    body: Note,
    who: Principal = Depends(actor("warning.reject")),
):
    """Reject the held step (nothing is sent); the note says why."""
    return _decided(request, who, pending_id, body.text, "reject")


@router.get("/warnings/{warning_id}", summary="One warning and its lifecycle")
def warning(request: Request, warning_id: RowId, who: Principal = Depends(reader("warnings"))):
    """Return every message (issue, update, cancel) of the warning with its payload.

    Decisions, audit rows, annotations and provenance are included for cleared roles.
    """
    r = R.warning(_ws(request), warning_id)
    require_city(request, who, r.data["city"], kind=r.data.get("kind"))
    data = dict(r.data)
    data["annotations"] = annotations_of(request, warning_id)
    return respond(request, _redact(request, who, data), modified=r.modified, dataset="warnings")


@router.post("/warnings/{warning_id}/annotations", status_code=201, summary="Annotate a warning")
def annotate(
    request: Request,
    warning_id: RowId,
    body: Note,
    who: Principal = Depends(actor("warning.annotate")),
):
    """Attach a note (who and when are recorded; notes are internal)."""
    w = R.warning(_ws(request), warning_id).data
    require_city(request, who, w["city"], kind=w.get("kind"))
    with request.app.state.sessions.begin() as s:
        a = Annotation(
            city=w.get("city", ""),
            warning_id=warning_id,
            username=who.username or "",
            text=body.text,
        )
        s.add(a)
    audit(request, who, "warning.annotate", dataset="warnings", detail={"warning_id": warning_id})
    return respond(
        request, {"warning_id": warning_id, "text": body.text, "username": who.username}, status=201
    )


@router.get(
    "/warnings/{warning_id}/cap",
    summary="CAP 1.2 XML of a warning's latest message",
    responses={200: {"content": {"application/cap+xml": {}}}},
)
def warning_cap(request: Request, warning_id: RowId, who: Principal = Depends(reader("warnings"))):
    """Return the CAP message last sent for the warning."""
    w = R.warning(_ws(request), warning_id).data
    require_city(request, who, w["city"], kind=w.get("kind"))
    msgs = w.get("messages") or []
    if not msgs:
        raise ApiError(404, f"warning {warning_id} has no message")
    return cap(request, msgs[-1]["identifier"], who)


@router.get(
    "/cap/{identifier}",
    summary="CAP 1.2 XML of one message",
    responses={200: {"content": {"application/cap+xml": {}}}},
)
def cap(request: Request, identifier: Ident, who: Principal = Depends(reader("warnings"))):
    """One CAP message as sent (a supervision alert's requires the ``enterprise`` dataset)."""
    owner = R.message_owner(_ws(request), identifier)
    if owner is not None:
        require_city(request, who, owner["city"], kind=owner["kind"])
    r = R.cap_message(_ws(request), identifier)
    return Response(
        r.data,
        media_type="application/cap+xml; charset=utf-8",
        headers={
            "Content-Disposition": f'inline; filename="{identifier}.xml"',
            "Cache-Control": "public, max-age=60",
        },
    )


@router.get("/cities", summary="Warning cities and their areas")
def cities(request: Request, page: Page = Depends(), who: Principal = Depends(reader("warnings"))):
    """Cities with warning settings: network, kind and areas (names, stations).

    Supervision alert files (kind ``source``: their areas are enterprises) are listed only for
    roles that may read them (``by_kind`` of ``configs/access.yml``).
    """
    r = R.cities(_ws(request))
    rows = visible(request, who, r.data, key="name")
    return respond(request, page_of(rows, page), modified=r.modified, dataset="warnings")


@router.get("/cities/{city}/feed.json", summary="The city's JSON warning feed")
def feed(request: Request, city: Ident, who: Principal = Depends(reader("warnings"))):
    """Return the published feed (active warnings, recent messages, operational alerts)."""
    require_city(request, who, city)
    r = R.feed(_ws(request), city)
    return respond(request, _redact(request, who, r.data), modified=r.modified, dataset="warnings")


@router.get(
    "/cities/{city}/bulletin",
    summary="The city's warning bulletin (HTML)",
    responses={200: {"content": {"text/html": {}}}},
)
def bulletin(request: Request, city: Ident, who: Principal = Depends(reader("warnings"))):
    """Return the bulletin page as published."""
    require_city(request, who, city)
    path = R.bulletin_path(_ws(request), city)
    # the published bulletin carries its own <style>; it has no script
    csp = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; font-src 'self'; frame-ancestors 'none'; base-uri 'none'"
    return FileResponse(
        path, media_type="text/html; charset=utf-8", headers={"Content-Security-Policy": csp}
    )
