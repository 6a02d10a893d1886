"""Settlement over the REST API: delivered flexibility, monthly statements (JSON and CSV)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
import functools
from typing import Any

from aiohttp import web

from dacs.aggregator.settlement.config import SettlementConfig
from dacs.aggregator.settlement.delivered import (
    HomeDelivery,
    congestion_point_intervals,
)
from dacs.aggregator.settlement.errors import (
    BadPeriodError,
    BadRangeError,
    UnknownCongestionPointError,
)
from dacs.aggregator.settlement.export import deliveries_csv, statements_csv
from dacs.aggregator.settlement.flex_source import TelemetryFlexSource
from dacs.aggregator.settlement.statements import IssuedStatement, StatementIssuer
from dacs.aggregator.storage.tables import SettlementStatementRow
from dacs.protocol import format_time

from .app_keys import SERVICE
from .auth import Role, requires
from .errors import error_response
from .requests import query_time


class Settlement:
    """The settlement's parts the routes use."""

    def __init__(self, flex: TelemetryFlexSource, issuer: StatementIssuer) -> None:
        """Hold the delivered-flexibility source and the statement issuer."""
        self.flex = flex
        self.issuer = issuer


SETTLEMENT: web.AppKey[Settlement] = web.AppKey("settlement", Settlement)

type _Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _answers_errors(handler: _Handler) -> _Handler:
    """Settlement errors become 400/404 answers that say what to change."""

    @functools.wraps(handler)
    async def wrapped(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except (BadPeriodError, BadRangeError) as err:
            return error_response(400, "malformed", str(err))
        except UnknownCongestionPointError as err:
            return error_response(404, "not_found", str(err))

    return wrapped


def _wants_csv(request: web.Request) -> bool:
    kind = request.query.get("format", "json")
    if kind not in ("json", "csv"):
        raise BadPeriodError(f"format must be 'json' or 'csv', got {kind!r}")
    return kind == "csv"


def _csv(text: str, name: str) -> web.Response:
    return web.Response(
        text=text,
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@requires(Role.READER)
@_answers_errors
async def get_deliveries(request: web.Request) -> web.StreamResponse:
    """Delivered flexibility per 15 minutes of one congestion point, per home and summed."""
    point_id = request.query.get("congestion_point", "")
    if not point_id:
        raise BadRangeError("the query needs 'congestion_point'")
    start = query_time(request, "start")
    end = query_time(request, "end")
    as_csv = _wants_csv(request)
    deliveries = await request.app[SETTLEMENT].flex.home_deliveries(
        point_id, start, end
    )
    if as_csv:
        return _csv(deliveries_csv(deliveries), f"deliveries-{point_id}.csv")
    return web.json_response(
        {
            "congestion_point_id": point_id,
            "start": format_time(start),
            "end": format_time(end),
            "intervals": [
                _interval_json(
                    i.start, i.end, i.baseline_kw, i.measured_kw, i.delivered_kw
                )
                | {"homes_reporting": i.homes_reporting}
                for i in congestion_point_intervals(deliveries)
            ],
            "homes": [_home_json(d) for d in deliveries],
        }
    )


def _interval_json(
    start: datetime, end: datetime, baseline: float, measured: float, delivered: float
) -> dict[str, Any]:
    return {
        "start": format_time(start),
        "end": format_time(end),
        "baseline_kw": round(baseline, 4),
        "measured_kw": round(measured, 4),
        "delivered_kw": round(delivered, 4),
    }


def _home_json(delivery: HomeDelivery) -> dict[str, Any]:
    return {
        "home_id": delivery.home_id,
        "delivered_kwh": round(delivery.delivered_kwh, 4),
        "extra_heat_kwh": round(delivery.extra_heat_kwh, 4),
        "events": sorted(delivery.events),
        "intervals": [
            _interval_json(i.start, i.end, i.baseline_kw, i.measured_kw, i.delivered_kw)
            for i in delivery.intervals()
        ],
    }


@requires(Role.READER)
@_answers_errors
async def get_statements(request: web.Request) -> web.StreamResponse:
    """The period's statements as last issued (``?period=YYYY-MM``, ``&format=csv``)."""
    period = request.query.get("period", "")
    point_id = request.query.get("congestion_point") or None
    as_csv = _wants_csv(request)
    rows = await request.app[SETTLEMENT].issuer.stored(period, point_id)
    if as_csv:
        return _csv(statements_csv(rows), f"statements-{period}.csv")
    return web.json_response([_statement_json(row) for row in rows])


def _statement_json(row: SettlementStatementRow) -> dict[str, Any]:
    return {
        "home_id": row.home_id,
        "congestion_point_id": row.congestion_point_id,
        "period": row.period,
        "delivered_kwh": round(row.delivered_kwh, 4),
        "price_eur_per_kwh": row.price_eur_per_kwh,
        "earnings_eur": round(row.earnings_eur, 2),
        "extra_gas_m3": round(row.extra_gas_m3, 4),
        "gas_compensation_eur": round(row.gas_compensation_eur, 2),
        "total_eur": round(row.earnings_eur + row.gas_compensation_eur, 2),
        "events": row.events,
        "final": row.final,
        "issued_at": format_time(row.issued_at),
        "published_at": format_time(row.published_at) if row.published_at else None,
    }


@requires(Role.OPERATOR)
@_answers_errors
async def issue_statements(request: web.Request) -> web.StreamResponse:
    """Compute, store and send every home's statement for the period."""
    issued = await request.app[SETTLEMENT].issuer.issue(request.match_info["period"])
    return web.json_response(
        {
            "period": request.match_info["period"],
            "statements": len(issued),
            "published": sum(s.published for s in issued),
            "homes": [_issued_json(s) for s in issued],
        },
        status=201,
    )


def _issued_json(issued: IssuedStatement) -> dict[str, Any]:
    settlement = issued.settlement
    return {
        "home_id": settlement.home_id,
        "congestion_point_id": issued.congestion_point_id,
        "delivered_kwh": round(settlement.delivered_kwh, 4),
        "price_eur_per_kwh": settlement.price_eur_per_kwh,
        "earnings_eur": round(settlement.earnings_eur, 2),
        "extra_gas_m3": round(settlement.extra_gas_m3, 4),
        "gas_compensation_eur": round(settlement.gas_compensation_eur, 2),
        "events": settlement.events,
        "final": issued.statement.final,
        "published": issued.published,
    }


def add_settlement_routes(
    app: web.Application, config: SettlementConfig | None = None
) -> None:
    """Build the settlement on the app's service and register its routes."""
    service = app[SERVICE]
    flex = TelemetryFlexSource(service.sessions, clock=service.clock, config=config)
    app[SETTLEMENT] = Settlement(
        flex,
        StatementIssuer(
            service.sessions, flex, clock=service.clock, publisher=service.link
        ),
    )
    r = app.router
    r.add_get("/api/v1/settlement/deliveries", get_deliveries)
    r.add_get("/api/v1/settlement/statements", get_statements)
    # Any one segment reaches the handler, braces included (aiohttp's default
    # pattern refuses "{" and "}" with a 404), so a malformed period is the
    # documented 400.
    r.add_post("/api/v1/settlement/statements/{period:[^/]+}", issue_statements)
