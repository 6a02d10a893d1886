"""``/api/v1/congestion-points``: register transformers and read their live state."""

from __future__ import annotations

from aiohttp import web

from dacs.aggregator.service import AggregatorService
from dacs.aggregator.storage.tables import CongestionPointRow
from dacs.protocol import format_time

from .app_keys import SERVICE
from .auth import Role, requires
from .requests import CongestionPointCreate, parse, read_object
from .responses import CongestionPoint, LastCycle
from .views import event_json, participation_counts

routes = web.RouteTableDef()


@routes.get("/api/v1/congestion-points")
@requires(Role.READER)
async def list_congestion_points(request: web.Request) -> web.Response:
    """All congestion points with their live state."""
    service = request.app[SERVICE]
    points = await service.registry.congestion_points()
    return web.json_response([_point_json(service, p) for p in points])


@routes.post("/api/v1/congestion-points")
@requires(Role.OPERATOR)
async def create_congestion_point(request: web.Request) -> web.Response:
    """Register a congestion point (transformer)."""
    body = parse(CongestionPointCreate, await read_object(request))
    service = request.app[SERVICE]
    row = await service.registry.add_congestion_point(
        point_id=body.id,
        name=body.name,
        rated_capacity_kw=body.rated_capacity_kw,
        grid_operator=body.grid_operator,
        ean=body.ean,
    )
    await service.reload()
    return web.json_response(
        _point_json(service, row),
        status=201,
    )


@routes.get("/api/v1/congestion-points/{point_id}")
@requires(Role.READER)
async def get_congestion_point(request: web.Request) -> web.Response:
    """One congestion point with its live state."""
    service = request.app[SERVICE]
    point = await service.registry.congestion_point(request.match_info["point_id"])
    return web.json_response(_point_json(service, point))


def _point_json(
    service: AggregatorService, point: CongestionPointRow
) -> CongestionPoint:
    point_id = point.id
    control = service.controls.get(point_id)
    report = control.last_report if control else None
    now = service.clock.now()
    homes = service.fleet.of(point_id)
    counts = participation_counts(homes, now)
    last_cycle: LastCycle | None = (
        None
        if report is None
        else {
            "time": format_time(report.time),
            "cap_kw": report.cap_w / 1000,
            "cap_kind": report.cap.kind.value if report.cap else "rated",
            "measured_load_kw": None
            if report.measured_load_w is None
            else report.measured_load_w / 1000,
            "heat_pump_load_kw": report.heat_pump_load_w / 1000,
            "other_load_kw": report.other_load_w / 1000,
            "forecast_load_kw": report.forecast_load_w / 1000,
            "shortfall_kw": report.shortfall_w / 1000,
            "curtailed_homes": report.curtailed_homes,
        }
    )
    return {
        "id": point_id,
        "name": point.name,
        "rated_capacity_kw": point.rated_capacity_kw,
        "grid_operator": point.grid_operator,
        "ean": point.ean,
        "homes": len(homes),
        "counts": counts,
        "last_cycle": last_cycle,
        "events": [] if control is None else [event_json(e) for e in control.envelopes],
    }
