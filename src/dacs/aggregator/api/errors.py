"""JSON error answers shaped as the protocol's error.json."""

from __future__ import annotations

from aiohttp import web


def error_response(
    status: int, code: str, message: str, **headers: str
) -> web.Response:
    """An error answer with a machine-readable code and a message for people."""
    return web.json_response(
        {"error": code, "message": message}, status=status, headers=headers
    )
