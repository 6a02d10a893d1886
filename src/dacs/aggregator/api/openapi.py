"""The API's OpenAPI 3.1 document, served at /api/v1/openapi.json.

The schemas are generated from the models the handlers read and build
(``requests.py``, ``responses.py``) and, for enrollment and errors, taken from
the protocol's published JSON Schemas; the paths come from the table in
``operations.py``.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from aiohttp import web
from pydantic import TypeAdapter
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaMode
from pydantic_core import CoreSchema

from dacs import __version__
from dacs.protocol.schema import schema

from . import responses
from .auth import Role
from .errors import ERROR_CODES
from .operations import OPERATIONS, Operation
from .requests import (
    EVENT_BODIES,
    BrokerMoveCreate,
    CodesCreate,
    CongestionPointCreate,
    Measurement,
    SessionCreate,
)

_SCHEMAS = "#/components/schemas/"
_PATH_PARAMETER = re.compile(r"{(\w+)}")

_REQUEST_MODELS: tuple[type[Any], ...] = (
    CongestionPointCreate,
    *EVENT_BODIES.values(),
    Measurement,
    CodesCreate,
    SessionCreate,
    BrokerMoveCreate,
)
_RESPONSE_TYPES: tuple[type[Any], ...] = (
    responses.Health,
    responses.Liveness,
    responses.Readiness,
    responses.CongestionPoint,
    responses.Event,
    responses.Cancelled,
    responses.QuarantineLifted,
    responses.Accepted,
    responses.Compliance,
    responses.Alert,
    responses.Home,
    responses.BrokerMoved,
    responses.EnrollmentCode,
    responses.Revoked,
    responses.DashboardSession,
)


class _OpenApiSchema(GenerateJsonSchema):
    """Pydantic's JSON Schema without a title on every field (the name says it)."""

    def field_title_should_be_set(self, schema: CoreSchema) -> bool:
        """Never: a property's name is its title."""
        return False


def _schemas() -> dict[str, Any]:
    """The components' schemas: generated from the models, and the protocol's own."""
    inputs: list[tuple[str, JsonSchemaMode, TypeAdapter[Any]]] = [
        (model.__name__, "validation", TypeAdapter(model)) for model in _REQUEST_MODELS
    ] + [
        (answer.__name__, "serialization", TypeAdapter(answer))
        for answer in _RESPONSE_TYPES
    ]
    _, definitions = TypeAdapter.json_schemas(
        inputs,
        ref_template=_SCHEMAS + "{model}",
        schema_generator=_OpenApiSchema,
    )
    generated: dict[str, Any] = definitions["$defs"]
    event_refs = {
        kind: f"{_SCHEMAS}{model.__name__}" for kind, model in EVENT_BODIES.items()
    }
    return {
        "Error": _api_error(),
        "EnrollmentRequest": schema("enrollment-request"),
        "EnrollmentResponse": schema("enrollment-response"),
        "EventCreate": {
            "oneOf": [{"$ref": ref} for ref in event_refs.values()],
            "discriminator": {"propertyName": "kind", "mapping": event_refs},
        },
        **generated,
    }


def _api_error() -> dict[str, Any]:
    """The protocol's error.json with every code the API answers, not only enrollment's."""
    error = schema("error")
    return {
        **error,
        "title": "error: the body of every 4xx/5xx answer of the API",
        "properties": {**error["properties"], "error": {"enum": list(ERROR_CODES)}},
    }


def _json(schema_name: str, *, many: bool = False) -> dict[str, Any]:
    ref: dict[str, Any] = {"$ref": _SCHEMAS + schema_name}
    body = {"type": "array", "items": ref} if many else ref
    return {"application/json": {"schema": body}}


def _operation(operation: Operation) -> dict[str, Any]:
    answers: dict[str, Any] = {}
    for code, text in operation.responses.items():
        answers[code] = {"description": text}
        if code.startswith("2") and operation.answer is not None:
            answers[code]["content"] = _json(operation.answer, many=operation.many)
        elif code[0] in "45":
            answers[code]["content"] = _json("Error")
    document: dict[str, Any] = {"summary": operation.summary, "responses": answers}
    if operation.role is not Role.NONE:
        role = operation.role.name.lower()
        document["security"] = [{"bearer": []}]
        document["x-required-role"] = role
        answers.setdefault(
            "401", {"description": "no or unknown token", "content": _json("Error")}
        )
        answers.setdefault(
            "403", {"description": f"needs the {role} role", "content": _json("Error")}
        )
    if operation.body is not None:
        document["requestBody"] = {"required": True, "content": _json(operation.body)}
    return document


def _parameters(operation: Operation) -> list[dict[str, Any]]:
    path_schemas = operation.path_schemas or {}
    return [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": path_schemas.get(name, {"type": "string"}),
        }
        for name in _PATH_PARAMETER.findall(operation.path)
    ] + list(operation.query)


@functools.cache
def openapi_document() -> dict[str, Any]:
    """The whole document (built once; treat it as read-only)."""
    paths: dict[str, dict[str, Any]] = {}
    for operation in OPERATIONS:
        path = paths.setdefault(operation.path, {})
        if parameters := _parameters(operation):
            path["parameters"] = parameters
        path[operation.method] = _operation(operation)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "DACS-HW aggregator API",
            "version": __version__,
            "description": "Congestion service provider: registry, events, homes, enrollment.",
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": _schemas(),
            "responses": {
                "Error": {
                    "description": "error",
                    "content": {
                        "application/json": {"schema": {"$ref": _SCHEMAS + "Error"}}
                    },
                }
            },
        },
        "paths": paths,
    }


async def serve_openapi(request: web.Request) -> web.Response:
    """GET /api/v1/openapi.json."""
    return web.json_response(openapi_document())
