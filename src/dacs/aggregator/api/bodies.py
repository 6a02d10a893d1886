"""Reading JSON request bodies: an object, and fields refused with a message that says why."""

from __future__ import annotations

from datetime import UTC, datetime
import json
import math
import re
from typing import Any

from aiohttp import web

from .errors import BadRequestError

IDENTIFIER = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


async def read_object(request: web.Request) -> dict[str, Any]:
    """The request's body, which must be a JSON object."""
    try:
        document = json.loads(await request.read())
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise BadRequestError(f"the body is not JSON: {err}") from err
    if not isinstance(document, dict):
        raise BadRequestError("the body must be a JSON object")
    return document


def number(document: dict[str, Any], key: str, *, minimum: float = 0.0) -> float:
    """A number >= ``minimum`` (not a boolean, not NaN)."""
    value = document.get(key)
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or math.isnan(value)
        or value < minimum
    ):
        raise BadRequestError(f"{key!r} must be a number >= {minimum:g}")
    return float(value)


def text(
    document: dict[str, Any],
    key: str,
    *,
    pattern: re.Pattern[str] | None = None,
    required: bool = True,
) -> str:
    """A non-empty text of at most 200 characters ("" when optional and absent)."""
    value = document.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or not value or len(value) > 200:
        raise BadRequestError(
            f"{key!r} must be a non-empty text of at most 200 characters"
        )
    if pattern is not None and not pattern.fullmatch(value):
        raise BadRequestError(
            f"{key!r} may contain only letters, digits, '.', '_' and '-'"
        )
    return value


def moment(document: dict[str, Any], key: str) -> datetime:
    """An RFC 3339 time with a time zone, in UTC."""
    value = document.get(key)
    try:
        parsed = (
            datetime.fromisoformat(value)
            if isinstance(value, str) and "T" in value
            else None
        )
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise BadRequestError(f"{key!r} must be an RFC 3339 time with a time zone")
    return parsed.astimezone(UTC)
