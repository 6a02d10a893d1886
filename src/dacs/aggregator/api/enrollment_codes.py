"""``/api/v1/enrollment-codes``: the one-time codes a home enrolls with."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from aiohttp import web

from dacs.protocol import format_time

from .app_keys import SERVICE
from .auth import Role, requires
from .bodies import IDENTIFIER, number, read_object, text

routes = web.RouteTableDef()


@routes.post("/api/v1/enrollment-codes")
@requires(Role.OPERATOR)
async def create_codes(request: web.Request) -> web.Response:
    """Create enrollment codes: ``{"congestion_point_id", "count", "valid_days", "note"}``."""
    service = request.app[SERVICE]
    document = await read_object(request)
    count = int(number(document, "count", minimum=1)) if "count" in document else 1
    days = (
        number(document, "valid_days", minimum=0.01)
        if "valid_days" in document
        else 14.0
    )
    rows = await service.registry.create_codes(
        text(document, "congestion_point_id", pattern=IDENTIFIER),
        count=count,
        valid_for=timedelta(days=days),
        note=text(document, "note", required=False),
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
    return web.json_response({"revoked": request.match_info["code"]})


def _code_json(row: Any) -> dict[str, Any]:
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
