"""Login and logout pages (session cookie: HttpOnly, SameSite=Strict, Secure over https)."""

from __future__ import annotations

import secrets
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse

from qingyuan.web.accounts import LoginRefused, authenticate, end_session, start_session
from qingyuan.web.deps import SESSION_COOKIE, audit, client_of, principal
from qingyuan.web.errors import ApiError
from qingyuan.web.render import render

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
LOGIN_CSRF = "qy_login_csrf"


def _safe_next(nxt: str | None) -> str:
    """Only a local path may be the target after login (no open redirect)."""
    if not nxt:
        return "/"
    parts = urlsplit(nxt)
    if (
        parts.scheme
        or parts.netloc
        or not nxt.startswith("/")
        or nxt.startswith("//")
        or "\\" in nxt
    ):
        return "/"
    return nxt


def _secure(request: Request) -> bool:
    mode = request.app.state.settings.web.session.cookie_secure
    if mode in (True, "always"):
        return True
    if mode in (False, "never"):
        return False
    return request.url.scheme == "https"  # behind a trusted proxy uvicorn has set it


def _login_page(request: Request, *, error: str = "", status: int = 200, nxt: str = "/"):
    token = secrets.token_urlsafe(32)
    resp = render(request, "login.html", {"error": error, "login_csrf": token, "next": nxt}, status)
    resp.set_cookie(
        LOGIN_CSRF, token, httponly=True, samesite="strict", secure=_secure(request), max_age=3600
    )
    return resp


@router.get("/login")
def login_form(request: Request, next: str | None = None):  # noqa: A002 - the query name
    """Return the login form."""
    return _login_page(request, nxt=_safe_next(next))


@router.post("/login")
def login(
    request: Request,
    username: str = Form(..., max_length=64),
    password: str = Form(..., max_length=1024),
    csrf_token: str = Form(..., max_length=128),
    next: str = Form("/", max_length=512),  # noqa: A002
):
    """Check the credentials, start a session and go to ``next``."""
    cookie = request.cookies.get(LOGIN_CSRF, "")
    if not cookie or not secrets.compare_digest(cookie, csrf_token):
        raise ApiError(403, "the login form has expired; reload the page and try again")
    settings = request.app.state.settings.web
    sessions = request.app.state.sessions
    client = client_of(request)
    try:
        user = authenticate(
            sessions,
            username,
            password,
            client=client,
            attempts=settings.login_limit.attempts,
            window_s=settings.login_limit.window_s,
        )
    except LoginRefused as exc:
        from qingyuan.web.accounts import ANONYMOUS, Principal

        who = Principal(None, ANONYMOUS.role, "anonymous")
        audit(request, who, "login", outcome="failed", detail={"username": username[:64]})
        resp = _login_page(request, error=str(exc), status=exc.status, nxt=_safe_next(next))
        if exc.retry_after:
            resp.headers["Retry-After"] = str(exc.retry_after)
        return resp
    token, _csrf = start_session(
        sessions, user, ttl_hours=settings.session.ttl_hours, client=client
    )
    from qingyuan.web.accounts import Principal

    audit(request, Principal(user.username, user.role, "session"), "login")
    resp = RedirectResponse(_safe_next(next), status_code=303)
    resp.set_cookie(
        SESSION_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=_secure(request),
        max_age=int(settings.session.ttl_hours * 3600),
    )
    resp.delete_cookie(LOGIN_CSRF)
    return resp


@router.post("/logout")
def logout(request: Request, csrf_token: str = Form("", max_length=128)):
    """End the session (CSRF-checked) and go to the map."""
    from qingyuan.web.deps import check_csrf

    who = principal(request)
    token = request.cookies.get(SESSION_COOKIE)
    if token and who.via == "session":
        check_csrf(who, csrf_token)
        end_session(request.app.state.sessions, token)
        audit(request, who, "logout")
    resp = RedirectResponse("/", status_code=303)
    resp.delete_cookie(SESSION_COOKIE)
    return resp
