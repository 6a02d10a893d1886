"""The API's OpenAPI 3.1 document, served at /api/v1/openapi.json."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from dacs import __version__
from dacs.protocol.schema import schema


def _op(
    summary: str, role: str | None, responses: dict[str, str], body: str | None = None
) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "summary": summary,
        "responses": {code: {"description": text} for code, text in responses.items()},
    }
    if role is not None:
        operation["security"] = [{"bearer": []}]
        operation["x-required-role"] = role
        operation["responses"].setdefault("401", {"description": "no or unknown token"})
        operation["responses"].setdefault(
            "403", {"description": f"needs the {role} role"}
        )
    if body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {
                "application/json": {"schema": {"$ref": f"#/components/schemas/{body}"}}
            },
        }
    return operation


def openapi_document() -> dict[str, Any]:
    """The whole document."""
    error = {"$ref": "#/components/schemas/Error"}
    point = "path"
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "DACS-HW aggregator API",
            "version": __version__,
            "description": "Congestion service provider: registry, events, homes, enrollment.",
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": schema("error"),
                "EnrollmentRequest": schema("enrollment-request"),
                "EnrollmentResponse": schema("enrollment-response"),
                "CongestionPointCreate": {
                    "type": "object",
                    "required": ["id", "name", "rated_capacity_kw", "grid_operator"],
                    "properties": {
                        "id": {"type": "string", "pattern": "^[A-Za-z0-9._-]{1,64}$"},
                        "name": {"type": "string"},
                        "rated_capacity_kw": {"type": "number", "exclusiveMinimum": 0},
                        "grid_operator": {"type": "string"},
                        "ean": {"type": "string"},
                    },
                },
                "EventCreate": {
                    "oneOf": [
                        {
                            "type": "object",
                            "required": ["kind", "intervals"],
                            "properties": {
                                "kind": {"const": "manual"},
                                "id": {"type": "string"},
                                "intervals": {
                                    "type": "array",
                                    "minItems": 1,
                                    "maxItems": 192,
                                    "items": {
                                        "type": "object",
                                        "required": ["start", "end", "cap_kw"],
                                        "properties": {
                                            "start": {
                                                "type": "string",
                                                "format": "date-time",
                                            },
                                            "end": {
                                                "type": "string",
                                                "format": "date-time",
                                            },
                                            "cap_kw": {"type": "number", "minimum": 0},
                                        },
                                    },
                                },
                            },
                        },
                        {
                            "type": "object",
                            "required": ["kind", "start", "caps_kw"],
                            "properties": {
                                "kind": {"const": "dynamic"},
                                "id": {"type": "string"},
                                "start": {"type": "string", "format": "date-time"},
                                "caps_kw": {
                                    "type": "array",
                                    "minItems": 1,
                                    "maxItems": 192,
                                    "items": {"type": "number", "minimum": 0},
                                },
                            },
                        },
                        {
                            "type": "object",
                            "required": ["kind", "start", "duration_minutes"],
                            "properties": {
                                "kind": {"const": "emergency"},
                                "id": {"type": "string"},
                                "start": {"type": "string", "format": "date-time"},
                                "duration_minutes": {
                                    "type": "number",
                                    "minimum": 1,
                                    "maximum": 1440,
                                },
                            },
                        },
                    ]
                },
                "Measurement": {
                    "type": "object",
                    "required": ["ts", "load_kw"],
                    "properties": {
                        "ts": {"type": "string", "format": "date-time"},
                        "load_kw": {"type": "number", "minimum": 0},
                    },
                },
                "CodesCreate": {
                    "type": "object",
                    "required": ["congestion_point_id"],
                    "properties": {
                        "congestion_point_id": {"type": "string"},
                        "count": {"type": "integer", "minimum": 1, "maximum": 1000},
                        "valid_days": {"type": "number", "exclusiveMinimum": 0},
                        "note": {"type": "string", "maxLength": 200},
                    },
                },
            },
            "responses": {
                "Error": {
                    "description": "error",
                    "content": {"application/json": {"schema": error}},
                }
            },
        },
        "paths": {
            "/health": {
                "get": _op(
                    "liveness and broker link", None, {"200": "ok", "503": "degraded"}
                )
            },
            "/metrics": {
                "get": _op("Prometheus metrics", None, {"200": "text exposition"})
            },
            "/api/v1/enrollments": {
                "post": _op(
                    "enroll a home with a one-time code",
                    None,
                    {
                        "201": "enrolled",
                        "400": "malformed",
                        "404": "unknown code",
                        "409": "code used",
                        "410": "code expired",
                        "429": "rate limited",
                    },
                    "EnrollmentRequest",
                )
            },
            "/api/v1/congestion-points": {
                "get": _op(
                    "list congestion points with live state", "reader", {"200": "list"}
                ),
                "post": _op(
                    "register a congestion point",
                    "operator",
                    {"201": "created", "400": "malformed", "409": "exists"},
                    "CongestionPointCreate",
                ),
            },
            "/api/v1/congestion-points/{point_id}": {
                "parameters": [
                    {
                        "name": "point_id",
                        "in": point,
                        "required": True,
                        "schema": {"type": "string"},
                    }
                ],
                "get": _op(
                    "one congestion point", "reader", {"200": "found", "404": "unknown"}
                ),
            },
            "/api/v1/congestion-points/{point_id}/events": {
                "parameters": [
                    {
                        "name": "point_id",
                        "in": point,
                        "required": True,
                        "schema": {"type": "string"},
                    }
                ],
                "post": _op(
                    "manual event, day-ahead profile or emergency stop",
                    "operator",
                    {
                        "201": "in force",
                        "400": "malformed",
                        "404": "unknown point",
                        "409": "id exists",
                    },
                    "EventCreate",
                ),
            },
            "/api/v1/congestion-points/{point_id}/events/{event_id}": {
                "parameters": [
                    {
                        "name": "point_id",
                        "in": point,
                        "required": True,
                        "schema": {"type": "string"},
                    },
                    {
                        "name": "event_id",
                        "in": point,
                        "required": True,
                        "schema": {"type": "string"},
                    },
                ],
                "delete": _op(
                    "end an event early",
                    "operator",
                    {"200": "cancelled", "404": "not in force"},
                ),
            },
            "/api/v1/congestion-points/{point_id}/measurements": {
                "parameters": [
                    {
                        "name": "point_id",
                        "in": point,
                        "required": True,
                        "schema": {"type": "string"},
                    }
                ],
                "post": _op(
                    "real-time transformer load",
                    "operator",
                    {"202": "accepted", "400": "malformed", "404": "unknown point"},
                    "Measurement",
                ),
            },
            "/api/v1/congestion-points/{point_id}/history": {
                "parameters": [
                    {
                        "name": "point_id",
                        "in": point,
                        "required": True,
                        "schema": {"type": "string"},
                    },
                    {
                        "name": "limit",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "integer", "minimum": 0},
                    },
                ],
                "get": _op(
                    "the last cycles kept in memory (24 h), oldest first, and the events in force",
                    "reader",
                    {
                        "200": "history",
                        "400": "malformed limit",
                        "404": "unknown point",
                    },
                ),
            },
            "/api/v1/stream": {
                "parameters": [
                    {
                        "name": "congestion_point",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "string"},
                    },
                    {
                        "name": "token",
                        "in": "query",
                        "required": False,
                        "description": "the bearer token, for EventSource (it cannot send headers)",
                        "schema": {"type": "string"},
                    },
                ],
                "get": _op(
                    "live feed (text/event-stream): `cycle` per control cycle, `homes` every few cycles, heartbeat comments",
                    "reader",
                    {"200": "event stream", "404": "unknown point"},
                ),
            },
            "/api/v1/alerts": {
                "get": _op(
                    "alerts in force (?all=1: also recently cleared ones)",
                    "reader",
                    {"200": "list"},
                )
            },
            "/api/v1/homes": {
                "get": _op("homes with live state", "reader", {"200": "list"})
            },
            "/api/v1/homes/{home_id}": {
                "parameters": [
                    {
                        "name": "home_id",
                        "in": point,
                        "required": True,
                        "schema": {"type": "string"},
                    }
                ],
                "get": _op("one home", "reader", {"200": "found", "404": "unknown"}),
            },
            "/api/v1/enrollment-codes": {
                "get": _op("list enrollment codes", "operator", {"200": "list"}),
                "post": _op(
                    "create enrollment codes",
                    "operator",
                    {"201": "created", "400": "malformed", "404": "unknown point"},
                    "CodesCreate",
                ),
            },
            "/api/v1/enrollment-codes/{code}": {
                "parameters": [
                    {
                        "name": "code",
                        "in": point,
                        "required": True,
                        "schema": {"type": "string"},
                    }
                ],
                "delete": _op(
                    "revoke an unused code",
                    "operator",
                    {"200": "revoked", "404": "unknown", "409": "used already"},
                ),
            },
            "/api/v1/settlement/deliveries": {
                "get": _op(
                    "delivered flexibility per 15 minutes of a congestion point "
                    "(?congestion_point=&start=&end=&format=json|csv)",
                    "reader",
                    {
                        "200": "deliveries",
                        "400": "malformed",
                        "404": "unknown congestion point",
                    },
                )
            },
            "/api/v1/settlement/statements": {
                "get": _op(
                    "stored monthly statements of a period "
                    "(?period=YYYY-MM&congestion_point=&format=json|csv)",
                    "reader",
                    {"200": "list", "400": "malformed"},
                )
            },
            "/api/v1/settlement/statements/{period}": {
                "parameters": [
                    {
                        "name": "period",
                        "in": point,
                        "required": True,
                        "schema": {
                            "type": "string",
                            "pattern": "^[0-9]{4}-(0[1-9]|1[0-2])$",
                        },
                    }
                ],
                "post": _op(
                    "compute, store and send the period's statements to the homes",
                    "operator",
                    {"201": "issued", "400": "malformed or not started"},
                ),
            },
        },
    }


async def serve_openapi(request: web.Request) -> web.Response:
    """GET /api/v1/openapi.json."""
    return web.json_response(openapi_document())
