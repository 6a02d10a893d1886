"""The dashboard's sign-in cookie: read-only access for a browser, without the token in it.

A browser cannot put a bearer token on an EventSource, so the dashboard
signs in once (with a token in a form, or in the link ``dacs demo`` prints)
and then holds this cookie. Its value is an expiry and an HMAC of that expiry
keyed with the token that signed in: the token itself is never in the
browser's cookie jar, every aggregator instance that knows the token accepts
it (no session store), and removing the token from the configuration ends
every session made with it. It is ``HttpOnly`` (scripts on the page cannot
read it), ``SameSite=Strict`` (no other site's page makes the browser send
it) and limited to the API's path; the API takes it for GET and HEAD only
and grants the reader role at most, so it can never change anything.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
import hashlib
import hmac
import re

from aiohttp import web

COOKIE = "dacs_session"
LIFETIME = timedelta(hours=12)  # a working day at the dashboard
API_PATH = "/api/v1/"
_CONTEXT = b"dacs-dashboard-session-v1:"
# What a reverse proxy may say the aggregator is mounted under.
_PREFIX = re.compile(r"(/[A-Za-z0-9._~-]+)*")


def _mac(token: str, expires: int) -> bytes:
    digest = hmac.new(
        token.encode(), _CONTEXT + str(expires).encode(), hashlib.sha256
    ).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=")


def issue(token: str, now: datetime) -> tuple[str, datetime]:
    """A cookie value for ``token``, and when it expires."""
    expires = int((now + LIFETIME).timestamp())
    value = f"{expires}.{_mac(token, expires).decode()}"
    return value, datetime.fromtimestamp(expires, UTC)


def expiry(value: str, tokens: Iterable[str], now: datetime) -> datetime | None:
    """When a cookie made with one of ``tokens`` expires; None if it is not one or has expired."""
    stamp, _, mac = value.partition(".")
    if not (stamp.isascii() and stamp.isdigit()) or len(stamp) > 12 or not mac:
        return None
    # A browser may send any bytes; aiohttp hands them over surrogate-escaped.
    signature = mac.encode("utf-8", "surrogateescape")
    expires = int(stamp)
    # One made for longer than LIFETIME was not made here.
    if not now.timestamp() < expires <= (now + LIFETIME).timestamp() + 1:
        return None
    valid = False
    for token in tokens:
        # Every token is tried, so the time taken does not say which matched.
        valid |= hmac.compare_digest(_mac(token, expires), signature)
    return datetime.fromtimestamp(expires, UTC) if valid else None


def _path(request: web.Request) -> str:
    """The API's path as the browser sees it (behind a proxy that names its prefix)."""
    prefix = request.headers.get("X-Forwarded-Prefix", "").rstrip("/")
    return (prefix if _PREFIX.fullmatch(prefix) else "") + API_PATH


def _secure(request: web.Request) -> bool:
    return request.secure or request.headers.get("X-Forwarded-Proto") == "https"


def set_cookie(response: web.StreamResponse, request: web.Request, value: str) -> None:
    """Sign the browser in with a value from ``issue``."""
    response.set_cookie(
        COOKIE,
        value,
        max_age=int(LIFETIME.total_seconds()),
        path=_path(request),
        httponly=True,
        samesite="Strict",
        secure=_secure(request),
    )


def clear_cookie(response: web.StreamResponse, request: web.Request) -> None:
    """Sign the browser out."""
    response.del_cookie(
        COOKIE,
        path=_path(request),
        httponly=True,
        samesite="Strict",
        secure=_secure(request),
    )
