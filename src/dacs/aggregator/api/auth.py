"""Bearer tokens with three roles: operators change things, readers (and the dashboard) look, scrapers read /metrics.

A token travels in the ``Authorization`` header, never in a URL (where it
would end up in access logs, browser history and referrers): a request with
``?token=`` is refused, except on the dashboard's page, which takes it once
to sign the browser in (``session_cookie``) and sends it on without it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from enum import IntEnum
import hmac

from aiohttp import hdrs, web
from aiohttp.typedefs import Handler

from . import session_cookie
from .errors import error_response


class Role(IntEnum):
    """Ordered: an operator may do everything a reader may, a reader what a scraper may."""

    NONE = 0
    SCRAPER = 1  # Prometheus: /metrics only, no home's data
    READER = 2
    OPERATOR = 3


class TokenAuth:
    """Maps tokens to roles; compares in constant time."""

    def __init__(
        self,
        operator_tokens: tuple[str, ...],
        reader_tokens: tuple[str, ...],
        metrics_tokens: tuple[str, ...] = (),
        *,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        """Know the tokens; ``now`` (wall clock) for the dashboard's sessions."""
        self._tokens = [
            *((t, Role.OPERATOR) for t in operator_tokens if t),
            *((t, Role.READER) for t in reader_tokens if t),
            *((t, Role.SCRAPER) for t in metrics_tokens if t),
        ]
        self.now = now

    def role_of(self, token: str) -> Role:
        """The role ``token`` grants."""
        # Any bytes may arrive in a header; aiohttp hands them over surrogate-escaped.
        offered = token.encode("utf-8", "surrogateescape")
        granted = Role.NONE
        for known, role in self._tokens:
            if hmac.compare_digest(known.encode(), offered):
                granted = max(granted, role)
        return granted

    @property
    def session_tokens(self) -> list[str]:
        """The tokens that may sign a browser in to the dashboard (reader or more)."""
        return [token for token, role in self._tokens if role >= Role.READER]

    def session_expiry(self, request: web.Request) -> datetime | None:
        """When the request's dashboard session ends; None without a valid one."""
        value = request.cookies.get(session_cookie.COOKIE)
        if not value:
            return None
        return session_cookie.expiry(value, self.session_tokens, self.now())

    def role(self, request: web.Request) -> Role:
        """The role the request's bearer token, or for a read its dashboard session, grants."""
        header = request.headers.get(hdrs.AUTHORIZATION, "")
        if header.startswith("Bearer "):
            return self.role_of(header.removeprefix("Bearer ").strip())
        # The session reads and never writes: a forged cross-site request
        # could not change anything even if SameSite did not stop it.
        if request.method in {hdrs.METH_GET, hdrs.METH_HEAD} and self.session_expiry(
            request
        ):
            return Role.READER
        return Role.NONE


AUTH: web.AppKey[TokenAuth] = web.AppKey("auth", TokenAuth)
REQUIRED_ROLE = "dacs_required_role"
URL_TOKEN_MARK = "dacs_takes_url_token"  # noqa: S105 - an attribute name, not a secret
_REFUSED_IN_URL = (
    "a token in the URL (?token=) is refused: it would be kept in access logs "
    "and browser history. Send it in an 'Authorization: Bearer <token>' header "
    "(only the dashboard's page takes ?token=, once, to sign a browser in)"
)


def takes_url_token[H: Callable[..., Awaitable[web.StreamResponse]]](handler: H) -> H:
    """Mark a page that may be opened with ``?token=`` (it signs the browser in)."""
    setattr(handler, URL_TOKEN_MARK, True)
    return handler


def requires[H: Callable[..., Awaitable[web.StreamResponse]]](
    role: Role,
) -> Callable[[H], H]:
    """Mark a handler with the role it needs (checked by the middleware)."""

    def mark(handler: H) -> H:
        setattr(handler, REQUIRED_ROLE, role)
        return handler

    return mark


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Refuse a token in the URL, and requests whose token lacks the handler's role."""
    if "token" in request.query and not getattr(handler, URL_TOKEN_MARK, False):
        return _unauthorized(_REFUSED_IN_URL)
    needed: Role = getattr(handler, REQUIRED_ROLE, Role.NONE)
    if needed is Role.NONE:
        return await handler(request)
    granted = request.app[AUTH].role(request)
    if granted is Role.NONE:
        if session_cookie.COOKIE in request.cookies and needed is Role.OPERATOR:
            return _unauthorized(
                "the dashboard's session only reads: this needs an operator's "
                "bearer token in the Authorization header"
            )
        return _unauthorized("a valid bearer token is required")
    if granted < needed:
        return error_response(
            403, "forbidden", f"this needs the {needed.name.lower()} role"
        )
    return await handler(request)


def _unauthorized(message: str) -> web.Response:
    return error_response(
        401,
        "unauthorized",
        message,
        **{"WWW-Authenticate": 'Bearer realm="dacs-aggregator"'},
    )
