"""Signing a browser in to the dashboard: ``/api/v1/session`` and the page's sign-in link."""

from __future__ import annotations

from aiohttp import web

from dacs.protocol import format_time

from . import session_cookie
from .auth import AUTH, Role
from .errors import error_response
from .requests import SessionCreate, parse, read_object
from .responses import DashboardSession

routes = web.RouteTableDef()

_REFUSED = "that token was refused: a reader or operator token is needed"


def _answer(session: DashboardSession) -> web.Response:
    return web.json_response(session, headers={"Cache-Control": "no-store"})


@routes.get("/api/v1/session")
async def session_status(request: web.Request) -> web.Response:
    """Whether this browser holds a dashboard session (no 401, so a first visit logs no error)."""
    expires = request.app[AUTH].session_expiry(request)
    return _answer(
        {
            "signed_in": expires is not None,
            "expires": None if expires is None else format_time(expires),
        }
    )


@routes.post("/api/v1/session")
async def sign_in(request: web.Request) -> web.Response:
    """Exchange a reader or operator token for a read-only session cookie."""
    # Another site's page cannot send JSON here without a CORS preflight,
    # which this API never grants: no page but the dashboard signs anyone in.
    if request.content_type != "application/json":
        return error_response(
            415, "malformed", "the body must be JSON (Content-Type: application/json)"
        )
    body = parse(SessionCreate, await read_object(request))
    auth = request.app[AUTH]
    if auth.role_of(body.token) < Role.READER:
        return error_response(401, "unauthorized", _REFUSED)
    value, expires = session_cookie.issue(body.token, auth.now())
    response = _answer({"signed_in": True, "expires": format_time(expires)})
    session_cookie.set_cookie(response, request, value)
    return response


@routes.delete("/api/v1/session")
async def sign_out(request: web.Request) -> web.Response:
    """End this browser's session."""
    response = _answer({"signed_in": False, "expires": None})
    session_cookie.clear_cookie(response, request)
    return response


def sign_in_from_link(request: web.Request, page: str) -> web.StreamResponse | None:
    """For a page opened with ``?token=``: sign in and send the browser on to ``page`` without it.

    None when there is no token in the URL. A refused token still goes on
    (to the sign-in form, told why), so the token never stays in the
    address bar or the history.
    """
    token = request.query.get("token")
    if token is None:
        return None
    auth = request.app[AUTH]
    granted = auth.role_of(token) >= Role.READER
    response = web.Response(
        status=303,
        headers={
            "Location": page if granted else f"{page}#signin=refused",
            "Cache-Control": "no-store",
            "Referrer-Policy": "no-referrer",
        },
    )
    if granted:
        value, _ = session_cookie.issue(token, auth.now())
        session_cookie.set_cookie(response, request, value)
    return response
