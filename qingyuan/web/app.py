"""The application factory: one FastAPI app serving the HTTP API (``/api/v1``) and the pages."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import anyio
from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from pipelines.fonts import FONT_FILE, FONT_URL
from qingyuan.web.db import open_database
from qingyuan.web.errors import install_handlers
from qingyuan.web.middleware import SecurityMiddleware
from qingyuan.web.policy import Policy
from qingyuan.web.settings import WebSettings, load_settings

__all__ = ["create_app"]

_STATIC = Path(__file__).parent / "static"

#: Threads per worker process for the blocking (file-reading) handlers (QINGYUAN_WEB_THREADS).
THREADS = int(os.environ.get("QINGYUAN_WEB_THREADS", "8"))

API_DESCRIPTION = """
Qingyuan (清源) HTTP API: stations, observations with QC flags, AQI and water class, forecasts
with quantiles and drivers, warnings (lifecycle, CAP 1.2, JSON feed, bulletin), source tracing,
model registry, operations and the audit log.

Access follows `configs/access.yml`: every dataset has a classification level (公开 public,
内部 internal, 受控 restricted) and the roles that may read it. Anonymous callers see published
data only. API clients send `Authorization: Bearer <token>` (`qingyuan users token NAME`, or
`POST /api/v1/auth/token`); browsers log in at `/login` (session cookie; state-changing calls
send `X-CSRF-Token`). Lists are paginated (`page`, `page_size`); reads carry `ETag` and
`Last-Modified` and answer conditional requests with 304. Errors are
`{"error": {"status", "title", "message"}}`.
"""


def _docs(app: FastAPI) -> None:
    """Serve the API documentation with the bundled Swagger UI (``static/swagger-ui/``)."""
    from fastapi.openapi.docs import get_swagger_ui_html

    app.mount(
        "/api/docs-assets", StaticFiles(directory=str(_STATIC / "swagger-ui")), name="swagger-ui"
    )

    @app.get("/api/docs", include_in_schema=False)
    def docs():  # noqa: ANN202
        return get_swagger_ui_html(
            openapi_url="/api/openapi.json",
            title="Qingyuan (清源) API",
            swagger_js_url="/api/docs-assets/swagger-ui-bundle.js",
            swagger_css_url="/api/docs-assets/swagger-ui.css",
            swagger_favicon_url="/static/favicon.svg",
        )


def _font(app: FastAPI) -> None:
    """Serve the bundled CJK font (:mod:`pipelines.fonts`) at ``FONT_URL``, under ``/static``.

    Declared before the ``/static`` mount, which would otherwise answer 404 for it.
    """

    @app.get(FONT_URL, include_in_schema=False)
    def cjk_font() -> FileResponse:
        return FileResponse(
            FONT_FILE,
            media_type="font/otf",
            headers={"Cache-Control": "public, max-age=604800"},
        )


def create_app(settings: WebSettings | None = None) -> FastAPI:
    """Build the application.

    Parameters
    ----------
    settings : qingyuan.web.settings.WebSettings, optional
        Default: :func:`qingyuan.web.settings.load_settings` (configuration and environment).
    """
    from qingyuan import __version__
    from qingyuan.web.api import routers
    from qingyuan.web.pages import routers as page_routers

    settings = settings or load_settings()

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI):  # noqa: ANN202
        # a few threads for the blocking handlers: 40 (anyio's default) only contend for the GIL
        anyio.to_thread.current_default_thread_limiter().total_tokens = THREADS
        yield

    app = FastAPI(
        lifespan=lifespan,
        title="Qingyuan (清源) API",
        version=__version__,
        description=API_DESCRIPTION,
        docs_url=None,  # served below from the bundled Swagger UI (no CDN)
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )
    engine, sessions = open_database(settings.database_url)
    app.state.settings = settings
    app.state.engine, app.state.sessions = engine, sessions
    app.state.policy = Policy(settings.access)
    install_handlers(app)
    for r in routers():
        app.include_router(r, prefix="/api/v1")
    for r in page_routers():
        app.include_router(r)
    _font(app)
    app.mount("/static", StaticFiles(directory=str(_STATIC)), name="static")
    _docs(app)
    lim = settings.web.limits
    app.add_middleware(
        SecurityMiddleware, max_body=lim.max_body_bytes, max_query=lim.max_query_chars
    )
    return app
