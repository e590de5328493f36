"""The web application and HTTP API (``qingyuan web``).

- :mod:`~qingyuan.web.app`: :func:`create_app`, the FastAPI application.
- :mod:`~qingyuan.web.settings`: workspace, ``configs/web.yml``, ``configs/access.yml``, database, secret.
- :mod:`~qingyuan.web.policy`: the one access-control function (classification levels, roles).
- :mod:`~qingyuan.web.accounts`: users (Argon2id), sessions, bearer tokens, rate limits, audit rows.
- :mod:`~qingyuan.web.db`: the SQLAlchemy tables (SQLite by default, PostgreSQL alike).
- :mod:`~qingyuan.web.deps`: who is asking, may they, paginated and conditional JSON replies.
- :mod:`~qingyuan.web.api`: the ``/api/v1`` routes, one module per domain.
- :mod:`~qingyuan.web.pages`: the server-rendered pages (zh / en), :mod:`~qingyuan.web.charts` SVG.

Handlers are thin: parse, one call into :mod:`pipelines.results` (reads) or :mod:`pipelines`
(actions), present.
"""

from __future__ import annotations

from qingyuan.web.app import create_app

__all__ = ["create_app"]
