"""What one web application instance serves and how: workspace, configuration, database, secret."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from pipelines.config.web import AccessSpec, WebSpec, access_config, web_config
from pipelines.results import Workspace

__all__ = ["WebSettings", "load_settings", "secret_key"]


@dataclass(frozen=True)
class WebSettings:
    """Settings of one application instance.

    Attributes
    ----------
    workspace : pipelines.results.Workspace
        Station store and outputs the application reads.
    web : pipelines.config.web.WebSpec
        ``configs/web.yml``.
    access : pipelines.config.web.AccessSpec
        ``configs/access.yml``.
    database_url : str
        SQLAlchemy URL of the application database (users, sessions, tokens, audit).
    secret : bytes
        Key for signing (never logged, never in the repository).
    """

    workspace: Workspace
    web: WebSpec
    access: AccessSpec
    database_url: str
    secret: bytes


def secret_key(path: Path) -> bytes:
    """Return the key in ``path``, creating it (32 random bytes, mode 600) on first start.

    ``QINGYUAN_WEB_SECRET`` (hex or text) wins when set.
    """
    env = os.environ.get("QINGYUAN_WEB_SECRET")
    if env:
        return env.encode()
    path = Path(path)
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32))
    return path.read_text().strip().encode()


def load_settings(
    store: str | Path | None = None,
    outputs: str | Path | None = None,
    *,
    database_url: str | None = None,
    web: WebSpec | None = None,
    access: AccessSpec | None = None,
) -> WebSettings:
    """Return settings from configuration, environment and arguments (arguments win).

    Parameters
    ----------
    store, outputs : str or pathlib.Path, optional
        Station store and outputs roots (default: ``QINGYUAN_STORE`` / ``QINGYUAN_OUTPUTS`` or
        the checkout's ``store/`` and ``outputs/``).
    database_url : str, optional
        Application database (default: ``QINGYUAN_WEB_DB``, ``database`` of ``configs/web.yml``,
        else ``sqlite:///<outputs>/web/app.db``).
    """
    base = Workspace.default()
    ws = Workspace(
        store=Path(store) if store else base.store,
        outputs=Path(outputs) if outputs else base.outputs,
    )
    web = web or web_config()
    access = access or access_config()
    url = database_url or os.environ.get("QINGYUAN_WEB_DB") or web.database
    if not url:
        db = ws.outputs / "web" / "app.db"
        db.parent.mkdir(parents=True, exist_ok=True)
        url = f"sqlite:///{db.resolve()}"
    secret_path = Path(web.secret_file) if web.secret_file else ws.outputs / "web" / "secret.key"
    return WebSettings(ws, web, access, url, secret_key(secret_path))
