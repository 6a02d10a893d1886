"""The aggregator's REST API fuzzed from its own OpenAPI document, with every role.

For every documented operation, hypothesis draws path values, query values
and bodies from the operation's JSON Schemas (``schema_strategies``), then
breaks them (mutations, hostile literals, raw bytes, deep nesting) and sends
them to a real aggregator (aiohttp test server on 127.0.0.1, SQLite, a real
Mosquitto). Every answer must be documented for the operation, never a 5xx,
JSON that parses strictly and matches the documented answer or error shape;
roles hold (a reader or scraper changes nothing, a scraper reads /metrics
only); afterwards /health still answers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass, field
import json
from pathlib import Path
import re
from typing import Any
from urllib.parse import quote

from aiohttp.test_utils import TestClient, TestServer
from hypothesis import given, strategies as st
import jsonschema
import pytest
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from dacs.aggregator import config as settings
from dacs.aggregator.api.auth import Role
from dacs.aggregator.api.openapi import openapi_document
from dacs.aggregator.api.operations import OPERATIONS, Operation
from dacs.aggregator.app import create_app
from dacs.testbed.servers import MosquittoBroker

from .budget import budget
from .inputs import hostile_text, json_trees, mutations, nesting, to_json
from .schema_strategies import from_schema

DOCUMENT = openapi_document()
TOKENS = {
    Role.OPERATOR: "op-token",
    Role.READER: "read-token",
    Role.SCRAPER: "scrape-token",
}
ROLES = [Role.OPERATOR, Role.READER, Role.SCRAPER, Role.NONE]
# Readiness probes answer 503 by design while something is down.
PROBES = frozenset({"/health", "/readyz"})
# The state a request may change, read back as the operator after a run.
STATE_PATHS = (
    "/api/v1/congestion-points",
    "/api/v1/congestion-points/tr-1",
    "/api/v1/homes",
    "/api/v1/enrollment-codes",
    "/api/v1/settlement/statements",
)
_REGISTRY: Registry[Any] = Registry().with_resource(
    "urn:openapi", Resource.from_contents(DOCUMENT, default_specification=DRAFT202012)
)


def _validator(schema: dict[str, Any]) -> jsonschema.Draft202012Validator:
    reference = json.dumps(schema).replace('"#/components', '"urn:openapi#/components')
    return jsonschema.Draft202012Validator(json.loads(reference), registry=_REGISTRY)


def _refuse_constant(name: str) -> None:
    raise AssertionError(f"the answer holds {name}, which is not JSON")


@dataclass
class RunningApi:
    runner: asyncio.Runner
    client: TestClient[Any, Any]
    known: dict[str, list[str]] = field(default_factory=dict)

    def call(
        self, method: str, url: str, role: Role, body: bytes | None
    ) -> tuple[int, str, bytes]:
        headers = {"Authorization": f"Bearer {TOKENS[role]}"} if role in TOKENS else {}
        if body is not None:
            headers["Content-Type"] = "application/json"

        async def send() -> tuple[int, str, bytes]:
            async with self.client.request(
                method, url, data=body, headers=headers
            ) as answer:
                if answer.content_type == "text/event-stream":
                    return (
                        answer.status,
                        answer.content_type,
                        b"",
                    )  # a stream never ends
                return answer.status, answer.content_type, await answer.read()

        return self.runner.run(asyncio.wait_for(send(), 30))

    def state(self) -> list[Any]:
        return [self.call("get", path, Role.OPERATOR, None) for path in STATE_PATHS]


@pytest.fixture
def api(mosquitto: MosquittoBroker, tmp_path: Path) -> Iterator[RunningApi]:
    config = settings.AggregatorConfig(
        database=settings.DatabaseConfig(url=f"sqlite:///{tmp_path / 'aggregator.db'}"),
        mqtt=settings.MqttConfig(host="127.0.0.1", port=mosquitto.port),
        api=settings.ApiConfig(
            operator_tokens=(TOKENS[Role.OPERATOR],),
            reader_tokens=(TOKENS[Role.READER],),
            metrics_tokens=(TOKENS[Role.SCRAPER],),
            max_body_bytes=16 * 1024,
        ),
        enrollment=settings.EnrollmentConfig(
            broker_host="mqtt.example.nl", broker_tls=True
        ),
        control=settings.ControlConfig(cycle_s=3600),
    )

    async def start() -> TestClient[Any, Any]:
        client: TestClient[Any, Any] = TestClient(
            TestServer(create_app(config), host="127.0.0.1")
        )
        await client.start_server()
        return client

    with asyncio.Runner() as runner:
        client = runner.run(start())
        running = RunningApi(runner, client)
        try:
            _seed(running)
            yield running
        finally:
            runner.run(client.close())


def _seed(api: RunningApi) -> None:
    """A point, an event, codes and an enrolled home: ids the fuzz can hit."""

    def post(path: str, body: dict[str, Any], role: Role = Role.OPERATOR) -> Any:
        status, _, answer = api.call("post", path, role, json.dumps(body).encode())
        assert status in (200, 201, 202), (path, status, answer)
        return json.loads(answer)

    post(
        "/api/v1/congestion-points",
        {
            "id": "tr-1",
            "name": "Street",
            "rated_capacity_kw": 250,
            "grid_operator": "DSO",
        },
    )
    event = post(
        "/api/v1/congestion-points/tr-1/events",
        {
            "id": "ev-1",
            "kind": "emergency",
            "start": "2030-01-01T00:00:00Z",
            "duration_minutes": 30,
        },
    )
    codes = post(
        "/api/v1/enrollment-codes", {"congestion_point_id": "tr-1", "count": 2}
    )
    enrolled = post(
        "/api/v1/enrollments", {"code": codes[0]["code"], "client": "fuzz"}, Role.NONE
    )
    api.known = {
        "point_id": ["tr-1"],
        "event_id": [event["id"]],
        "home_id": [enrolled["home_id"]],
        "code": [codes[1]["code"], codes[0]["code"]],
        "period": ["2030-01", "2026-13"],
        "congestion_point": ["tr-1"],
        "token": ["not-a-token", ""],  # a real token in the query is a login
    }


def _parameter_values(
    api: RunningApi, parameter: dict[str, Any]
) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.sampled_from(api.known.get(parameter["name"], ["x"])),
        from_schema(parameter.get("schema", {}), DOCUMENT),
        # aiohttp refuses a request line over 8190 bytes before the app sees it.
        hostile_text.map(lambda t: t[:200]),
        st.integers(),
    )


def _bodies(operation: Operation) -> st.SearchStrategy[bytes | None]:
    if operation.body is None:
        return st.none() | st.just(b"{}")
    valid = from_schema({"$ref": f"#/components/schemas/{operation.body}"}, DOCUMENT)
    return st.one_of(
        valid.map(lambda v: to_json(v).encode()),
        valid.flatmap(lambda v: mutations([v])).map(
            lambda v: to_json(v).encode("utf-8", "surrogatepass")
        ),
        json_trees.map(lambda v: to_json(v).encode("utf-8", "surrogatepass")),
        nesting.map(str.encode),
        st.binary(max_size=100),
        st.none(),
    )


@st.composite
def requests(draw: st.DrawFn, api: RunningApi) -> tuple[Operation, str, bytes | None]:
    operation = draw(st.sampled_from(OPERATIONS))
    item = DOCUMENT["paths"][operation.path]
    path = operation.path
    query = []
    for parameter in item.get("parameters", []):
        value = str(draw(_parameter_values(api, parameter)))
        if parameter["in"] == "path":
            value = value or "x"  # an empty segment matches no route at all
            path = path.replace(
                f"{{{parameter['name']}}}",
                quote(value.encode("utf-8", "surrogatepass"), safe=""),
            )
        elif draw(st.booleans()):
            query.append(
                f"{parameter['name']}={quote(value.encode('utf-8', 'surrogatepass'), safe='')}"
            )
    url = path + ("?" + "&".join(query) if query else "")
    return operation, url, draw(_bodies(operation))


def _check_answer(
    operation: Operation, role: Role, status: int, content_type: str, body: bytes
) -> None:
    documented = DOCUMENT["paths"][operation.path][operation.method]["responses"]
    assert status < 500 or (operation.path in PROBES and status == 503), (
        status,
        body[:300],
    )
    allowed = set(documented) | ({"413"} if operation.body else set())
    assert str(status) in allowed, (status, body[:300])
    unrouted = status == 404 and body.startswith(
        b'{"error": "not_found", "message": "nothing at'
    )
    if operation.role > role and not unrouted:  # a value no route takes ('{', '/')
        assert status == (401 if role is Role.NONE else 403), status
    if content_type == "application/json":
        answer = json.loads(body, parse_constant=_refuse_constant)
        content = documented.get(str(status), {}).get("content", {})
        schema = content.get("application/json", {}).get("schema")
        if schema is not None:
            _validator(schema).validate(answer)
    else:
        where = (status, content_type, body[:300])
        assert operation.path in ("/metrics", "/api/v1/stream"), where
        assert status < 400, where


@pytest.mark.mqtt
@pytest.mark.parametrize("role", ROLES, ids=lambda r: r.name.lower())
def test_every_operation_with_every_role(api: RunningApi, role: Role) -> None:
    before = api.state()

    @budget(ci=60, long=2500)
    @given(request=requests(api))
    def fuzz(request: tuple[Operation, str, bytes | None]) -> None:
        operation, url, body = request
        status, content_type, answer = api.call(operation.method, url, role, body)
        _check_answer(operation, role, status, content_type, answer)

    fuzz()
    if role is not Role.OPERATOR:
        assert api.state() == before, (
            "a request without the operator role changed state"
        )
    status, _, health = api.call("get", "/health", Role.NONE, None)
    assert status == 200, health


@pytest.mark.mqtt
def test_a_day_ahead_cap_beyond_any_grid_is_refused(api: RunningApi) -> None:
    """Found by this fuzz: caps_kw [1e308] became a cap of inf W, and the point's
    answer then held Infinity, which no JSON parser reads."""
    body = {"kind": "dynamic", "start": "2030-01-01T00:00:00Z", "caps_kw": [1e308]}
    status, _, answer = api.call(
        "post",
        "/api/v1/congestion-points/tr-1/events",
        Role.OPERATOR,
        json.dumps(body).encode(),
    )
    assert status == 400, answer
    assert b"<= 100000" in answer
    status, _, point = api.call(
        "get", "/api/v1/congestion-points/tr-1", Role.READER, None
    )
    assert status == 200
    json.loads(point, parse_constant=_refuse_constant)


@pytest.mark.mqtt
def test_errors_match_the_documented_error_shape(api: RunningApi) -> None:
    """Found by this fuzz: a path no route takes answered text/plain, and the
    documented Error listed only the enrollment API's codes (not not_found,
    conflict, unauthorized ...); revoking a malformed code answered an
    undocumented 400."""
    error = _validator({"$ref": "#/components/schemas/Error"})
    for method, path, role in (
        ("delete", "/api/v1/congestion-points/tr-1/events/%7B", Role.OPERATOR),
        ("get", "/api/v1/homes/nobody", Role.READER),
        ("get", "/api/v1/homes", Role.NONE),
        ("delete", "/api/v1/enrollment-codes/not-a-code", Role.OPERATOR),
    ):
        status, content_type, answer = api.call(method, path, role, None)
        assert content_type == "application/json", (path, answer)
        error.validate(json.loads(answer))
        operation = next(
            o for o in OPERATIONS if o.method == method and _matches(o.path, path)
        )
        assert str(status) in DOCUMENT["paths"][operation.path][method]["responses"], (
            path,
            status,
        )


def _matches(template: str, path: str) -> bool:
    pattern = "^" + re.sub(r"{\w+}", "[^/]+", template) + "$"
    return re.match(pattern, path) is not None
