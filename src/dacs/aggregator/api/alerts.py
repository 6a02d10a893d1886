"""``/api/v1/alerts``: the alerts in force and, on request, the recently cleared ones."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import select

from dacs.aggregator.storage.tables import AlertRow
from dacs.protocol import format_time

from .app_keys import SERVICE
from .auth import Role, requires
from .responses import Alert

routes = web.RouteTableDef()


@routes.get("/api/v1/alerts")
@requires(Role.READER)
async def list_alerts(request: web.Request) -> web.Response:
    """Alerts in force (``?all=1``: also the last 200 cleared ones)."""
    service = request.app[SERVICE]
    active: list[Alert] = [
        {
            "kind": alert.kind.value,
            "congestion_point_id": alert.congestion_point_id,
            "home_id": alert.home_id,
            "message": alert.message,
            "raised_at": format_time(alert.raised_at),
            "cleared_at": None,
        }
        for alert in service.alerts.in_force()
    ]
    if request.query.get("all") not in ("1", "true"):
        return web.json_response(active)
    async with service.sessions() as session:
        rows = (
            (
                await session.execute(
                    select(AlertRow)
                    .where(AlertRow.cleared_at.is_not(None))
                    .order_by(AlertRow.raised_at.desc())
                    .limit(200)
                )
            )
            .scalars()
            .all()
        )
    cleared: list[Alert] = [
        {
            "kind": row.kind,
            "congestion_point_id": row.congestion_point_id,
            "home_id": row.home_id,
            "message": row.message,
            "raised_at": format_time(row.raised_at),
            "cleared_at": format_time(row.cleared_at) if row.cleared_at else None,
        }
        for row in rows
    ]
    return web.json_response(active + cleared)
