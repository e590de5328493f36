"""``/api/v1/auth`` (tokens, who am I) and ``/api/v1/users`` (administration)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from qingyuan.web.accounts import (
    AccountError,
    LoginRefused,
    Principal,
    add_user,
    authenticate,
    create_token,
    disable_user,
    list_users,
    set_password,
)
from qingyuan.web.deps import Page, actor, audit, client_of, page_of, principal, reader, respond
from qingyuan.web.errors import ApiError

__all__ = ["router"]

router = APIRouter(tags=["auth and users"])


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TokenRequest(_Strict):
    """User name and password of an API client."""

    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)
    name: str = Field("api", max_length=64, pattern=r"^[\w.\- ]*$")


class NewUser(_Strict):
    """A user to create."""

    username: str = Field(min_length=1, max_length=64)
    role: str = Field(max_length=32)
    password: str = Field(min_length=1, max_length=1024)
    display_name: str = Field("", max_length=128)


class NewPassword(_Strict):
    """A new password."""

    password: str = Field(min_length=1, max_length=1024)


@router.post("/auth/token", summary="Exchange user name and password for a bearer token")
def token(request: Request, body: TokenRequest):
    """Issue a bearer token (rate-limited like the login page; audited)."""
    st = request.app.state.settings.web
    try:
        user = authenticate(
            request.app.state.sessions,
            body.username,
            body.password,
            client=client_of(request),
            attempts=st.login_limit.attempts,
            window_s=st.login_limit.window_s,
        )
    except LoginRefused as exc:
        audit(
            request,
            Principal(None, "public", "anonymous"),
            "token",
            outcome="failed",
            detail={"username": body.username},
        )
        headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after else None
        raise ApiError(exc.status, str(exc), headers=headers) from None
    tok = create_token(
        request.app.state.sessions, user.username, name=body.name, ttl_days=st.tokens.ttl_days
    )
    audit(
        request, Principal(user.username, user.role, "token"), "token", detail={"name": body.name}
    )
    return respond(
        request,
        {"token": tok, "token_type": "bearer", "expires_in_days": st.tokens.ttl_days},
        status=201,
        store=False,
    )


@router.get("/auth/me", summary="Who is asking, and what they may read and do")
def me(request: Request, who: Principal = Depends(principal)):
    """Return the caller's identity, role, readable datasets, allowed actions and CSRF token."""
    policy = request.app.state.policy
    return respond(
        request,
        {
            "username": who.username,
            "role": who.role,
            "via": who.via,
            "datasets": policy.readable(who.role),
            "actions": [a for a in policy.spec.actions if policy.may(who.role, a).allowed],
            "csrf_token": who.csrf,
        },
        store=False,
    )


@router.get("/users", summary="Users (admin)")
def users(request: Request, page: Page = Depends(), who: Principal = Depends(reader("users"))):
    """Every user account (never a password hash)."""
    return respond(request, page_of(list_users(request.app.state.sessions), page), dataset="users")


@router.post("/users", status_code=201, summary="Create a user (admin)")
def create_user(request: Request, body: NewUser, who: Principal = Depends(actor("users.manage"))):
    """Create a user with a role of ``configs/access.yml``."""
    try:
        add_user(
            request.app.state.sessions,
            body.username,
            body.role,
            password=body.password,
            roles=request.app.state.policy.login_roles(),
            display_name=body.display_name,
        )
    except AccountError as exc:
        raise ApiError(409 if "exists" in str(exc) else 422, str(exc)) from None
    audit(
        request,
        who,
        "users.add",
        dataset="users",
        detail={"user": body.username, "role": body.role},
    )
    return respond(request, {"username": body.username, "role": body.role}, status=201)


@router.post("/users/{username}/disable", summary="Disable a user (admin)")
def disable(request: Request, username: str, who: Principal = Depends(actor("users.manage"))):
    """Disable a user: sessions end, tokens stop working."""
    try:
        disable_user(request.app.state.sessions, username)
    except AccountError as exc:
        raise ApiError(404, str(exc)) from None
    audit(request, who, "users.disable", dataset="users", detail={"user": username})
    return respond(request, {"username": username, "disabled": True})


@router.post("/users/{username}/password", summary="Set a user's password (admin)")
def password(
    request: Request,
    username: str,
    body: NewPassword,
    who: Principal = Depends(actor("users.manage")),
):
    """Set a new password; the user's sessions end."""
    try:
        set_password(request.app.state.sessions, username, body.password)
    except AccountError as exc:
        raise ApiError(404 if "unknown" in str(exc) else 422, str(exc)) from None
    audit(request, who, "users.passwd", dataset="users", detail={"user": username})
    return respond(request, {"username": username, "password_changed": True})
