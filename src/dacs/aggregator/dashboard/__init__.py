"""The operators' dashboard: static pages over the reader API and its live stream."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from dacs.aggregator.api.auth import takes_url_token
from dacs.aggregator.api.session import sign_in_from_link
from dacs.aggregator.api.stream import add_stream

STATIC = Path(__file__).parent / "static"
PREFIX = "/dashboard/"
# Everything the page needs is served from here (no CDN): the policy can be strict.
# uPlot styles its elements through the CSSOM, which style-src does not restrict.
_CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'self'; base-uri 'none'; form-action 'self'"
)


# The page routes are the only ones that take ?token= (the link `dacs demo`
# prints): they sign the browser in and send it on without the token.


@takes_url_token
async def _to_dashboard(request: web.Request) -> web.StreamResponse:
    # Relative, so the redirect also works behind a path prefix (e.g. HA ingress).
    if (signed_in := sign_in_from_link(request, "dashboard/")) is not None:
        return signed_in
    raise web.HTTPFound("dashboard/")


@takes_url_token
async def _index(request: web.Request) -> web.StreamResponse:
    if (signed_in := sign_in_from_link(request, "./")) is not None:
        return signed_in
    return web.FileResponse(STATIC / "index.html")


async def _secure_headers(request: web.Request, response: web.StreamResponse) -> None:
    if request.path.startswith(PREFIX):
        response.headers.setdefault("Content-Security-Policy", _CONTENT_SECURITY_POLICY)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")


def add_dashboard(app: web.Application) -> None:
    """Serve the dashboard at ``/dashboard/`` with its live stream and history API."""
    add_stream(app)
    app.router.add_get("/", _to_dashboard)
    app.router.add_get("/dashboard", _to_dashboard)
    app.router.add_get(PREFIX, _index)
    app.router.add_static(PREFIX, STATIC, follow_symlinks=False)
    app.on_response_prepare.append(_secure_headers)
