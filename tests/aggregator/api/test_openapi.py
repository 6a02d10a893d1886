"""The OpenAPI document: the routes and roles the app has, schemas the handlers keep to."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aiohttp import web
import jsonschema
import pytest
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from dacs.aggregator.api.auth import REQUIRED_ROLE, Role
from dacs.aggregator.api.errors import BadRequestError
from dacs.aggregator.api.openapi import openapi_document
from dacs.aggregator.api.operations import OPERATIONS
from dacs.aggregator.api.requests import (
    EVENT_BODIES,
    CodesCreate,
    CongestionPointCreate,
    EventHeader,
    Measurement,
    RequestBody,
    parse,
)
from dacs.aggregator.app import create_app
from dacs.aggregator.config import AggregatorConfig, DatabaseConfig

# Pages, not API: the dashboard and the document itself.
_NOT_DOCUMENTED = {"/", "/dashboard", "/dashboard/", "/api/v1/openapi.json"}


@pytest.fixture
def app(tmp_path: Path) -> web.Application:
    """The application as create_app builds it (not started)."""
    return create_app(
        AggregatorConfig(database=DatabaseConfig(url=f"sqlite:///{tmp_path}/a.db"))
    )


def _registered(app: web.Application) -> dict[tuple[str, str], Any]:
    routes: dict[tuple[str, str], Any] = {}
    for route in app.router.routes():
        resource = route.resource
        if resource is None or resource.canonical in _NOT_DOCUMENTED:
            continue
        if route.method == "HEAD":  # aiohttp adds one to every GET
            continue
        routes[route.method.lower(), resource.canonical] = route.handler
    return routes


def test_every_route_is_documented_and_every_operation_is_a_route(
    app: web.Application,
) -> None:
    documented = {
        (method, path)
        for path, item in openapi_document()["paths"].items()
        for method in item
        if method != "parameters"
    }
    assert set(_registered(app)) == documented


def test_the_documented_role_is_the_one_the_handler_requires(
    app: web.Application,
) -> None:
    handlers = _registered(app)
    for operation in OPERATIONS:
        handler = handlers[operation.method, operation.path]
        assert getattr(handler, REQUIRED_ROLE, Role.NONE) is operation.role, (
            operation.method,
            operation.path,
        )
        documented = openapi_document()["paths"][operation.path][operation.method]
        if operation.role is Role.NONE:
            assert "x-required-role" not in documented
        else:
            assert documented["x-required-role"] == operation.role.name.lower()


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return own + [ref for value in node.values() for ref in _refs(value)]
    if isinstance(node, list):
        return [ref for value in node for ref in _refs(value)]
    return []


def test_every_reference_resolves() -> None:
    document = openapi_document()
    schemas = document["components"]["schemas"]
    prefix = "#/components/schemas/"
    local = [ref for ref in _refs(document) if ref.startswith("#/")]
    assert local
    for ref in local:
        assert ref.startswith(prefix), ref
        assert ref.removeprefix(prefix) in schemas, ref


def _validator(name: str) -> jsonschema.Draft202012Validator:
    document = openapi_document()
    registry: Registry[Any] = Registry().with_resource(
        "urn:openapi",
        Resource.from_contents(document, default_specification=DRAFT202012),
    )
    return jsonschema.Draft202012Validator(
        {"$ref": f"urn:openapi#/components/schemas/{name}"}, registry=registry
    )


_INTERVAL = {
    "start": "2025-02-03T17:00:00Z",
    "end": "2025-02-03T18:00:00Z",
    "cap_kw": 100,
}
_ACCEPTED: list[tuple[str, type[RequestBody], dict[str, Any]]] = [
    (
        "CongestionPointCreate",
        CongestionPointCreate,
        {"id": "tr-1", "name": "One", "rated_capacity_kw": 250, "grid_operator": "E"},
    ),
    (
        "CongestionPointCreate",
        CongestionPointCreate,
        {
            "id": "tr-1",
            "name": "One",
            "rated_capacity_kw": 0.5,
            "grid_operator": "E",
            "ean": "871",
        },
    ),
    (
        "EventCreate",
        EVENT_BODIES["manual"],
        {"kind": "manual", "intervals": [_INTERVAL]},
    ),
    (
        "EventCreate",
        EVENT_BODIES["dynamic"],
        {
            "id": "d-1",
            "kind": "dynamic",
            "start": "2025-02-03T17:00:00+01:00",
            "caps_kw": [1, 2.5],
        },
    ),
    (
        "EventCreate",
        EVENT_BODIES["emergency"],
        {
            "kind": "emergency",
            "start": "2025-02-03T17:00:00Z",
            "duration_minutes": 1440,
        },
    ),
    ("Measurement", Measurement, {"ts": "2025-02-03T17:00:00Z", "load_kw": 0}),
    ("CodesCreate", CodesCreate, {"congestion_point_id": "tr-1"}),
    (
        "CodesCreate",
        CodesCreate,
        {"congestion_point_id": "tr-1", "count": 3, "valid_days": 0.5, "note": "x"},
    ),
]
_REFUSED: list[tuple[str, type[RequestBody], dict[str, Any]]] = [
    ("CongestionPointCreate", CongestionPointCreate, {"id": "tr-1", "name": "One"}),
    (
        "CongestionPointCreate",
        CongestionPointCreate,
        {"id": "a/b", "name": "x", "rated_capacity_kw": 1, "grid_operator": "y"},
    ),
    (
        "CongestionPointCreate",
        CongestionPointCreate,
        {"id": "tr", "name": "", "rated_capacity_kw": 1, "grid_operator": "y"},
    ),
    (
        "CongestionPointCreate",
        CongestionPointCreate,
        {"id": "tr", "name": "x", "rated_capacity_kw": 0, "grid_operator": "y"},
    ),
    ("EventCreate", EVENT_BODIES["manual"], {"kind": "manual", "intervals": []}),
    (
        "EventCreate",
        EVENT_BODIES["dynamic"],
        {"kind": "dynamic", "start": "2025-02-03T17:00:00Z", "caps_kw": [-1]},
    ),
    (
        "EventCreate",
        EVENT_BODIES["emergency"],
        {
            "kind": "emergency",
            "start": "2025-02-03T17:00:00Z",
            "duration_minutes": 1441,
        },
    ),
    ("Measurement", Measurement, {"ts": "2025-02-03T17:00:00Z", "load_kw": -1}),
    ("CodesCreate", CodesCreate, {"congestion_point_id": "tr-1", "count": 0}),
    ("CodesCreate", CodesCreate, {"congestion_point_id": "tr-1", "note": "x" * 201}),
]


@pytest.mark.parametrize(("schema", "model", "body"), _ACCEPTED)
def test_what_the_handlers_accept_the_document_allows(
    schema: str, model: type[RequestBody], body: dict[str, Any]
) -> None:
    parse(model, body)
    _validator(schema).validate(body)


@pytest.mark.parametrize(("schema", "model", "body"), _REFUSED)
def test_what_the_handlers_refuse_the_document_forbids(
    schema: str, model: type[RequestBody], body: dict[str, Any]
) -> None:
    with pytest.raises(BadRequestError):
        parse(model, body)
    assert not _validator(schema).is_valid(body)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"kind": "party", "id": "a/b"}, "'id' may contain only letters"),
        ({"kind": "party"}, "'kind' must be 'manual', 'dynamic' or 'emergency'"),
        ({"id": ""}, "'kind' must be"),
    ],
)
def test_an_event_is_refused_for_its_id_before_its_kind(
    body: dict[str, Any], message: str
) -> None:
    with pytest.raises(BadRequestError, match=message):
        parse(EventHeader, body)


def test_the_event_kinds_are_the_documented_ones() -> None:
    event = openapi_document()["components"]["schemas"]["EventCreate"]
    assert set(event["discriminator"]["mapping"]) == set(EVENT_BODIES)
