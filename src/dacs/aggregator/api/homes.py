"""``/api/v1/homes``: the enrolled homes' live state."""

from __future__ import annotations

from datetime import datetime

from aiohttp import web

from dacs.aggregator.control.fleet import HomeView
from dacs.aggregator.registry.errors import NotFoundError

from .app_keys import SERVICE
from .auth import Role, requires
from .responses import Home

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
