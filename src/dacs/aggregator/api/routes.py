"""The operators' REST API (``/api/v1``): registry, events, measurements, homes, alerts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
import json
import math
import re
from typing import TYPE_CHECKING, Any
import uuid

from aiohttp import web
from sqlalchemy import select

from dacs.aggregator.domain.envelope import (
    CapacityEnvelope,
    CapacityInterval,
    EnvelopeKind,
)
from dacs.aggregator.registry.errors import (
    CodeUsedError,
    ConflictError,
    NotFoundError,
    UnknownCodeError,
)
from dacs.aggregator.service import AggregatorService
from dacs.aggregator.storage.tables import AlertRow, CongestionPointRow
from dacs.protocol import format_time

from .auth import Role, requires
from .errors import error_response
from .views import event_json, participation_counts

if TYPE_CHECKING:
    from dacs.aggregator.openadr.ven import OpenAdrVen

SERVICE: web.AppKey[AggregatorService] = web.AppKey("service", AggregatorService)
# Set when the OpenADR VEN runs (app.py); its counters go to /metrics.
OPENADR_VEN: web.AppKey[OpenAdrVen] = web.AppKey("openadr_ven")
_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_ORIGIN = "api"  # stored with the envelopes operators create here


class BadRequestError(Exception):
    """A request body that cannot be used; the message says why."""


async def _body(request: web.Request) -> dict[str, Any]:
    try:
        document = json.loads(await request.read())
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise BadRequestError(f"the body is not JSON: {err}") from err
    if not isinstance(document, dict):
        raise BadRequestError("the body must be a JSON object")
    return document


def _number(document: dict[str, Any], key: str, *, minimum: float = 0.0) -> float:
    value = document.get(key)
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or math.isnan(value)
        or value < minimum
    ):
        raise BadRequestError(f"{key!r} must be a number >= {minimum:g}")
    return float(value)


def _text(
    document: dict[str, Any],
    key: str,
    *,
    pattern: re.Pattern[str] | None = None,
    required: bool = True,
) -> str:
    value = document.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or not value or len(value) > 200:
        raise BadRequestError(
            f"{key!r} must be a non-empty text of at most 200 characters"
        )
    if pattern is not None and not pattern.fullmatch(value):
        raise BadRequestError(
            f"{key!r} may contain only letters, digits, '.', '_' and '-'"
        )
    return value


def _time(document: dict[str, Any], key: str) -> datetime:
    value = document.get(key)
    try:
        moment = (
            datetime.fromisoformat(value)
            if isinstance(value, str) and "T" in value
            else None
        )
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise BadRequestError(f"{key!r} must be an RFC 3339 time with a time zone")
    return moment.astimezone(UTC)


def _service(request: web.Request) -> AggregatorService:
    return request.app[SERVICE]


@web.middleware
async def errors_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    """Every failure answers with a clear JSON error, never a traceback."""
    try:
        response: web.StreamResponse = await handler(request)
    except BadRequestError as err:
        return error_response(400, "malformed", str(err))
    except (NotFoundError, UnknownCodeError, KeyError) as err:
        return error_response(404, "not_found", str(err).strip("'\""))
    except (ConflictError, CodeUsedError) as err:
        return error_response(409, "conflict", str(err))
    except ValueError as err:
        return error_response(400, "malformed", str(err))
    except web.HTTPRequestEntityTooLarge:
        return error_response(413, "too_large", "the request body is too large")
    return response


async def health(request: web.Request) -> web.Response:
    """Liveness and readiness: the broker link and the database."""
    service = _service(request)
    broker = service.link.connected
    return web.json_response(
        {"status": "ok" if broker else "degraded", "broker_connected": broker},
        status=200 if broker else 503,
    )


@requires(Role.READER)
async def list_congestion_points(request: web.Request) -> web.Response:
    """All congestion points with their live state."""
    service = _service(request)
    points = await service.registry.congestion_points()
    return web.json_response([_point_json(service, p) for p in points])


@requires(Role.OPERATOR)
async def create_congestion_point(request: web.Request) -> web.Response:
    """Register a congestion point (transformer)."""
    document = await _body(request)
    service = _service(request)
    row = await service.registry.add_congestion_point(
        point_id=_text(document, "id", pattern=_ID),
        name=_text(document, "name"),
        rated_capacity_kw=_number(document, "rated_capacity_kw", minimum=0.001),
        grid_operator=_text(document, "grid_operator"),
        ean=_text(document, "ean", required=False) or None,
    )
    await service.reload()
    return web.json_response(
        _point_json(service, row),
        status=201,
    )


@requires(Role.READER)
async def get_congestion_point(request: web.Request) -> web.Response:
    """One congestion point with its live state."""
    service = _service(request)
    point = await service.registry.congestion_point(request.match_info["point_id"])
    return web.json_response(_point_json(service, point))


def _point_json(
    service: AggregatorService, point: CongestionPointRow
) -> dict[str, Any]:
    point_id = point.id
    control = service.controls.get(point_id)
    report = control.last_report if control else None
    now = service.clock.now()
    homes = service.fleet.of(point_id)
    counts = participation_counts(homes, now)
    return {
        "id": point_id,
        "name": point.name,
        "rated_capacity_kw": point.rated_capacity_kw,
        "grid_operator": point.grid_operator,
        "ean": point.ean,
        "homes": len(homes),
        "counts": counts,
        "last_cycle": None
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
        },
        "events": [] if control is None else [event_json(e) for e in control.envelopes],
    }


@requires(Role.OPERATOR)
async def create_event(request: web.Request) -> web.Response:
    """A manual event, a day-ahead profile or an emergency stop on a congestion point.

    Bodies: ``{"kind": "manual", "intervals": [{"start", "end", "cap_kw"}]}``,
    ``{"kind": "dynamic", "start": t, "caps_kw": [..]}`` (15-minute intervals), or
    ``{"kind": "emergency", "start": t, "duration_minutes": m}``.
    """
    service = _service(request)
    point_id = request.match_info["point_id"]
    await service.registry.congestion_point(point_id)
    document = await _body(request)
    kind = document.get("kind")
    event_id = document.get("id") or f"ev-{uuid.uuid4().hex[:12]}"
    if not isinstance(event_id, str) or not _ID.fullmatch(event_id):
        raise BadRequestError("'id' may contain only letters, digits, '.', '_' and '-'")
    if kind == "manual":
        raw = document.get("intervals")
        if not isinstance(raw, list) or not raw or len(raw) > 192:
            raise BadRequestError("'intervals' must be a list of 1 to 192 intervals")
        intervals = tuple(
            CapacityInterval(
                start=_time(i, "start"),
                end=_time(i, "end"),
                cap_w=_number(i, "cap_kw") * 1000,
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
            _time(document, "start"),
            [float(c) * 1000 for c in caps],
            origin=_ORIGIN,
        )
    elif kind == "emergency":
        minutes = _number(document, "duration_minutes", minimum=1)
        if minutes > 24 * 60:
            raise BadRequestError("an emergency stop lasts at most 24 hours")
        event = CapacityEnvelope.emergency_stop(
            event_id,
            _time(document, "start"),
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


@requires(Role.OPERATOR)
async def cancel_event(request: web.Request) -> web.Response:
    """End an event early; its homes are released (staggered)."""
    service = _service(request)
    if not await service.withdraw(
        request.match_info["point_id"], request.match_info["event_id"]
    ):
        raise NotFoundError("no such event in force")
    return web.json_response({"cancelled": request.match_info["event_id"]})


@requires(Role.OPERATOR)
async def post_measurement(request: web.Request) -> web.Response:
    """A real-time transformer load measurement: ``{"ts": t, "load_kw": x}``."""
    service = _service(request)
    point_id = request.match_info["point_id"]
    control = service.controls.get(point_id)
    if control is None:
        raise NotFoundError(f"unknown congestion point {point_id!r}")
    document = await _body(request)
    control.record_measurement(
        _time(document, "ts"), _number(document, "load_kw") * 1000
    )
    return web.json_response({"accepted": True}, status=202)


@requires(Role.READER)
async def list_homes(request: web.Request) -> web.Response:
    """Homes with their live state (optionally behind one congestion point)."""
    service = _service(request)
    point_id = request.query.get("congestion_point")
    now = service.clock.now()
    views = (
        service.fleet.of(point_id)
        if point_id
        else sorted(service.fleet.homes.values(), key=lambda v: v.home_id)
    )
    return web.json_response([_home_json(v, now) for v in views])


@requires(Role.READER)
async def get_home(request: web.Request) -> web.Response:
    """One home's live state."""
    service = _service(request)
    view = service.fleet.homes.get(request.match_info["home_id"])
    if view is None:
        raise NotFoundError(f"unknown home {request.match_info['home_id']!r}")
    return web.json_response(_home_json(view, service.clock.now()))


def _home_json(view: Any, now: Any) -> dict[str, Any]:
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


@requires(Role.OPERATOR)
async def create_codes(request: web.Request) -> web.Response:
    """Create enrollment codes: ``{"congestion_point_id", "count", "valid_days", "note"}``."""
    service = _service(request)
    document = await _body(request)
    count = int(_number(document, "count", minimum=1)) if "count" in document else 1
    days = (
        _number(document, "valid_days", minimum=0.01)
        if "valid_days" in document
        else 14.0
    )
    rows = await service.registry.create_codes(
        _text(document, "congestion_point_id", pattern=_ID),
        count=count,
        valid_for=timedelta(days=days),
        note=_text(document, "note", required=False),
    )
    return web.json_response([_code_json(r) for r in rows], status=201)


@requires(Role.OPERATOR)
async def list_codes(request: web.Request) -> web.Response:
    """Enrollment codes, newest first."""
    rows = await _service(request).registry.codes(request.query.get("congestion_point"))
    return web.json_response([_code_json(r) for r in rows])


@requires(Role.OPERATOR)
async def revoke_code(request: web.Request) -> web.Response:
    """Make an unused code unusable."""
    await _service(request).registry.revoke_code(request.match_info["code"])
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


async def metrics(request: web.Request) -> web.Response:
    """Prometheus text exposition."""
    service = _service(request)
    counters = service.counters
    lines = [
        "# HELP dacs_telemetry_received_total Telemetry messages received from known homes.",
        "# TYPE dacs_telemetry_received_total counter",
        f"dacs_telemetry_received_total {counters.telemetry_received}",
        "# TYPE dacs_telemetry_duplicates_total counter",
        f"dacs_telemetry_duplicates_total {counters.telemetry_duplicates}",
        "# TYPE dacs_telemetry_gaps gauge",
        f"dacs_telemetry_gaps {counters.telemetry_gaps}",
        "# TYPE dacs_telemetry_written_total counter",
        f"dacs_telemetry_written_total {counters.telemetry_written}",
        "# TYPE dacs_messages_refused_total counter",
        f"dacs_messages_refused_total {counters.messages_refused}",
        "# TYPE dacs_commands_sent_total counter",
        f"dacs_commands_sent_total {counters.commands_sent}",
        "# TYPE dacs_cancels_sent_total counter",
        f"dacs_cancels_sent_total {counters.cancels_sent}",
        "# HELP dacs_commands_unconfirmed Commands stored but not yet confirmed by the broker.",
        "# TYPE dacs_commands_unconfirmed gauge",
        f"dacs_commands_unconfirmed {counters.commands_unconfirmed}",
        "# TYPE dacs_commands_redelivered_total counter",
        f"dacs_commands_redelivered_total {counters.commands_redelivered}",
        "# TYPE dacs_acks_written_total counter",
        f"dacs_acks_written_total {counters.acks_written}",
        "# TYPE dacs_broker_connected gauge",
        f"dacs_broker_connected {int(service.link.connected)}",
        "# TYPE dacs_congestion_point_load_kw gauge",
        "# TYPE dacs_congestion_point_cap_kw gauge",
        "# TYPE dacs_congestion_point_shortfall_kw gauge",
    ]
    ven = request.app.get(OPENADR_VEN)
    if ven is not None:
        for name, value in sorted(vars(ven.counters).items()):
            lines += [
                f"# TYPE dacs_openadr_{name}_total counter",
                f"dacs_openadr_{name}_total {value}",
            ]
        lines += [
            "# HELP dacs_openadr_vtn_ok 1 when the last poll of the VTN succeeded.",
            "# TYPE dacs_openadr_vtn_ok gauge",
            f"dacs_openadr_vtn_ok {int(ven.last_error is None and ven.last_success is not None)}",
        ]
    for point_id, control in sorted(service.controls.items()):
        report = control.last_report
        if report is None:
            continue
        label = f'{{congestion_point="{point_id}"}}'
        lines += [
            f"dacs_congestion_point_load_kw{label} {report.forecast_load_w / 1000:.3f}",
            f"dacs_congestion_point_cap_kw{label} {report.cap_w / 1000:.3f}",
            f"dacs_congestion_point_shortfall_kw{label} {report.shortfall_w / 1000:.3f}",
        ]
    return web.Response(
        text="\n".join(lines) + "\n",
        content_type="text/plain",
        charset="utf-8",
        headers={"X-Content-Type-Options": "nosniff"},
    )


@requires(Role.READER)
async def list_alerts(request: web.Request) -> web.Response:
    """Alerts in force (``?all=1``: also the last 200 cleared ones)."""
    service = _service(request)
    active = [
        {
            "kind": alert.kind.value,
            "congestion_point_id": alert.congestion_point_id,
            "home_id": alert.home_id,
            "message": alert.message,
            "raised_at": format_time(alert.raised_at),
            "cleared_at": None,
        }
        for monitor in service.alerts.values()
        for alert in monitor.active.values()
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
    cleared = [
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


def add_routes(app: web.Application) -> None:
    """Register every route."""
    r = app.router
    r.add_get("/health", health)
    r.add_get("/metrics", metrics)
    r.add_get("/api/v1/congestion-points", list_congestion_points)
    r.add_post("/api/v1/congestion-points", create_congestion_point)
    r.add_get("/api/v1/congestion-points/{point_id}", get_congestion_point)
    r.add_post("/api/v1/congestion-points/{point_id}/events", create_event)
    r.add_delete("/api/v1/congestion-points/{point_id}/events/{event_id}", cancel_event)
    r.add_post("/api/v1/congestion-points/{point_id}/measurements", post_measurement)
    r.add_get("/api/v1/alerts", list_alerts)
    r.add_get("/api/v1/homes", list_homes)
    r.add_get("/api/v1/homes/{home_id}", get_home)
    r.add_post("/api/v1/enrollment-codes", create_codes)
    r.add_get("/api/v1/enrollment-codes", list_codes)
    r.add_delete("/api/v1/enrollment-codes/{code}", revoke_code)
