"""One real workspace, application and set of users for the web tests (session-scoped)."""

from __future__ import annotations

import os

import pytest
from qy_web import PASSWORD, build_workspace

ROLES = ("decision", "analyst", "admin")


@pytest.fixture(scope="session")
def web_ws(tmp_path_factory):
    """The workspace of :func:`qy_web.build_workspace` (environment restored afterwards)."""
    keep = {k: os.environ.get(k) for k in ("QINGYUAN_CONFIG", "MLFLOW_TRACKING_URI")}
    ws = build_workspace(tmp_path_factory.mktemp("web"))
    yield ws
    for k, v in keep.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture(scope="session")
def web_app(web_ws):
    """The application on the workspace, with one user per role (``<role>1``)."""
    from qingyuan.web import create_app
    from qingyuan.web.accounts import add_user
    from qingyuan.web.settings import load_settings

    settings = load_settings(
        web_ws.store, web_ws.outputs, database_url=f"sqlite:///{web_ws.root / 'app.db'}"
    )
    app = create_app(settings)
    roles = app.state.policy.login_roles()
    for role in ROLES:
        add_user(app.state.sessions, f"{role}1", role, password=PASSWORD, roles=roles)
    return app


@pytest.fixture(scope="session")
def tokens(web_app):
    """A bearer token per role (None for the public)."""
    from qingyuan.web.accounts import create_token

    out = {"public": None}
    for role in ROLES:
        out[role] = create_token(web_app.state.sessions, f"{role}1", name="test", ttl_days=1)
    return out


@pytest.fixture(scope="session")
def client(web_app):
    """A TestClient of the application (no cookies kept between tests: use headers)."""
    from fastapi.testclient import TestClient

    with TestClient(web_app, raise_server_exceptions=False) as c:
        yield c


@pytest.fixture(scope="session")
def headers(tokens):
    """Request headers per role: the bearer token (none for the public)."""
    return {r: ({"Authorization": f"Bearer {t}"} if t else {}) for r, t in tokens.items()}
