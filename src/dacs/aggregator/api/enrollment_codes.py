"""``/api/v1/enrollment-codes``: the one-time codes a home enrolls with."""

from __future__ import annotations

from datetime import timedelta

from aiohttp import web

from dacs.aggregator.storage.tables import EnrollmentCodeRow
from dacs.protocol import format_time

from .app_keys import SERVICE
from .auth import Role, requires
from .requests import CodesCreate, parse, read_object
from .responses import EnrollmentCode, Revoked

routes = web.RouteTableDef()


@routes.post("/api/v1/enrollment-codes")
@requires(Role.OPERATOR)
async def create_codes(request: web.Request) -> web.Response:
    """Create enrollment codes: ``{"congestion_point_id", "count", "valid_days", "note"}``."""
    service = request.app[SERVICE]
    body = parse(CodesCreate, await read_object(request))
    rows = await service.registry.create_codes(
        body.congestion_point_id,
        count=int(body.count),
        valid_for=timedelta(days=body.valid_days),
        note=body.note or "",
    )
    return web.json_response([_code_json(r) for r in rows], status=201)


@routes.get("/api/v1/enrollment-codes")
@requires(Role.OPERATOR)
async def list_codes(request: web.Request) -> web.Response:
    """Enrollment codes, newest first."""
    rows = await request.app[SERVICE].registry.codes(
        request.query.get("congestion_point")
    )
    return web.json_response([_code_json(r) for r in rows])


@routes.delete("/api/v1/enrollment-codes/{code}")
@requires(Role.OPERATOR)
async def revoke_code(request: web.Request) -> web.Response:
    """Make an unused code unusable."""
    await request.app[SERVICE].registry.revoke_code(request.match_info["code"])
    return web.json_response(Revoked(revoked=request.match_info["code"]))


def _code_json(row: EnrollmentCodeRow) -> EnrollmentCode:
    return {
        "code": row.code,
        "congestion_point_id": row.congestion_point_id,
        "created_at": format_time(row.created_at),
        "expires_at": format_time(row.expires_at),
        "used_at": format_time(row.used_at) if row.used_at else None,
        "home_id": row.home_id,
        "revoked_at": format_time(row.revoked_at) if row.revoked_at else None,
        "note": row.note,
    }
