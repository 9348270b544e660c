"""Who is signed in: a session cookie (pages, and the API from the pages) or an API token
(``Authorization: Bearer``); and the CSRF secrets that every state-changing request
carried by the cookie must bring back."""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass

from fastapi import Request, Response

from fengqiao.web.config import Web
from workflows.access import Viewer
from workflows.accounts import SESSION_LIFETIME, bearer_of, session_of
from workflows.errors import BadInput

__all__ = [
    "CSRF_FIELD",
    "CSRF_HEADER",
    "LOGIN_COOKIE",
    "SESSION_COOKIE",
    "CsrfRefused",
    "NotSignedIn",
    "Signed",
    "check_csrf",
    "login_secret",
    "set_session_cookie",
    "signed_in",
]

SESSION_COOKIE = "fq_session"
LOGIN_COOKIE = "fq_login"  # the sign-in form's secret, before there is a session
CSRF_FIELD = "csrf"
CSRF_HEADER = "X-CSRF-Token"


class NotSignedIn(Exception):
    """No session, an expired one, or a token that is not (any longer) good."""


class CsrfRefused(BadInput):
    """A state-changing request by cookie without its form's secret (HTTP 403)."""

    def __init__(self) -> None:
        super().__init__("the form had expired or did not come from this site: reload the page")


@dataclass(frozen=True)
class Signed:
    """The person of a request; ``csrf`` the secret their forms carry (None for a token)."""

    viewer: Viewer
    csrf: str | None
    by_cookie: bool


def web_of(request: Request) -> Web:
    web: Web = request.app.state.web
    return web


def signed_in(request: Request) -> Signed:
    """The person of this request, once per request; NotSignedIn if none."""
    cached = getattr(request.state, "signed", None)
    if isinstance(cached, Signed):
        return cached
    web = web_of(request)
    now = web.clock()
    header = request.headers.get("authorization")
    signed: Signed | None = None
    if header is not None:  # a token, if given, is the only credential looked at
        scheme, _, token = header.partition(" ")
        viewer = (
            bearer_of(engine=web.engine, now=now, token=token.strip())
            if scheme.lower() == "bearer" and token.strip()
            else None
        )
        signed = Signed(viewer, None, False) if viewer is not None else None
    elif cookie := request.cookies.get(SESSION_COOKIE):
        found = session_of(engine=web.engine, now=now, token=cookie)
        signed = Signed(found[0], found[1], True) if found is not None else None
    if signed is None:
        raise NotSignedIn()
    request.state.signed = signed
    request.state.person = signed.viewer.person  # for the request's log line
    return signed


def check_csrf(signed: Signed, given: str | None) -> None:
    """Refuse a request carried by the session cookie unless it brings the session's secret."""
    if not signed.by_cookie:
        return  # a token is not sent by a browser on its own: nothing to forge
    if not given or signed.csrf is None or not hmac.compare_digest(given, signed.csrf):
        raise CsrfRefused()


def login_secret(request: Request) -> str:
    """The sign-in form's secret: the browser's, or a new one (set by the page)."""
    return request.cookies.get(LOGIN_COOKIE) or secrets.token_urlsafe(24)


def set_session_cookie(response: Response, token: str, *, secure: bool) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(SESSION_LIFETIME.total_seconds()) * 14,  # the database decides: it slides
        httponly=True,
        samesite="lax",
        secure=secure,
        path="/",
    )
