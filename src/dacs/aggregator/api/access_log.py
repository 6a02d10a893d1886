"""aiohttp's access log without the token of a dashboard sign-in link."""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlencode

from aiohttp.web_log import AccessLogger
from aiohttp.web_request import BaseRequest
from aiohttp.web_response import StreamResponse

REDACTED = "REDACTED"


def request_line(request: BaseRequest) -> str:
    """The request's first line, with the value of every ``token`` in the query replaced."""
    query = [
        (name, REDACTED if name == "token" else value)
        for name, value in request.query.items()
    ]
    target = f"{request.path}?{urlencode(query)}" if query else request.path
    version = request.version
    return f"{request.method} {target} HTTP/{version.major}.{version.minor}"


class RedactingAccessLogger(AccessLogger):
    """The default format; the request line never shows a token from the URL.

    Only the dashboard's page takes ``?token=`` (every other route refuses
    it), but a refused request is logged too.
    """

    def _format_line(
        self, request: BaseRequest, response: StreamResponse, time: float
    ) -> Iterable[tuple[str | tuple[str, str], str]]:
        line = super()._format_line(request, response, time)
        if request is None or "token" not in request.query:
            return line
        return [
            (key, request_line(request) if key == "first_request_line" else value)
            for key, value in line
        ]
