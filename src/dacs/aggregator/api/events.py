"""``/api/v1/congestion-points/{point_id}/events``: put a capacity envelope in force, or end it."""

from __future__ import annotations

import uuid

from aiohttp import web

from dacs.aggregator.registry.errors import ConflictError, NotFoundError

from .app_keys import SERVICE
from .auth import Role, requires
from .requests import EVENT_BODIES, EventHeader, parse, read_object
from .responses import Cancelled
from .views import event_json

_ORIGIN = "api"  # stored with the envelopes operators create here

routes = web.RouteTableDef()


@routes.post("/api/v1/congestion-points/{point_id}/events")
@requires(Role.OPERATOR)
async def create_event(request: web.Request) -> web.Response:
    """A manual event, a day-ahead profile or an emergency stop on a congestion point.

    Bodies: ``{"kind": "manual", "intervals": [{"start", "end", "cap_kw"}]}``,
    ``{"kind": "dynamic", "start": t, "caps_kw": [..]}`` (15-minute intervals), or
    ``{"kind": "emergency", "start": t, "duration_minutes": m}``.
    """
    service = request.app[SERVICE]
    point_id = request.match_info["point_id"]
    await service.registry.congestion_point(point_id)
    document = await read_object(request)
    header = parse(EventHeader, document)
    event_id = header.id or f"ev-{uuid.uuid4().hex[:12]}"
    event = parse(EVENT_BODIES[header.kind], document).envelope(
        event_id, origin=_ORIGIN
    )
    try:
        await service.put_in_force(point_id, event)
    except Exception as err:
        if "UNIQUE" in str(err).upper() or "duplicate key" in str(err):
            raise ConflictError(f"event {event_id!r} exists already") from err
        raise
    return web.json_response(event_json(event), status=201)


@routes.delete("/api/v1/congestion-points/{point_id}/events/{event_id}")
@requires(Role.OPERATOR)
async def cancel_event(request: web.Request) -> web.Response:
    """End an event early; its homes are released (staggered)."""
    service = request.app[SERVICE]
    if not await service.withdraw(
        request.match_info["point_id"], request.match_info["event_id"]
    ):
        raise NotFoundError("no such event in force")
    return web.json_response(Cancelled(cancelled=request.match_info["event_id"]))
