"""Request plumbing shared by API routes and pages: who is asking, may they, and the reply.

- :func:`principal`: the user of a bearer token or session cookie, else the public.
- :func:`reader` / :func:`actor`: FastAPI dependencies that ask :class:`~qingyuan.web.policy.Policy`
  (one place), write the audit row and refuse with 401/403.
- :func:`respond`: JSON with ETag / Last-Modified, 304 on a matching conditional request, cache
  headers by classification.
- :func:`page_of`: pagination.
- :func:`file_response`: a figure, table or grid file, with its media type.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import math
import mimetypes
from collections.abc import Callable, Sequence
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any

from fastapi import Depends, Query, Request
from fastapi.responses import FileResponse, Response

from qingyuan.web.accounts import ANONYMOUS, Principal, record_audit, resolve_session, resolve_token
from qingyuan.web.errors import ApiError

__all__ = [
    "SESSION_COOKIE",
    "Page",
    "actor",
    "audit",
    "city_kind",
    "client_of",
    "file_response",
    "kind_dataset",
    "network_kind",
    "network_reader",
    "page_of",
    "principal",
    "readable_kind",
    "reader",
    "require",
    "require_kind",
    "respond",
    "reveal",
]

SESSION_COOKIE = "qy_session"


def client_of(request: Request) -> str:
    """Client address (the peer, or what a trusted proxy forwarded: ``forwarded_allow_ips``)."""
    return request.client.host if request.client else ""


def principal(request: Request) -> Principal:
    """Who is asking (cached on the request).

    A bearer token that is unknown, expired or revoked is a 401, not a silent fall-back to the
    public; an invalid session cookie is ignored (the browser is treated as logged out).
    """
    cached = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    sessions = request.app.state.sessions
    who = ANONYMOUS
    auth = request.headers.get("authorization", "")
    if auth:
        scheme, _, token = auth.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ApiError(401, "Authorization must be 'Bearer <token>'", headers=_challenge())
        who = resolve_token(sessions, token.strip())
        if who is None:
            raise ApiError(401, "invalid or expired token", headers=_challenge())
    elif request.cookies.get(SESSION_COOKIE):
        who = resolve_session(sessions, request.cookies[SESSION_COOKIE]) or ANONYMOUS
    request.state.principal = who
    return who


def _challenge() -> dict[str, str]:
    return {"WWW-Authenticate": 'Bearer realm="qingyuan"'}


def audit(request: Request, who: Principal, action: str, **kw: Any) -> None:
    """Append an audit row for this request."""
    record_audit(
        request.app.state.sessions,
        who,
        action,
        target=kw.pop(
            "target", request.url.path + (f"?{request.url.query}" if request.url.query else "")
        ),
        client=client_of(request),
        **kw,
    )


def _refuse(request: Request, who: Principal, status: int, reason: str) -> ApiError:
    headers = _challenge() if status == 401 else None
    msg = "log in to see this" if status == 401 else reason
    return ApiError(status, msg, headers=headers)


def require(request: Request, who: Principal, dataset: str) -> Principal:
    """Refuse (401 / 403) unless ``who`` may read ``dataset``; audit as the policy says."""
    decision = request.app.state.policy.check(who.role, dataset)
    if not decision.allowed:
        if decision.audited and not who.anonymous:
            audit(request, who, "read", dataset=dataset, outcome="denied")
        raise _refuse(request, who, decision.status, decision.reason)
    if decision.audited:
        audit(request, who, "read", dataset=dataset)
    return who


def reader(dataset: str) -> Callable[..., Principal]:
    """Dependency: the principal may read ``dataset`` (audited when the policy says so)."""

    def dep(request: Request, who: Principal = Depends(principal)) -> Principal:
        return require(request, who, dataset)

    dep.__name__ = f"read_{dataset}"
    return dep


def network_kind(request: Request, network: str) -> str | None:
    """Kind of a configured network (``air``, ``water``, ``source``; None when unknown)."""
    from pipelines.results import configs

    if network not in configs.network_names():
        return None
    return configs.network(network).kind


def city_kind(request: Request, city: str) -> str | None:
    """Kind of a warning file (``air``, ``water``, ``source``; None when not configured)."""
    from pipelines import results as R

    ws = request.app.state.settings.workspace
    return next((c["kind"] for c in R.cities(ws).data if c["name"] == city), None)


def kind_dataset(request: Request, read: str, kind: str | None) -> str:
    """Dataset that ``read`` of a network or warning file of ``kind`` requires (access.yml by_kind)."""
    return request.app.state.policy.dataset_for(read, kind)


def require_kind(request: Request, who: Principal, read: str, kind: str | None) -> Principal:
    """:func:`require` of the dataset that ``read`` of ``kind`` maps to."""
    return require(request, who, kind_dataset(request, read, kind))


def readable_kind(request: Request, who: Principal, read: str, kind: str | None) -> bool:
    """Whether ``who`` may make ``read`` of ``kind`` (no audit row: for filtering lists)."""
    return request.app.state.policy.check_kind(who.role, read, kind).allowed


def network_reader(read: str) -> Callable[..., Principal]:
    """Dependency of a ``/networks/{network}/...`` route: ``read`` of that network's kind.

    The dataset comes from ``by_kind`` of ``configs/access.yml`` (e.g. ``observations`` of a
    ``kind: source`` network requires ``enterprise``); an unknown network is checked as the
    read's own dataset (the route then answers 404).
    """

    def dep(request: Request, network: str, who: Principal = Depends(principal)) -> Principal:
        kind = network_kind(request, network)
        if kind is None and read not in request.app.state.policy.spec.datasets:
            return who  # no dataset to check for an unknown network: the route answers 404
        return require_kind(request, who, read, kind)

    dep.__name__ = f"read_{read}_of_network"
    return dep


def readable(request: Request, who: Principal, dataset: str) -> bool:
    """Whether ``who`` may read ``dataset`` (no audit row: for links and navigation only)."""
    return request.app.state.policy.check(who.role, dataset).allowed


def reveal(request: Request, who: Principal, dataset: str) -> bool:
    """Whether a page may show ``dataset`` to ``who``; an audited dataset shown is audited."""
    decision = request.app.state.policy.check(who.role, dataset)
    if decision.allowed and decision.audited:
        audit(request, who, "read", dataset=dataset)
    return decision.allowed


def actor(action: str) -> Callable[..., Principal]:
    """Dependency: the principal may do ``action``; session callers must send the CSRF token.

    API calls with a session cookie send the token in the ``X-CSRF-Token`` header, whatever
    their content type (page forms post to page routes, which check their ``csrf_token`` field
    with :func:`check_csrf`). Bearer-token clients need none (browsers never send the token on
    their own).
    """

    def dep(request: Request, who: Principal = Depends(principal)) -> Principal:
        decision = request.app.state.policy.may(who.role, action)
        if not decision.allowed:
            if not who.anonymous:
                audit(request, who, action, outcome="denied")
            raise _refuse(request, who, decision.status, decision.reason)
        if who.via == "session":  # page forms check their own field (check_csrf)
            if not request.headers.get("x-csrf-token"):
                raise ApiError(403, "missing CSRF token (X-CSRF-Token header)")
            check_csrf(who, request.headers["x-csrf-token"])
        return who

    dep.__name__ = f"do_{action.replace('.', '_')}"
    return dep


def check_csrf(who: Principal, sent: str | None) -> None:
    """Refuse (403) when a session's state-changing request lacks its CSRF token."""
    if who.via != "session":
        return
    if not sent or not who.csrf or not hmac.compare_digest(sent, who.csrf):
        raise ApiError(403, "missing or wrong CSRF token; reload the page and try again")


# ---------------------------------------------------------------------- pagination
class Page:
    """``page`` and ``page_size`` query parameters (1-based pages)."""

    def __init__(
        self,
        request: Request,
        page: int = Query(1, ge=1, le=1_000_000, description="Page number, from 1."),
        page_size: int | None = Query(None, ge=1, description="Items per page."),
    ):
        limits = request.app.state.settings.web.limits
        size = page_size or limits.page_size
        if size > limits.max_page_size:
            raise ApiError(422, f"query parameter 'page_size': at most {limits.max_page_size}")
        self.page, self.size = page, size


def page_of(items: Sequence[Any], page: Page) -> dict[str, Any]:
    """One page of a list, with its position in the whole."""
    total = len(items)
    start = (page.page - 1) * page.size
    return {
        "items": list(items[start : start + page.size]),
        "page": page.page,
        "page_size": page.size,
        "total": total,
        "pages": max(1, math.ceil(total / page.size)),
    }


# ---------------------------------------------------------------------- replies
def _default(o: Any) -> Any:
    if isinstance(o, dt.datetime | dt.date):
        return o.isoformat()
    if hasattr(o, "item"):  # numpy scalars
        return o.item()
    return str(o)


def _clean(o: Any) -> Any:
    if isinstance(o, float) and not math.isfinite(o):
        return None
    if isinstance(o, dict):
        return {k: _clean(v) for k, v in o.items()}
    if isinstance(o, list | tuple):
        return [_clean(v) for v in o]
    return o


def respond(
    request: Request,
    data: Any,
    *,
    modified: dt.datetime | None = None,
    dataset: str | None = None,
    status: int = 200,
    store: bool = True,
) -> Response:
    """JSON reply with a strong ETag and Last-Modified; 304 when the client's copy is current.

    A public dataset asked for without credentials may be cached by shared caches for a minute;
    anything asked for with a session or token is ``private, no-cache`` (``no-store`` with
    ``store=False``, for tokens and CSRF values) and varies by Cookie and Authorization.
    """
    body = json.dumps(_clean(data), ensure_ascii=False, default=_default, allow_nan=False).encode()
    etag = '"' + hashlib.blake2b(body, digest_size=16).hexdigest() + '"'
    anonymous = principal(request).anonymous
    public = (
        anonymous and dataset is not None and request.app.state.policy.level(dataset) == "public"
    )
    cache = "public, max-age=60" if public else "private, no-cache"
    headers = {
        "ETag": etag,
        "Cache-Control": cache if store else "no-store",
        "Vary": "Cookie, Authorization, Accept-Language",
    }
    if modified is not None:
        headers["Last-Modified"] = format_datetime(modified.astimezone(dt.UTC), usegmt=True)
    if status == 200 and request.method in ("GET", "HEAD"):
        inm = request.headers.get("if-none-match")
        if inm is not None:
            if etag in [t.strip().removeprefix("W/") for t in inm.split(",")] or inm.strip() == "*":
                return Response(status_code=304, headers=headers)
        elif modified is not None and request.headers.get("if-modified-since"):
            try:
                since = parsedate_to_datetime(request.headers["if-modified-since"])
            except (TypeError, ValueError):
                since = None
            if since is not None and since.tzinfo is None:
                since = since.replace(tzinfo=dt.UTC)  # "-0000" or no zone: taken as UTC
            if since is not None and modified.replace(microsecond=0) <= since:
                return Response(status_code=304, headers=headers)
    return Response(body, status_code=status, media_type="application/json", headers=headers)


_MEDIA = {
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".csv": "text/csv; charset=utf-8",
    ".json": "application/json",
    ".nc": "application/x-netcdf",
}


def file_response(path: Any) -> FileResponse:
    """Return a result file (resolved by the results layer) with its media type, privately cached."""
    media = (
        _MEDIA.get(path.suffix.lower())
        or mimetypes.guess_type(path.name)[0]
        or "application/octet-stream"
    )
    return FileResponse(path, media_type=media, headers={"Cache-Control": "private, no-cache"})
