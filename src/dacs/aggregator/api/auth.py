"""Bearer tokens with three roles: operators change things, readers (and the dashboard) look, scrapers read /metrics."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from enum import IntEnum
import hmac

from aiohttp import web
from aiohttp.typedefs import Handler

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
    ) -> None:
        """Know the tokens."""
        self._tokens = [
            *((t, Role.OPERATOR) for t in operator_tokens if t),
            *((t, Role.READER) for t in reader_tokens if t),
            *((t, Role.SCRAPER) for t in metrics_tokens if t),
        ]

    def role(self, request: web.Request) -> Role:
        """The role the request's bearer token grants."""
        header = request.headers.get("Authorization", "")
        token = (
            header.removeprefix("Bearer ").strip()
            if header.startswith("Bearer ")
            else ""
        )
        if not token:
            token = request.query.get("token", "")  # EventSource cannot send headers
        granted = Role.NONE
        for known, role in self._tokens:
            if hmac.compare_digest(known.encode(), token.encode()):
                granted = max(granted, role)
        return granted


AUTH: web.AppKey[TokenAuth] = web.AppKey("auth", TokenAuth)
REQUIRED_ROLE = "dacs_required_role"


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
    """Refuse requests whose token lacks the handler's role."""
    needed: Role = getattr(handler, REQUIRED_ROLE, Role.NONE)
    if needed is Role.NONE:
        return await handler(request)
    granted = request.app[AUTH].role(request)
    if granted is Role.NONE:
        return error_response(
            401,
            "unauthorized",
            "a valid bearer token is required",
            **{"WWW-Authenticate": 'Bearer realm="dacs-aggregator"'},
        )
    if granted < needed:
        return error_response(
            403, "forbidden", f"this needs the {needed.name.lower()} role"
        )
    return await handler(request)
