"""``/api/v1/congestion-points/{point_id}/events``: put a capacity envelope in force, or end it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
import uuid

from aiohttp import web

from dacs.aggregator.domain.envelope import (
    CapacityEnvelope,
    CapacityInterval,
    EnvelopeKind,
)
from dacs.aggregator.registry.errors import ConflictError, NotFoundError

from .app_keys import SERVICE
from .auth import Role, requires
from .bodies import IDENTIFIER, moment, number, read_object
from .errors import BadRequestError
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
    kind = document.get("kind")
    event_id = document.get("id") or f"ev-{uuid.uuid4().hex[:12]}"
    if not isinstance(event_id, str) or not IDENTIFIER.fullmatch(event_id):
        raise BadRequestError("'id' may contain only letters, digits, '.', '_' and '-'")
    if kind == "manual":
        raw = document.get("intervals")
        if not isinstance(raw, list) or not raw or len(raw) > 192:
            raise BadRequestError("'intervals' must be a list of 1 to 192 intervals")
        intervals = tuple(
            CapacityInterval(
                start=moment(i, "start"),
                end=moment(i, "end"),
                cap_w=number(i, "cap_kw") * 1000,
            )
            if isinstance(i, dict)
            else _fail("each interval must be an object")
            for i in raw
        )
        event = CapacityEnvelope(
            envelope_id=event_id,
            kind=EnvelopeKind.MANUAL,
            intervals=intervals,
            origin=_ORIGIN,
        )
    elif kind == "dynamic":
        caps = document.get("caps_kw")
        if (
            not isinstance(caps, list)
            or not 1 <= len(caps) <= 192
            or not all(
                isinstance(c, int | float) and not isinstance(c, bool) and c >= 0
                for c in caps
            )
        ):
            raise BadRequestError("'caps_kw' must be a list of 1 to 192 numbers >= 0")
        event = CapacityEnvelope.day_ahead(
            event_id,
            moment(document, "start"),
            [float(c) * 1000 for c in caps],
            origin=_ORIGIN,
        )
    elif kind == "emergency":
        minutes = number(document, "duration_minutes", minimum=1)
        if minutes > 24 * 60:
            raise BadRequestError("an emergency stop lasts at most 24 hours")
        event = CapacityEnvelope.emergency_stop(
            event_id,
            moment(document, "start"),
            timedelta(minutes=minutes),
            origin=_ORIGIN,
        )
    else:
        raise BadRequestError("'kind' must be 'manual', 'dynamic' or 'emergency'")
    try:
        await service.put_in_force(point_id, event)
    except Exception as err:
        if "UNIQUE" in str(err).upper() or "duplicate key" in str(err):
            raise ConflictError(f"event {event_id!r} exists already") from err
        raise
    return web.json_response(event_json(event), status=201)


def _fail(message: str) -> Any:
    raise BadRequestError(message)


@routes.delete("/api/v1/congestion-points/{point_id}/events/{event_id}")
@requires(Role.OPERATOR)
async def cancel_event(request: web.Request) -> web.Response:
    """End an event early; its homes are released (staggered)."""
    service = request.app[SERVICE]
    if not await service.withdraw(
        request.match_info["point_id"], request.match_info["event_id"]
    ):
        raise NotFoundError("no such event in force")
    return web.json_response({"cancelled": request.match_info["event_id"]})
