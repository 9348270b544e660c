"""The web app: pages for mediators and supervisors and the JSON API ``/api/v1``, served by
one ASGI app with the security headers on every answer."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

import structlog
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from fengqiao.web.api import api_app
from fengqiao.web.config import Web
from fengqiao.web.pages import pages_app

__all__ = ["create_app"]

log = structlog.get_logger(__name__)

STATIC = Path(__file__).with_name("static")
# No inline script or style anywhere: htmx is configured by a <meta> and its indicator
# styles are off; every script and style is a file of this app.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "object-src 'none'"
)
_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
]
_NO_STORE = (b"cache-control", b"no-store")  # pages and API answers carry personal data
_STATIC_CACHE = (b"cache-control", b"public, max-age=3600")
_HSTS = (b"strict-transport-security", b"max-age=31536000")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGI = Callable[[Scope, Receive, Send], Awaitable[None]]


class Guarded:
    """ASGI middleware: the security headers on every answer, no caching but of the static
    files, and one log event per request (method, path, status, time; never the query,
    the body or a cookie)."""

    def __init__(self, app: ASGI, *, https: bool) -> None:
        self.app, self.https = app, https

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        static = scope["path"].startswith("/static/")
        status = 500

        async def send_guarded(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [
                    (k, v) for k, v in message.get("headers", []) if k.lower() != b"cache-control"
                ]
                headers += _HEADERS
                headers.append(_STATIC_CACHE if static else _NO_STORE)
                if self.https:
                    headers.append(_HSTS)
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_guarded)
        finally:
            if not static:
                state = scope.get("state") or {}
                log.info(
                    "request",
                    method=scope["method"],
                    path=scope["path"],
                    status=status,
                    ms=round((time.perf_counter() - started) * 1000, 1),
                    person=state.get("person"),
                )


def create_app(web: Web) -> Any:
    """The app serving ``web``'s database: pages at ``/``, the API at ``/api/v1``."""
    app = pages_app(web)
    app.mount("/api/v1", api_app(web))
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return Guarded(app, https=web.https)


def inner(app: Any) -> FastAPI:
    """The FastAPI app inside :func:`create_app`'s middleware (for tests)."""
    found: FastAPI = app.app
    return found
