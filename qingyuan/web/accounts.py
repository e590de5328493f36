"""Users, passwords (Argon2id), browser sessions, bearer tokens, login rate limiting, audit rows.

Shared by the CLI (``qingyuan users ...``) and the web application, so both follow one path.
Tokens and session ids are random (``secrets``); only their SHA-256 is stored.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from qingyuan.web.db import ApiToken, AuditEntry, LoginFailure, SessionRow, User, utcnow

__all__ = [
    "AccountError",
    "LoginRefused",
    "Principal",
    "add_user",
    "authenticate",
    "create_token",
    "disable_user",
    "end_session",
    "list_users",
    "record_audit",
    "resolve_session",
    "resolve_token",
    "revoke_tokens",
    "set_password",
    "start_session",
]

_HASHER = PasswordHasher()  # Argon2id, the library's recommended parameters
_USERNAME_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-@")
MIN_PASSWORD = 10


class AccountError(ValueError):
    """A user operation cannot be done (unknown user, bad name, weak password, unknown role)."""


class LoginRefused(PermissionError):
    """A login failed; ``status`` is 401 (bad credentials) or 429 (too many attempts)."""

    def __init__(self, message: str, status: int = 401, retry_after: int | None = None):
        super().__init__(message)
        self.status, self.retry_after = status, retry_after


@dataclass(frozen=True)
class Principal:
    """Who is asking: a user through a session or a token, or the anonymous public."""

    username: str | None
    role: str
    via: str  # "anonymous", "session" or "token"
    csrf: str | None = None
    display_name: str = ""

    @property
    def anonymous(self) -> bool:
        """True for the public (no login)."""
        return self.username is None


ANONYMOUS = Principal(None, "public", "anonymous")


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _aware(t: dt.datetime) -> dt.datetime:
    return t if t.tzinfo else t.replace(tzinfo=dt.UTC)  # SQLite returns naive datetimes


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"a password needs at least {MIN_PASSWORD} characters")


def add_user(
    sessions: sessionmaker,
    username: str,
    role: str,
    *,
    password: str,
    roles: list[str],
    display_name: str = "",
) -> User:
    """Create a user.

    Parameters
    ----------
    roles : list of str
        The roles an account may have (:meth:`qingyuan.web.policy.Policy.login_roles`).

    Raises
    ------
    AccountError
        For a bad or taken name, an unknown role or a short password.
    """
    if not username or len(username) > 64 or set(username) - _USERNAME_CHARS:
        raise AccountError(
            f"user name {username!r}: 1-64 characters of letters, digits and . _ - @"
        )
    if role not in roles:
        raise AccountError(f"unknown role {role!r}; roles: {', '.join(roles)}")
    _check_password(password)
    with sessions.begin() as s:
        if s.scalar(select(User).where(User.username == username)) is not None:
            raise AccountError(f"user {username!r} exists")
        user = User(
            username=username,
            role=role,
            display_name=display_name or username,
            password_hash=_HASHER.hash(password),
        )
        s.add(user)
    return user


def _user(s: Session, username: str) -> User:
    user = s.scalar(select(User).where(User.username == username))
    if user is None:
        raise AccountError(f"unknown user {username!r}")
    return user


def _end_credentials(s: Session, user: User) -> None:
    s.execute(delete(SessionRow).where(SessionRow.user_id == user.id))
    s.execute(update(ApiToken).where(ApiToken.user_id == user.id).values(revoked=True))


def set_password(sessions: sessionmaker, username: str, password: str) -> None:
    """Change a password; every session and token of the user ends."""
    _check_password(password)
    with sessions.begin() as s:
        user = _user(s, username)
        user.password_hash = _HASHER.hash(password)
        user.password_changed = utcnow()
        _end_credentials(s, user)


def revoke_tokens(sessions: sessionmaker, username: str) -> int:
    """Revoke every bearer token of a user; return how many were live."""
    with sessions.begin() as s:
        user = _user(s, username)
        live = s.scalar(
            select(func.count()).where(ApiToken.user_id == user.id, ApiToken.revoked.is_(False))
        )
        s.execute(update(ApiToken).where(ApiToken.user_id == user.id).values(revoked=True))
    return int(live or 0)


def disable_user(sessions: sessionmaker, username: str, *, disabled: bool = True) -> None:
    """Disable (or enable) a user; a disabled user's sessions end and tokens stop working."""
    with sessions.begin() as s:
        user = _user(s, username)
        user.disabled = disabled
        if disabled:
            _end_credentials(s, user)


def list_users(sessions: sessionmaker) -> list[dict[str, Any]]:
    """Every user (never the hash)."""
    with sessions() as s:
        return [
            {
                "username": u.username,
                "display_name": u.display_name,
                "role": u.role,
                "disabled": u.disabled,
                "created": _aware(u.created).isoformat(),
            }
            for u in s.scalars(select(User).order_by(User.username))
        ]


def authenticate(
    sessions: sessionmaker,
    username: str,
    password: str,
    *,
    client: str,
    attempts: int,
    window_s: float,
) -> User:
    """Check a user name and password, with rate limiting by user name and by client address.

    Raises
    ------
    LoginRefused
        401 for a wrong name or password or a disabled user (one message for all three), 429
        when ``attempts`` failures of this name or this client lie within ``window_s``.
    """
    now = utcnow()
    since = now - dt.timedelta(seconds=window_s)
    with sessions.begin() as s:
        s.execute(delete(LoginFailure).where(LoginFailure.at < since))
        for col, value in ((LoginFailure.username, username), (LoginFailure.client, client)):
            n = s.scalar(select(func.count()).where(col == value, LoginFailure.at >= since))
            if n >= attempts:
                raise LoginRefused(
                    "too many failed logins; try again later", 429, retry_after=int(window_s)
                )
        user = s.scalar(select(User).where(User.username == username))
        ok = False
        if user is not None and not user.disabled:
            try:
                ok = _HASHER.verify(user.password_hash, password)
            except (VerifyMismatchError, VerificationError, InvalidHashError):
                ok = False
            if ok and _HASHER.check_needs_rehash(user.password_hash):
                user.password_hash = _HASHER.hash(password)
        else:
            _HASHER.hash(password)  # same work for unknown users: no timing oracle
        if not ok:
            s.add(LoginFailure(username=username[:64], client=client[:64], at=now))
    if not ok:
        raise LoginRefused("wrong user name or password")
    return user


def start_session(
    sessions: sessionmaker, user: User, *, ttl_hours: float, client: str
) -> tuple[str, str]:
    """Open a browser session; return (cookie token, CSRF token)."""
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    with sessions.begin() as s:
        s.add(
            SessionRow(
                token_hash=_digest(token),
                user_id=user.id,
                csrf=csrf,
                expires=utcnow() + dt.timedelta(hours=ttl_hours),
                client=client[:64],
            )
        )
    return token, csrf


def resolve_session(sessions: sessionmaker, token: str) -> Principal | None:
    """Return the principal of a session cookie, or None (unknown, expired, user disabled)."""
    with sessions() as s:
        row = s.scalar(select(SessionRow).where(SessionRow.token_hash == _digest(token)))
        if row is None or _aware(row.expires) <= utcnow():
            return None
        user = s.get(User, row.user_id)
        if user is None or user.disabled:
            return None
        return Principal(user.username, user.role, "session", row.csrf, user.display_name)


def end_session(sessions: sessionmaker, token: str) -> None:
    """Log out (delete the session)."""
    with sessions.begin() as s:
        s.execute(delete(SessionRow).where(SessionRow.token_hash == _digest(token)))


def create_token(sessions: sessionmaker, username: str, *, name: str, ttl_days: float) -> str:
    """Issue a bearer token for an API client of ``username``; the token is shown once."""
    token = "qy_" + secrets.token_urlsafe(32)
    with sessions.begin() as s:
        user = _user(s, username)
        s.add(
            ApiToken(
                token_hash=_digest(token),
                user_id=user.id,
                name=name[:64],
                expires=utcnow() + dt.timedelta(days=ttl_days),
            )
        )
    return token


def resolve_token(sessions: sessionmaker, token: str) -> Principal | None:
    """Return the principal of a bearer token, or None (unknown, expired, revoked, user disabled)."""
    with sessions() as s:
        row = s.scalar(select(ApiToken).where(ApiToken.token_hash == _digest(token)))
        if row is None or row.revoked or _aware(row.expires) <= utcnow():
            return None
        user = s.get(User, row.user_id)
        if user is None or user.disabled:
            return None
        return Principal(user.username, user.role, "token", None, user.display_name)


def record_audit(
    sessions: sessionmaker,
    who: Principal,
    action: str,
    *,
    dataset: str = "",
    target: str = "",
    client: str = "",
    outcome: str = "ok",
    detail: dict[str, Any] | None = None,
) -> None:
    """Append one row to the audit table."""
    with sessions.begin() as s:
        s.add(
            AuditEntry(
                username=who.username,
                role=who.role,
                action=action,
                dataset=dataset,
                target=target[:512],
                client=client[:64],
                outcome=outcome,
                detail=detail or {},
            )
        )
