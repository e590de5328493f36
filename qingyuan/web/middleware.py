"""ASGI middleware: request size limits and security headers on every response.

Plain ASGI (not ``BaseHTTPMiddleware``) so it adds no per-request task or copy.
"""

from __future__ import annotations

import json

__all__ = ["CSP", "SecurityMiddleware"]

#: Content security policy: everything from this origin, no inline script, no framing.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'"
)
_DOCS_CSP = CSP.replace("script-src 'self'", "script-src 'self' 'unsafe-inline'").replace(
    "style-src 'self'", "style-src 'self' 'unsafe-inline'"
)


def _is_https(scope) -> bool:  # noqa: ANN001 - ASGI scope
    # uvicorn sets the scheme from X-Forwarded-Proto of trusted proxies only
    # (server.forwarded_allow_ips of configs/web.yml); the header itself is not read here
    return scope.get("scheme") == "https"


class SecurityMiddleware:
    """Refuse oversized requests (413/414) and add the security headers.

    Parameters
    ----------
    app : ASGI application
    max_body : int
        Largest request body [bytes].
    max_query : int
        Longest query string [characters].
    """

    def __init__(self, app, *, max_body: int, max_query: int):  # noqa: ANN001
        self.app, self.max_body, self.max_query = app, max_body, max_query

    async def _refuse(self, send, status: int, message: str) -> None:  # noqa: ANN001
        body = json.dumps({"error": {"status": status, "message": message}}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    *self._headers(False, docs=False),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    def _headers(self, https: bool, *, docs: bool) -> list[tuple[bytes, bytes]]:
        out = [
            (b"content-security-policy", (_DOCS_CSP if docs else CSP).encode()),
            (b"x-frame-options", b"DENY"),
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"same-origin"),
            (b"cross-origin-opener-policy", b"same-origin"),
            (b"permissions-policy", b"geolocation=(), camera=(), microphone=()"),
        ]
        if https:
            out.append((b"strict-transport-security", b"max-age=31536000; includeSubDomains"))
        return out

    async def __call__(self, scope, receive, send):  # noqa: ANN001
        """Handle one ASGI event."""
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        if len(scope.get("query_string", b"")) > self.max_query:
            return await self._refuse(
                send, 414, f"query string longer than {self.max_query} characters"
            )
        for k, v in scope.get("headers", []):
            if k == b"content-length":
                try:
                    n = int(v)
                except ValueError:
                    return await self._refuse(send, 400, "invalid Content-Length")
                if n > self.max_body:
                    return await self._refuse(
                        send, 413, f"request body larger than {self.max_body} bytes"
                    )
        https = _is_https(scope)
        docs = scope.get("path", "") in ("/api/docs", "/api/redoc")
        extra = self._headers(https, docs=docs)
        seen = 0
        limit = self.max_body

        async def limited_receive():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise _TooLarge()
            return message

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                names = {k.lower() for k, _ in message.get("headers", [])}
                headers = list(message.get("headers", []))
                headers += [(k, v) for k, v in extra if k not in names]
                if b"cache-control" not in names:
                    headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, limited_receive, send_with_headers)
        except _TooLarge:
            await self._refuse(send, 413, f"request body larger than {self.max_body} bytes")


class _TooLarge(Exception):
    pass
