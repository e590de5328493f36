"""The user administration page (admins): list, add, disable."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse

from qingyuan.web.accounts import AccountError, Principal, add_user, disable_user, list_users
from qingyuan.web.deps import audit, check_csrf, principal, reader
from qingyuan.web.errors import ApiError
from qingyuan.web.render import render

__all__ = ["router"]

router = APIRouter(include_in_schema=False)


@router.get("/users")
def users_page(request: Request, who: Principal = Depends(reader("users"))):
    """Accounts and the form to add one."""
    policy = request.app.state.policy
    return render(
        request,
        "users.html",
        {"users": list_users(request.app.state.sessions), "roles": policy.login_roles()},
    )


@router.post("/users")
def users_form(
    request: Request,
    op: str = Form(..., pattern=r"^(add|disable)$"),
    username: str = Form(..., min_length=1, max_length=64),
    role: str = Form("", max_length=32),
    password: str = Form("", max_length=1024),
    csrf_token: str = Form("", max_length=128),
):
    """Add or disable an account (CSRF-checked, audited)."""
    who = principal(request)
    d = request.app.state.policy.may(who.role, "users.manage")
    if not d.allowed:
        raise ApiError(d.status, d.reason)
    check_csrf(who, csrf_token)
    sessions = request.app.state.sessions
    try:
        if op == "add":
            add_user(
                sessions,
                username,
                role,
                password=password,
                roles=request.app.state.policy.login_roles(),
            )
        else:
            disable_user(sessions, username)
    except AccountError as exc:
        raise ApiError(422, str(exc)) from None
    audit(request, who, f"users.{op}", dataset="users", detail={"user": username, "role": role})
    return RedirectResponse("/users", status_code=303)
