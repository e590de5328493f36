"""``qingyuan web`` (the web application and API) and ``qingyuan users`` (accounts)."""

from __future__ import annotations

from pathlib import Path

import click

from pipelines.errors import ConfigError
from qingyuan.cli.errors import failing_on
from qingyuan.cli.options import outputs_option, store_option

__all__ = ["users", "web"]


def _settings(store: Path | None, outputs: Path | None, database: str | None):
    from qingyuan.web.settings import load_settings

    with failing_on(ConfigError):
        return load_settings(store, outputs, database_url=database)


_db_option = click.option(
    "--database",
    default=None,
    help="Application database URL (default: QINGYUAN_WEB_DB, configs/web.yml, outputs/web/app.db).",
)


@click.command()
@store_option()
@outputs_option()
@_db_option
@click.option(
    "--host", default=None, help="Address to listen on (default: configs/web.yml, 127.0.0.1)."
)
@click.option(
    "--port",
    type=click.IntRange(1, 65535),
    default=None,
    help="Port (default: configs/web.yml, 8000).",
)
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=None,
    help="Worker processes (default: configs/web.yml, 1).",
)
@click.option(
    "--migrate-only",
    is_flag=True,
    help="Bring the application database to the newest schema revision and exit "
    "(run it as the database owner before starting the web app with a restricted role).",
)
def web(store, outputs, database, host, port, workers, migrate_only) -> None:  # noqa: ANN001
    """Serve the web pages and the HTTP API (OpenAPI at /api/docs) on the store and outputs."""
    import os

    import uvicorn

    from qingyuan.cli.errors import CommandError

    for what, path in (("store", store), ("outputs", outputs)):
        if path is not None and not Path(path).is_dir():
            raise CommandError(
                f"--{what} {path}: no such directory (run `qingyuan run` first, or give the right path)"
            )
    s = _settings(store, outputs, database)
    if migrate_only:
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import OperationalError

        from qingyuan.web.db import head_revision, open_database

        where = make_url(s.database_url).render_as_string(hide_password=True)
        try:
            engine, _ = open_database(s.database_url)
        except OperationalError as exc:
            reason = " ".join(str(exc.orig or exc).split())
            raise click.ClickException(f"application database {where}: {reason}") from None
        engine.dispose()
        click.echo(f"application database {where} at revision {head_revision()}")
        return
    srv = s.web.server
    host, port, workers = host or srv.host, port or srv.port, workers or srv.workers
    # worker processes build their own app from the environment: hand the choices down
    os.environ["QINGYUAN_STORE"] = str(s.workspace.store.resolve())
    os.environ["QINGYUAN_OUTPUTS"] = str(s.workspace.outputs.resolve())
    os.environ["QINGYUAN_WEB_DB"] = s.database_url
    from qingyuan.web.accounts import list_users
    from qingyuan.web.db import open_database

    _, sessions = open_database(s.database_url)
    if not list_users(sessions):
        click.echo(
            "note: no user accounts yet; the public pages work. Add one with\n"
            "  qingyuan users add NAME --role admin|analyst|decision"
        )
    click.echo(f"Qingyuan web on http://{host}:{port}/  (API docs: http://{host}:{port}/api/docs)")
    click.echo(f"  store {s.workspace.store}, outputs {s.workspace.outputs}")
    uvicorn.run(
        "qingyuan.web.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="warning",
        proxy_headers=bool(srv.forwarded_allow_ips),
        forwarded_allow_ips=",".join(srv.forwarded_allow_ips) or None,
    )


@click.group()
def users() -> None:
    """Manage web accounts: add, passwd, disable, enable, list, token."""


def _sessions(outputs: Path | None, database: str | None):
    from qingyuan.web.db import open_database

    return open_database(_settings(None, outputs, database).database_url)[1]


def _audit(sessions, action: str, **detail) -> None:  # noqa: ANN001
    """Append an audit row for an account change made on the command line."""
    import getpass

    from qingyuan.web.accounts import Principal, record_audit

    who = Principal(f"cli:{getpass.getuser()}", "admin", "cli")
    record_audit(
        sessions,
        who,
        action,
        dataset="users",
        target="qingyuan users",
        client="localhost",
        detail=detail,
    )


def _password(given: str | None) -> str:
    import os

    return (
        given
        or os.environ.get("QINGYUAN_PASSWORD")
        or click.prompt("Password", hide_input=True, confirmation_prompt=True)
    )


@users.command("add")
@click.argument("username")
@click.option(
    "--role", required=True, help="A role of configs/access.yml (e.g. admin, analyst, decision)."
)
@click.option("--name", "display_name", default="", help="Display name.")
@click.option("--password", default=None, help="Password (default: QINGYUAN_PASSWORD or a prompt).")
@outputs_option()
@_db_option
def add(username, role, display_name, password, outputs, database) -> None:  # noqa: ANN001
    """Create an account."""
    from qingyuan.web.accounts import AccountError, add_user
    from qingyuan.web.policy import Policy

    s = _settings(None, outputs, database)
    sessions = _sessions(outputs, database)
    with failing_on(AccountError):
        add_user(
            sessions,
            username,
            role,
            password=_password(password),
            roles=Policy(s.access).login_roles(),
            display_name=display_name,
        )
    _audit(sessions, "users.add", user=username, role=role)
    click.echo(f"user {username} added with role {role}")


@users.command("passwd")
@click.argument("username")
@click.option(
    "--password", default=None, help="New password (default: QINGYUAN_PASSWORD or a prompt)."
)
@outputs_option()
@_db_option
def passwd(username, password, outputs, database) -> None:  # noqa: ANN001
    """Set a password (the user's sessions end)."""
    from qingyuan.web.accounts import AccountError, set_password

    sessions = _sessions(outputs, database)
    with failing_on(AccountError):
        set_password(sessions, username, _password(password))
    _audit(sessions, "users.passwd", user=username)
    click.echo(f"password of {username} changed (sessions ended, tokens revoked)")


@users.command("disable")
@click.argument("username")
@outputs_option()
@_db_option
def disable(username, outputs, database) -> None:  # noqa: ANN001
    """Disable an account (sessions end, tokens stop working)."""
    from qingyuan.web.accounts import AccountError, disable_user

    sessions = _sessions(outputs, database)
    with failing_on(AccountError):
        disable_user(sessions, username)
    _audit(sessions, "users.disable", user=username)
    click.echo(f"user {username} disabled")


@users.command("enable")
@click.argument("username")
@outputs_option()
@_db_option
def enable(username, outputs, database) -> None:  # noqa: ANN001
    """Enable a disabled account."""
    from qingyuan.web.accounts import AccountError, disable_user

    sessions = _sessions(outputs, database)
    with failing_on(AccountError):
        disable_user(sessions, username, disabled=False)
    _audit(sessions, "users.enable", user=username)
    click.echo(f"user {username} enabled")


@users.command("list")
@outputs_option()
@_db_option
def list_(outputs, database) -> None:  # noqa: ANN001
    """List accounts."""
    from qingyuan.web.accounts import list_users

    rows = list_users(_sessions(outputs, database))
    for u in rows:
        state = "disabled" if u["disabled"] else "active"
        click.echo(f"{u['username']}\t{u['role']}\t{state}\t{u['display_name']}")
    if not rows:
        click.echo("no users")


@users.command("token")
@click.argument("username")
@click.option("--name", default="cli", help="A label for the token.")
@outputs_option()
@_db_option
def token(username, name, outputs, database) -> None:  # noqa: ANN001
    """Issue a bearer token for an API client (printed once)."""
    from qingyuan.web.accounts import AccountError, create_token

    s = _settings(None, outputs, database)
    sessions = _sessions(outputs, database)
    with failing_on(AccountError):
        tok = create_token(sessions, username, name=name, ttl_days=s.web.tokens.ttl_days)
    _audit(sessions, "users.token", user=username, name=name)
    click.echo(tok)


@users.command("revoke")
@click.argument("username")
@outputs_option()
@_db_option
def revoke(username, outputs, database) -> None:  # noqa: ANN001
    """Revoke every bearer token of an account."""
    from qingyuan.web.accounts import AccountError, revoke_tokens

    sessions = _sessions(outputs, database)
    with failing_on(AccountError):
        n = revoke_tokens(sessions, username)
    _audit(sessions, "users.revoke", user=username, tokens=n)
    click.echo(f"{n} token(s) of {username} revoked")
