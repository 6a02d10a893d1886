"""``/api/v1/congestion-points``: register transformers and read their live state."""

from __future__ import annotations

import logging

from aiohttp import web

from dacs.aggregator.service import AggregatorService
from dacs.aggregator.storage.tables import CongestionPointRow
from dacs.protocol import format_time

from .app_keys import SERVICE
from .auth import Role, requires
from .errors import error_response
from .requests import CongestionPointCreate, parse, read_object
from .responses import (
    CongestionPoint,
    LastCycle,
    PointOwner,
    Quarantine,
    QuarantineLifted,
)
from .views import event_json, participation_counts

_LOGGER = logging.getLogger(__name__)
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
        "quarantine": _quarantine_json(service, point_id),
        "owner": _owner_json(service, point_id),
    }


def _owner_json(service: AggregatorService, point_id: str) -> PointOwner | None:
    """The lease as the last cycle read it (None when not clustered)."""
    ownership = service.ownership
    if ownership.keeper is None:
        return None
    holder = ownership.holders.get(point_id)
    if holder is None:  # registered since the last cycle: no lease row read yet
        return None
    return {
        "instance": holder.owner,
        "epoch": holder.epoch,
        "expires_at": format_time(holder.expires_at),
        "live": holder.live,
        "this_instance": holder.live and holder.owner == ownership.instance_id,
    }


def _quarantine_json(service: AggregatorService, point_id: str) -> Quarantine | None:
    entry = service.quarantine.points.get(point_id)
    if entry is None:
        return None
    return {"since": format_time(entry.since), "reason": entry.reason}


@routes.post("/api/v1/congestion-points/{point_id}/quarantine/lift")
@requires(Role.OPERATOR)
async def lift_quarantine(request: web.Request) -> web.Response:
    """Put a quarantined point back under control: the next cycle includes it."""
    service = request.app[SERVICE]
    point = await service.registry.congestion_point(request.match_info["point_id"])
    if not service.quarantine.lift(point.id):
        return error_response(
            409, "conflict", f"congestion point {point.id} is not quarantined"
        )
    _LOGGER.warning("quarantine of %s lifted by an operator", point.id)
    body: QuarantineLifted = {"lifted": point.id}
    return web.json_response(body)
