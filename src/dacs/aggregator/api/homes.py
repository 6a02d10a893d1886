"""``/api/v1/homes``: the enrolled homes' live state."""

from __future__ import annotations

from datetime import datetime

from aiohttp import web

from dacs.aggregator.control.fleet import HomeView
from dacs.aggregator.mqtt.link import PublishError
from dacs.aggregator.registry.errors import NotFoundError

from .app_keys import SERVICE
from .auth import Role, requires
from .errors import error_response
from .requests import BrokerMoveCreate, parse, read_object
from .responses import BrokerMoved, Home

routes = web.RouteTableDef()


@routes.get("/api/v1/homes")
@requires(Role.READER)
async def list_homes(request: web.Request) -> web.Response:
    """Homes with their live state (optionally behind one congestion point)."""
    service = request.app[SERVICE]
    point_id = request.query.get("congestion_point")
    now = service.clock.now()
    views = (
        service.fleet.of(point_id)
        if point_id
        else sorted(service.fleet.homes.values(), key=lambda v: v.home_id)
    )
    return web.json_response([_home_json(v, now) for v in views])


@routes.get("/api/v1/homes/{home_id}")
@requires(Role.READER)
async def get_home(request: web.Request) -> web.Response:
    """One home's live state."""
    service = request.app[SERVICE]
    view = service.fleet.homes.get(request.match_info["home_id"])
    if view is None:
        raise NotFoundError(f"unknown home {request.match_info['home_id']!r}")
    return web.json_response(_home_json(view, service.clock.now()))


@routes.post("/api/v1/homes/{home_id}/broker-move")
@requires(Role.OPERATOR)
async def move_home(request: web.Request) -> web.Response:
    """Tell a home to use another central broker: ``{"broker_id"}``."""
    service = request.app[SERVICE]
    body = parse(BrokerMoveCreate, await read_object(request))
    home_id = request.match_info["home_id"]
    try:
        outcome = await service.broker_mover.move(
            home_id, body.broker_id, now=service.clock.now()
        )
    except PublishError as err:
        # Stored and routed already; telling the home again is harmless.
        return error_response(
            503,
            "internal",
            f"home {home_id} is moved to {body.broker_id}, but a broker did not "
            f"confirm: {err}; repeat the request when both brokers are connected",
        )
    return web.json_response(
        BrokerMoved(
            home_id=outcome.home_id,
            left=outcome.left,
            joined=outcome.joined,
            moved=outcome.moved,
        )
    )


def _home_json(view: HomeView, now: datetime) -> Home:
    telemetry = view.telemetry
    return {
        "id": view.home_id,
        "congestion_point_id": view.congestion_point_id,
        "availability": view.availability(now).value,
        "online": view.reachable(now),
        "electric_power_w": telemetry.electric_power_w if telemetry else None,
        "indoor_temp_c": telemetry.indoor_temp_c if telemetry else None,
        "limit_w": telemetry.limit_w if telemetry else None,
        "limit_source": telemetry.limit_source.value if telemetry else None,
        "comfort_override": telemetry.comfort_override if telemetry else False,
        "baseline_w": view.baseline_w,
        "participation": view.preferences.participation.value
        if view.preferences
        else None,
        "safety_floor_w": view.device.safety_floor_w if view.device else None,
        "command_id": view.command.command_id if view.command else None,
        "curtailment_kwh": round(view.curtailment_kwh + view.pending_kwh, 4),
    }
