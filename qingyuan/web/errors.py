"""Errors of the web application: one JSON shape for the API, one page for the browser.

Bad input is a 4xx with a message that names the parameter, never a 500, a stack trace, or the
submitted value echoed back.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from pipelines.errors import StoreCorrupted
from pipelines.results import NotFound

__all__ = ["ApiError", "install_handlers"]

log = logging.getLogger("qingyuan.web")

_TITLES = {
    400: "bad request",
    401: "login required",
    403: "forbidden",
    404: "not found",
    405: "method not allowed",
    409: "conflict",
    413: "request too large",
    414: "query string too long",
    415: "unsupported media type",
    422: "invalid parameter",
    429: "too many requests",
    500: "internal error",
    503: "stored data damaged",
}


class ApiError(Exception):
    """An error with an HTTP status and a message meant for the client.

    Parameters
    ----------
    status : int
        HTTP status.
    message : str
        What went wrong (must not contain secrets; values the client sent are not repeated).
    headers : dict, optional
        Extra response headers (``WWW-Authenticate``, ``Retry-After``).
    """

    def __init__(self, status: int, message: str, *, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers or {}


def _wants_html(request: Request) -> bool:
    return not request.url.path.startswith("/api/") and "text/html" in request.headers.get(
        "accept", ""
    )


def error_response(
    request: Request, status: int, message: str, headers=None, fields=None
) -> Response:
    """Return the JSON error (API) or the error page (browser)."""
    if _wants_html(request):
        if status == 401:
            from urllib.parse import quote

            nxt = quote(request.url.path, safe="/")
            return Response(status_code=303, headers={"Location": f"/login?next={nxt}"})
        from qingyuan.web.render import render_error

        return render_error(request, status, _TITLES.get(status, "error"), message)
    body: dict[str, Any] = {
        "error": {"status": status, "title": _TITLES.get(status, "error"), "message": message}
    }
    if fields:
        body["error"]["fields"] = fields
    return JSONResponse(body, status_code=status, headers=headers)


def _validation_fields(exc: RequestValidationError) -> list[dict[str, str]]:
    out = []
    for e in exc.errors():
        loc = [str(p) for p in e.get("loc", ())]
        where = loc[0] if loc else ""
        name = ".".join(loc[1:]) or where
        out.append({"in": where, "name": name, "problem": str(e.get("msg", "invalid"))})
    return out


def install_handlers(app) -> None:  # noqa: ANN001 - FastAPI
    """Register the handlers on an application."""

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError):
        return error_response(request, exc.status, exc.message, exc.headers)

    @app.exception_handler(NotFound)
    async def _not_found(request: Request, exc: NotFound):
        return error_response(request, 404, str(exc))

    @app.exception_handler(StoreCorrupted)
    async def _corrupted(request: Request, exc: StoreCorrupted):
        # a damaged partition is never read: say which one (its name, not the server's path)
        log.error("corrupted store partition refused: %s", exc)
        name = exc.path.rsplit("/", 1)[-1]
        return error_response(
            request,
            503,
            f"stored data file {name} is damaged ({exc.reason.split(':')[0]}); "
            "an operator must run `qingyuan data check` and restore or re-ingest it",
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError):
        fields = _validation_fields(exc)
        msg = "; ".join(f"{f['in']} parameter '{f['name']}': {f['problem']}" for f in fields)
        return error_response(request, 422, msg or "invalid request", fields=fields)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        msg = exc.detail if isinstance(exc.detail, str) else _TITLES.get(exc.status_code, "error")
        if exc.status_code == 404 and msg == "Not Found":
            msg = "no such page or API route"
        return error_response(request, exc.status_code, msg, getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception):
        from qingyuan.web.middleware import CSP

        log.exception("unhandled error on %s %s", request.method, request.url.path)
        resp = error_response(request, 500, "internal error; the server log has the details")
        # this handler answers outside the security middleware: add its headers here
        resp.headers.update(
            {
                "Content-Security-Policy": CSP,
                "X-Frame-Options": "DENY",
                "X-Content-Type-Options": "nosniff",
                "Cache-Control": "no-store",
            }
        )
        return resp
