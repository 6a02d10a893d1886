"""``/api/v1/congestion-points/{point_id}/measurements``: a transformer's real-time load."""

from __future__ import annotations

from aiohttp import web

from .app_keys import point_control
from .auth import Role, requires
from .requests import Measurement, parse, read_object
from .responses import Accepted

routes = web.RouteTableDef()


@routes.post("/api/v1/congestion-points/{point_id}/measurements")
@requires(Role.OPERATOR)
async def post_measurement(request: web.Request) -> web.Response:
    """A real-time transformer load measurement: ``{"ts": t, "load_kw": x}``."""
    control = point_control(request)
    body = parse(Measurement, await read_object(request))
    control.record_measurement(body.ts, body.load_kw * 1000)
    return web.json_response(Accepted(accepted=True), status=202)
