"""JSON error answers shaped as the protocol's error.json, and the middleware that gives them."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from dacs.aggregator.registry.errors import (
    CodeUsedError,
    ConflictError,
    NotFoundError,
    UnknownCodeError,
)
from dacs.excerpt import quoted

ERROR_CODES = (
    "malformed",
    "unauthorized",
    "forbidden",
    "not_found",
    "conflict",
    "too_large",
    "unknown_code",
    "code_used",
    "code_expired",
    "rate_limited",
    "internal",
)
"""Every ``error`` an answer of the API may carry (the OpenAPI document lists them)."""


class BadRequestError(Exception):
    """A request body that cannot be used; the message says why."""


def error_response(
    status: int, code: str, message: str, **headers: str
) -> web.Response:
    """An error answer with a machine-readable code and a message for people."""
    return web.json_response(
        {"error": code, "message": message}, status=status, headers=headers
    )


@web.middleware
async def errors_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    """Every failure answers with a clear JSON error, never a traceback."""
    try:
        response: web.StreamResponse = await handler(request)
    except BadRequestError as err:
        return error_response(400, "malformed", str(err))
    except (NotFoundError, UnknownCodeError, KeyError) as err:
        return error_response(404, "not_found", str(err).strip("'\""))
    except (ConflictError, CodeUsedError) as err:
        return error_response(409, "conflict", str(err))
    except ValueError as err:
        return error_response(400, "malformed", str(err))
    except web.HTTPRequestEntityTooLarge:
        return error_response(413, "too_large", "the request body is too large")
    except web.HTTPNotFound:
        # No route matched (a path value with an encoded '/', say): JSON too.
        return error_response(404, "not_found", f"nothing at {quoted(request.path)}")
    return response
