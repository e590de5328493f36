"""Server-rendered pages: Jinja2 (autoescaped), the page language and the message catalogue.

The language comes from ``?lang=`` (remembered in a cookie), else the ``qy_lang`` cookie, else the
browser's Accept-Language, else the first of ``languages`` in ``configs/web.yml``. Messages live in
``qingyuan/web/messages.yml`` (``key: {zh: ..., en: ...}``).
"""

from __future__ import annotations

import functools
from importlib.resources import files
from pathlib import Path
from typing import Any

import yaml
from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

__all__ = ["lang_of", "messages", "render", "render_error", "translate"]

_HERE = Path(str(files("qingyuan.web")))
LANG_COOKIE = "qy_lang"


@functools.cache
def messages() -> dict[str, dict[str, str]]:
    """Return the message catalogue."""
    return yaml.safe_load((_HERE / "messages.yml").read_text(encoding="utf-8"))


def translate(key: str, lang: str) -> str:
    """Message ``key`` in ``lang`` (the key itself when the catalogue lacks it)."""
    entry = messages().get(key)
    if entry is None:
        return key
    return entry.get(lang) or entry.get("en") or key


def lang_of(request: Request) -> str:
    """Return the language of this request's pages (``zh`` or ``en``)."""
    langs = request.app.state.settings.web.languages
    asked = request.query_params.get("lang") or request.cookies.get(LANG_COOKIE)
    if asked in langs:
        return asked
    accept = request.headers.get("accept-language", "").lower()
    for part in accept.split(","):
        code = part.split(";")[0].strip()[:2]
        if code in langs:
            return code
    return langs[0]


@functools.cache
def _env() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(_HERE / "templates")),
        autoescape=select_autoescape(["html", "xml"], default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return env


def _name(d: Any, lang: str) -> str:
    if isinstance(d, dict):
        return str(d.get(lang) or d.get("en") or d.get("zh") or "")
    return "" if d is None else str(d)


def render(
    request: Request, template: str, context: dict[str, Any], status: int = 200
) -> HTMLResponse:
    """Render a page with the common context (who, language, navigation, CSRF token)."""
    from qingyuan.web.deps import principal, readable

    lang = lang_of(request)
    try:
        who = principal(request)
    except Exception:  # noqa: BLE001 - an invalid token on a page: render as the public
        from qingyuan.web.accounts import ANONYMOUS

        who = ANONYMOUS
    policy = request.app.state.policy
    nav = [
        ("map", "/", None),
        ("warnings", "/warnings", "warnings"),
        ("water", "/water", "water_class"),
        ("soil", "/soil", "soil"),
        ("sources", "/sources", "sources"),
        ("operations", "/operations", "operations"),
        ("users", "/users", "users"),
    ]
    nav = [(k, href) for k, href, ds in nav if ds is None or readable(request, who, ds)]
    ctx = {
        "request": request,
        "who": who,
        "lang": lang,
        "other_lang": "en" if lang == "zh" else "zh",
        "t": lambda key: translate(key, lang),
        "name": lambda d: _name(d, lang),
        "nav": nav,
        "path": request.url.path,
        "csrf": who.csrf or "",
        "role_name": _name(policy.spec.roles[who.role].names.model_dump(), lang),
        **context,
    }
    html = _env().get_template(template).render(**ctx)
    resp = HTMLResponse(html, status_code=status)
    resp.headers["Cache-Control"] = "private, no-store"
    resp.headers["Vary"] = "Cookie, Accept-Language"
    if request.query_params.get("lang") in request.app.state.settings.web.languages:
        resp.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, samesite="lax", httponly=True)
    return resp


def render_error(request: Request, status: int, title: str, message: str) -> HTMLResponse:
    """Return the error page."""
    return render(
        request, "error.html", {"status": status, "title": title, "message": message}, status
    )
