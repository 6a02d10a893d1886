"""A test VTN (OpenADR 3.1.0 or 3.0.1) for tests and the demo: the grid operator's side.

No VTN that runs from PyPI exists (openleadr-rs is Rust and needs PostgreSQL;
the OpenADR Alliance reference VTN is not packaged). This one serves the REST
paths openadr3-client's VEN uses, on 127.0.0.1 with a free port:

* ``POST /auth/token`` (OAuth2 client credentials, HTTP Basic or form body,
  or only one of them with ``client_auth``),
  ``GET /auth/server`` (token URL discovery);
* ``GET /programs``, ``GET /programs/{id}``, ``GET /events`` (``programID``,
  ``skip``, ``limit``), ``GET /events/{id}``;
* ``GET/POST /vens``, ``GET/POST /resources``, ``GET /resource_groups``;
* ``GET/POST /reports``, ``GET/POST /subscriptions``;
* ``GET /notifiers`` and ``GET /notifiers/mqtt/topics/programs/{id}/events``.

With ``version="3.0.1"`` it is an OpenADR 3.0.1 VTN (``openadr_301``):
resources under ``/vens/{venID}/resources`` (``/resources`` is 404), no
``/auth/server`` and no notifiers (404), targets as valuesMaps, program
attributes as fields, no ``clientID``; a created VEN or resource with a 3.1
object type and a report without its event's ``programID`` are refused (400).

With ``mqtt_broker_uri`` it offers an MQTT notifier (anonymous, JSON) on that
broker and publishes ``{"objectType": "EVENT", "operation": ..., "object":
...}`` on the program's event topic whenever an event is added or deleted;
without it ``GET /notifiers`` lists no MQTT binding.

It keeps what it receives, checks received resources and reports with the
NL-flex profile (``nlflex10``) and refuses what the profile rejects (400), as
a grid operator would. A registration report enrolls resources in their group
per ``registration_policy``. ``fail_next`` makes the next calls answer 500 or
malformed JSON, for the VEN's error handling.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Awaitable, Callable, Sequence
import contextlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
import json
import logging
import secrets
from typing import Any, Literal, Self
from urllib.parse import unquote, urlsplit
import uuid

from aiohttp import web
import aiomqtt
from openadr3_client._models.common.attribute import Attribute
from openadr3_client._models.common.interval import Interval
from openadr3_client._models.common.interval_period import IntervalPeriod
from openadr3_client._models.common.value_map_collection import ValuesMap
from openadr3_client._models.common.ven_resource_attribute_type import (
    VenResourceAttributeType,
)
from openadr3_client.extensions.resource_group.models.resource_group import (
    NewResourceGroup,
)
from openadr3_client.oadr310.models.event.event import ExistingEvent, NewEvent
from openadr3_client.oadr310.models.event.event_payload import (
    EventPayload,
    EventPayloadDescriptor,
    EventPayloadType,
)
from openadr3_client.oadr310.models.program.program import NewProgram
from openadr3_client.oadr310.models.program.program_attribute import (
    ProgramAttributeType,
)
from openadr3_client.oadr310.models.report.report import NewReport
from openadr3_client.oadr310.models.report.report_payload import (
    ReportDescriptor,
    ReportIntervals,
    ReportPayloadType,
)
from openadr3_client.oadr310.models.resource.resource import NewResourceVenRequest
from openadr3_client.oadr310.models.unit import Unit
from openadr3_client_nlflex_compliance.nlflex10 import (  # type: ignore[import-untyped]  # the plugin ships no py.typed
    Nlflex10ValidatorPlugin,
    validate_flex_delivery_report_compliant,
)
from pydantic import BaseModel, ValidationError

from dacs.testbed.servers.ports import LOOPBACK

from . import openadr_301

_LOGGER = logging.getLogger(__name__)
_PLUGIN = Nlflex10ValidatorPlugin.setup()

PROGRAM_TYPE = "DSO_SP_INTERFACE-1.0.0"

type ClientAuthentication = Literal["any", "basic", "body"]
type Version = Literal["3.0.1", "3.1.0"]
type RegistrationPolicy = Callable[[dict[str, Any]], tuple[str, str | None]]


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


# Properties the OpenADR 3.1.0 schema lets be null (the rest must be absent
# rather than null), and the report shape it defines: what a strict VTN checks.
NULLABLE = frozenset(
    {
        "accuracy",
        "attributes",
        "bearerToken",
        "confidence",
        "currency",
        "eventName",
        "payloadDescriptors",
        "priority",
        "programDescriptions",
        "reportDescriptors",
        "reportName",
        "targets",
    }
)
# 3.0.1 lets more be null: the program fields 3.1.0 turned into attributes,
# and the units and reading type of descriptors.
NULLABLE_301 = NULLABLE | {
    "readingType",
    "units",
    *openadr_301.PROGRAM_ATTRIBUTES.values(),
}
REPORT_SHAPE_310: dict[str, frozenset[str]] = {
    "report": frozenset(
        {
            "objectType",
            "eventID",
            "clientName",
            "reportName",
            "payloadDescriptors",
            "resources",
        }
    ),
    "resource": frozenset({"resourceName", "intervalPeriod", "intervals"}),
    "interval": frozenset({"id", "intervalPeriod", "payloads"}),
    "payload": frozenset({"type", "values"}),
}
REPORT_SHAPE_301 = REPORT_SHAPE_310 | {
    "report": REPORT_SHAPE_310["report"] | {"programID"}
}
OBJECT_TYPES = {
    "programs": "PROGRAM",
    "events": "EVENT",
    "vens": "VEN",
    "resources": "RESOURCE",
    "subscriptions": "SUBSCRIPTION",
    "reports": "REPORT",
}


def null_problems(
    body: Any, path: str = "", nullable: frozenset[str] = NULLABLE
) -> list[str]:
    """Where ``body`` holds null at a property the schema (3.1.0 by default) forbids it."""
    if isinstance(body, list):
        return [
            p
            for i, item in enumerate(body)
            for p in null_problems(item, f"{path}.{i}", nullable)
        ]
    if not isinstance(body, dict):
        return []
    found: list[str] = []
    for key, value in body.items():
        where = f"{path}.{key}".lstrip(".")
        if value is None and key not in nullable:
            found.append(f"None is not of type 'object' - '{where}'")
        else:
            found.extend(null_problems(value, where, nullable))
    return found


def report_shape_problems(
    body: Any, shape: dict[str, frozenset[str]] = REPORT_SHAPE_310
) -> list[str]:
    """Properties of a report that the schema (3.1.0 by default) does not define."""
    if not isinstance(body, dict):
        return ["a report is a JSON object"]

    def unknown(level: str, item: Any, where: str) -> list[str]:
        if not isinstance(item, dict):
            return [f"{where} is not an object"]
        return [f"{where}.{k}: unknown property" for k in item if k not in shape[level]]

    found = unknown("report", body, "report")
    for r, resource in enumerate(body.get("resources") or []):
        found += unknown("resource", resource, f"resources.{r}")
        for i, interval in enumerate(
            resource.get("intervals") or [] if isinstance(resource, dict) else []
        ):
            found += unknown("interval", interval, f"resources.{r}.intervals.{i}")
            for n, payload in enumerate(
                interval.get("payloads") or [] if isinstance(interval, dict) else []
            ):
                found += unknown(
                    "payload", payload, f"resources.{r}.intervals.{i}.payloads.{n}"
                )
    return found


def _dump(model: BaseModel) -> dict[str, Any]:
    body: dict[str, Any] = model.model_dump(
        by_alias=True, mode="json", exclude_none=True
    )
    return body


def _profile_problems(model: object) -> list[str]:
    found: list[str] = []
    for validator in _PLUGIN.get_model_validators(type(model)):
        found.extend(str(e["type"]) for e in validator.validate(model) or ())
    return found


def _attribute(name: str, *values: Any) -> Attribute[Any]:
    return Attribute(type=VenResourceAttributeType(name), values=values)


@dataclass(frozen=True)
class ReceivedBody:
    """A JSON body a VEN sent (POST or PUT), as it arrived."""

    method: str
    path: str
    body: Any


@dataclass(frozen=True)
class Answer:
    """A JSON answer this VTN gave to an API call."""

    method: str
    path: str
    status: int
    body: Any


@dataclass
class ReceivedReport:
    """A report the VTN received, and what the profile said of it."""

    body: dict[str, Any]
    problems: list[str] = field(default_factory=list)


class OpenAdrTestVtn:
    """An in-process VTN on 127.0.0.1 that stores what it receives."""

    def __init__(
        self,
        *,
        client_id: str = "dacs-ven",
        client_secret: str = "ven-secret",  # noqa: S107 - a test peer's default
        token_lifetime_s: int = 3600,
        mqtt_broker_uri: str | None = None,
        client_auth: ClientAuthentication = "any",
        strict: bool = False,
        version: Version = "3.1.0",
    ) -> None:
        """Prepare; ``start()`` binds a free port on 127.0.0.1.

        ``client_auth`` is how the token endpoint accepts the client
        credentials: ``"basic"``, ``"body"`` (the form, as the OpenADR 3.1
        token endpoint) or ``"any"`` of the two.

        ``strict`` makes a minimal, specification-literal VTN: client
        credentials in the form body only, null (where the schema forbids
        it) and unknown report properties refused with 400, no NL-flex
        resource groups (404), timestamps without a time zone (a bug some
        VTNs have), and notifier topics per operation only (no ALL topic).

        ``version`` is the OpenADR version it speaks (``openadr_301`` for
        3.0.1); either version can be strict or not.
        """
        self.strict = strict
        self.version: Version = version
        self.client_id = client_id
        self.client_auth: ClientAuthentication = "body" if strict else client_auth
        # Paths this VTN does not offer: they answer 404, as a VTN without them.
        self.not_offered: set[str] = {"/resource_groups"} if strict else set()
        self.client_secret = client_secret
        self.token_lifetime_s = token_lifetime_s
        self.mqtt_broker_uri = mqtt_broker_uri
        self.notifications: list[tuple[str, dict[str, Any]]] = []  # published
        self._publishing: set[asyncio.Task[None]] = set()
        self.programs: dict[str, dict[str, Any]] = {}
        self.events: dict[str, dict[str, Any]] = {}
        self.vens: dict[str, dict[str, Any]] = {}
        self.resources: dict[str, dict[str, Any]] = {}
        self.resource_groups: dict[str, dict[str, Any]] = {}
        self.reports: list[ReceivedReport] = []
        self.received: list[ReceivedBody] = []  # every JSON body, raw
        self.answered: list[Answer] = []  # every JSON answer to an API call
        self.refused_reports: list[ReceivedReport] = []
        self.subscriptions: dict[str, dict[str, Any]] = {}
        self.registration_policy: RegistrationPolicy = lambda _resource: (
            "ENROLLED",
            None,
        )
        self.token_requests = 0
        self.requests = 0
        self.request_paths: list[str] = []  # every request, in order
        self.hung_requests = 0  # requests held open by hang()
        self._hanging: asyncio.Event | None = None
        self._tokens: set[str] = set()
        self._failures: list[str] = []
        self._runner: web.AppRunner | None = None
        self.port = 0

    # -- lifecycle -------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """The VTN's base URL (plain HTTP, loopback)."""
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def token_url(self) -> str:
        """The OAuth2 token endpoint."""
        return f"{self.base_url}/auth/token"

    async def start(self) -> None:
        """Serve on a free 127.0.0.1 port."""
        app = web.Application(middlewares=[self._middleware])
        app.add_routes(
            [
                web.post("/auth/token", self._token),
                web.get("/programs", self._list("programs")),
                web.get("/programs/{id}", self._one("programs")),
                web.get("/events", self._list_events),
                web.get("/events/{id}", self._one("events")),
                web.get("/vens", self._list_vens),
                web.post("/vens", self._create_ven),
                web.get("/resource_groups", self._list("resource_groups")),
                web.get("/reports", self._list_reports),
                web.post("/reports", self._create_report),
                web.get("/subscriptions", self._list("subscriptions")),
                web.post("/subscriptions", self._create_subscription),
            ]
        )
        if self.version == "3.0.1":
            app.add_routes(
                [
                    web.get("/vens/{ven}/resources", self._list_resources),
                    web.post("/vens/{ven}/resources", self._create_resource),
                ]
            )
        else:  # discovery, /resources and the notifiers are new in 3.1.0
            app.add_routes(
                [
                    web.get("/auth/server", self._auth_server),
                    web.get("/resources", self._list_resources),
                    web.post("/resources", self._create_resource),
                    web.get("/notifiers", self._notifiers),
                    web.get(
                        "/notifiers/mqtt/topics/programs/{id}/events",
                        self._event_topics,
                    ),
                ]
            )
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, LOOPBACK, 0)
        await site.start()
        server = site._server  # noqa: SLF001 - aiohttp exposes the bound port only here
        assert server is not None  # noqa: S101 - started above
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]  # asyncio.Server has sockets
        _LOGGER.info("test VTN on %s", self.base_url)

    async def stop(self) -> None:
        """Stop serving (the stored objects stay readable)."""
        if self._hanging is not None:
            self._hanging.set()
        await self.flush_notifications()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        """Start."""
        await self.start()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        """Stop."""
        await self.stop()

    def hang(self) -> None:
        """From now on, hold every API call open without answering (a VTN that hangs).

        ``stop()`` lets them go (503), so the VTN itself shuts down at once.
        """
        self._hanging = asyncio.Event()

    def fail_next(self, kind: str, count: int = 1) -> None:
        """The next ``count`` API calls answer ``"500"`` or ``"malformed"`` JSON."""
        if kind not in ("500", "malformed"):
            raise ValueError("kind is '500' or 'malformed'")
        self._failures.extend([kind] * count)

    # -- the grid operator's side (tests and the demo call these) ----------------

    def stamp(self) -> str:
        """Now, as this VTN writes it (strict: local time without a zone, a VTN bug)."""
        if self.strict:
            return datetime.now(UTC).replace(tzinfo=None).isoformat(timespec="seconds")
        return _now()

    def _metadata(self, table: str, object_id: str) -> dict[str, Any]:
        now = self.stamp()
        metadata = {
            "id": object_id,
            "createdDateTime": now,
            "modificationDateTime": now,
        }
        if table in OBJECT_TYPES:  # required in 3.1.0's objectMetadata
            metadata["objectType"] = OBJECT_TYPES[table]
        return metadata

    @property
    def offers_nlflex(self) -> bool:
        """True while the NL-flex extension (resource groups) is on."""
        return "/resource_groups" not in self.not_offered

    def shown(self, table: str, item: dict[str, Any]) -> dict[str, Any]:
        """A stored object as this VTN's OpenADR version serves it."""
        if self.version == "3.0.1":
            return openadr_301.shown(table, item, nlflex=self.offers_nlflex)
        return item

    def _store(self, table: str, body: dict[str, Any]) -> str:
        object_id = str(uuid.uuid4())
        getattr(self, table)[object_id] = body | self._metadata(table, object_id)
        return object_id

    def add_program(self, program: NewProgram) -> str:
        """Publish a program; returns its id."""
        return self._store("programs", _dump(program))

    def add_event(self, event: NewEvent) -> str:
        """Publish an event (and notify, with a broker); returns its id."""
        return self.add_raw_event(_dump(event))

    def add_raw_event(self, body: dict[str, Any]) -> str:
        """Publish any JSON as an event (malformed events for tests)."""
        event_id = self._store("events", body)
        self._notify("POST", self.events[event_id])
        return event_id

    def delete_event(self, event_id: str) -> None:
        """Withdraw an event (events are immutable: change = delete + create)."""
        self._notify("DELETE", self.events.pop(event_id))

    # -- MQTT notifier -----------------------------------------------------------

    def event_topic(self, program_id: object) -> str:
        """The topic of every operation on a program's events."""
        return f"OpenADR/3.1.0/programs/{program_id}/events"

    def _notify(self, operation: str, event: dict[str, Any]) -> None:
        """Publish from a task, so the synchronous ``add_event`` keeps working.

        Without a running event loop (or a broker) nothing is published.
        """
        if self.mqtt_broker_uri is None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        body = {"objectType": "EVENT", "operation": operation, "object": event}
        verb = {"POST": "create", "PUT": "update", "DELETE": "delete"}[operation]
        topic = f"{self.event_topic(event.get('programID'))}/{verb}"
        task = loop.create_task(self.publish(topic, body))
        self._publishing.add(task)
        task.add_done_callback(self._publishing.discard)

    async def publish(self, topic: str, body: dict[str, Any] | bytes) -> None:
        """Publish one notification (or any bytes, for tests) on the notifier's broker."""
        if self.mqtt_broker_uri is None:
            raise RuntimeError("this test VTN has no MQTT broker")
        parts = urlsplit(self.mqtt_broker_uri)
        payload = body if isinstance(body, bytes) else json.dumps(body).encode()
        try:
            async with aiomqtt.Client(
                parts.hostname or LOOPBACK, parts.port or 1883, timeout=5
            ) as client:
                await client.publish(topic, payload, qos=1)
        except aiomqtt.MqttError as err:
            _LOGGER.warning(
                "test VTN: notification on %s not published: %s", topic, err
            )
            return
        if isinstance(body, dict):
            self.notifications.append((topic, body))

    async def flush_notifications(self) -> None:
        """Wait until every scheduled notification is published."""
        while self._publishing:
            await asyncio.gather(*self._publishing, return_exceptions=True)

    def add_resource_group(self, group: NewResourceGroup) -> str:
        """Create a resource group (the BL's job); returns its object id."""
        return self._store("resource_groups", _dump(group))

    # -- HTTP ------------------------------------------------------------------------

    @web.middleware
    async def _middleware(
        self,
        request: web.Request,
        handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
    ) -> web.StreamResponse:
        self.requests += 1
        self.request_paths.append(request.path)
        if request.path.startswith("/auth/"):
            return await handler(request)
        body = await self._received(request)
        if self._hanging is not None:
            self.hung_requests += 1
            await self._hanging.wait()
            return web.json_response({"title": "stopped"}, status=503)
        if any(request.path.startswith(path) for path in self.not_offered):
            return web.json_response({"title": "Not Found", "status": 404}, status=404)
        problems = self._strict_problems(request.path, body) if self.strict else []
        if problems:
            return web.json_response(
                {"title": "Bad Request", "status": 400, "detail": problems[0]},
                status=400,
            )
        if self._failures:
            kind = self._failures.pop(0)
            if kind == "500":
                return web.json_response({"title": "test failure"}, status=500)
            return web.Response(text='{"not": json', content_type="application/json")
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if token not in self._tokens:
            return web.json_response(
                {"title": "Unauthorized", "status": 401}, status=401
            )
        response = await handler(request)
        if isinstance(response, web.Response) and response.body is not None:
            with contextlib.suppress(ValueError, TypeError):
                self.answered.append(
                    Answer(
                        request.method,
                        request.path,
                        response.status,
                        json.loads(bytes(response.body)),  # type: ignore[arg-type]  # json_response bodies are bytes
                    )
                )
        return response

    async def _received(self, request: web.Request) -> Any:
        """Record a POST or PUT body as it arrived (None for other requests)."""
        if request.method not in ("POST", "PUT") or not request.can_read_body:
            return None
        try:
            body = json.loads(await request.read())
        except ValueError:
            body = None
        self.received.append(ReceivedBody(request.method, request.path, body))
        return body

    def _strict_problems(self, path: str, body: Any) -> list[str]:
        """Why a strict VTN answers 400: nulls the schema forbids, unknown report shapes."""
        legacy = self.version == "3.0.1"
        problems = null_problems(body, nullable=NULLABLE_301 if legacy else NULLABLE)
        if path == "/reports":
            problems += report_shape_problems(
                body, REPORT_SHAPE_301 if legacy else REPORT_SHAPE_310
            )
            if problems:
                self.refused_reports.append(ReceivedReport(body, problems))
        return problems

    async def _token(self, request: web.Request) -> web.Response:
        self.token_requests += 1
        form = await request.post()
        client_id, client_secret = (
            str(form.get("client_id", "")),
            str(form.get("client_secret", "")),
        )
        header = request.headers.get("Authorization", "")
        used = "basic" if header.startswith("Basic ") else "body"
        if used == "basic":
            decoded = base64.b64decode(header.removeprefix("Basic ")).decode()
            encoded_id, _, encoded_secret = decoded.partition(":")
            client_id, client_secret = unquote(encoded_id), unquote(encoded_secret)
        if self.client_auth not in ("any", used):
            return web.json_response(
                {"error": "invalid_client", "error_description": f"no {used} auth"},
                status=401,
            )
        if form.get("grant_type") != "client_credentials":
            return web.json_response({"error": "unsupported_grant_type"}, status=400)
        if client_id != self.client_id or client_secret != self.client_secret:
            return web.json_response({"error": "invalid_client"}, status=401)
        token = secrets.token_urlsafe(24)
        self._tokens.add(token)
        return web.json_response(
            {
                "access_token": token,
                "token_type": "Bearer",
                "expires_in": self.token_lifetime_s,
            }
        )

    async def _auth_server(self, _request: web.Request) -> web.Response:
        return web.json_response({"tokenURL": self.token_url})

    @staticmethod
    def _page(request: web.Request, items: Sequence[dict[str, Any]]) -> web.Response:
        skip = int(request.query.get("skip", 0))
        limit = int(request.query.get("limit", 50))
        return web.json_response(list(items)[skip : skip + limit])

    def _list(self, table: str) -> Callable[[web.Request], Any]:
        async def handler(request: web.Request) -> web.Response:
            return self._page(
                request, [self.shown(table, i) for i in getattr(self, table).values()]
            )

        return handler

    def _one(self, table: str) -> Callable[[web.Request], Any]:
        async def handler(request: web.Request) -> web.Response:
            item = getattr(self, table).get(request.match_info["id"])
            if item is None:
                return web.json_response({"title": "Not Found"}, status=404)
            return web.json_response(self.shown(table, item))

        return handler

    async def _notifiers(self, _request: web.Request) -> web.Response:
        body: dict[str, Any] = {"WEBHOOK": False}
        if self.mqtt_broker_uri is not None:
            body["MQTT"] = {
                "URIS": [self.mqtt_broker_uri],
                "serialization": "JSON",
                "authentication": {"method": "ANONYMOUS"},
            }
        return web.json_response(body)

    async def _event_topics(self, request: web.Request) -> web.Response:
        if self.mqtt_broker_uri is None:
            return web.json_response({"title": "Not Found"}, status=404)
        topic = self.event_topic(request.match_info["id"])
        topics = {
            "CREATE": f"{topic}/create",
            "UPDATE": f"{topic}/update",
            "DELETE": f"{topic}/delete",
        }
        if not self.strict:  # ALL is optional in the specification
            topics["ALL"] = f"{topic}/+"
        return web.json_response({"topics": topics})

    async def _list_events(self, request: web.Request) -> web.Response:
        program_id = request.query.get("programID")
        items = [
            self.shown("events", e)
            for e in self.events.values()
            if program_id is None or e.get("programID") == program_id
        ]
        return self._page(request, items)

    async def _list_vens(self, request: web.Request) -> web.Response:
        name = request.query.get("venName")
        return self._page(
            request,
            [
                self.shown("vens", v)
                for v in self.vens.values()
                if name is None or v["venName"] == name
            ],
        )

    @staticmethod
    def _bad_request(detail: str) -> web.Response:
        return web.json_response(
            {"title": "Bad Request", "status": 400, "detail": detail}, status=400
        )

    async def _create_ven(self, request: web.Request) -> web.Response:
        body = await request.json()
        if not isinstance(body, dict) or not body.get("venName"):
            return self._bad_request("venName missing")
        if self.version == "3.0.1" and (
            problem := openadr_301.object_type_problem(body, "VEN")
        ):
            return self._bad_request(problem)
        stored = {"venName": body["venName"]}
        if body.get("attributes") is not None:
            stored["attributes"] = body["attributes"]
        ven_id = self._store("vens", stored | {"clientID": self.client_id})
        return web.json_response(self.shown("vens", self.vens[ven_id]), status=201)

    async def _list_resources(self, request: web.Request) -> web.Response:
        ven_id = request.match_info.get("ven") or request.query.get("venID")
        return self._page(
            request,
            [
                self.shown("resources", r)
                for r in self.resources.values()
                if ven_id is None or r["venID"] == ven_id
            ],
        )

    async def _create_resource(self, request: web.Request) -> web.Response:
        body = await request.json()
        ven_id = request.match_info.get("ven")
        if ven_id is not None:  # 3.0.1: the VEN is in the path, the type is RESOURCE
            if ven_id not in self.vens:
                return web.json_response({"title": "Not Found"}, status=404)
            if problem := openadr_301.object_type_problem(body, "RESOURCE"):
                return self._bad_request(problem)
            if isinstance(body, dict):
                if body.get("venID", ven_id) != ven_id:
                    return self._bad_request("venID is not the VEN of the path")
                body = body | {"objectType": "VEN_RESOURCE_REQUEST", "venID": ven_id}
        try:
            resource = NewResourceVenRequest.model_validate(body)
        except ValidationError as err:
            return self._bad_request(str(err))
        problems = _profile_problems(resource)
        if problems:
            return self._bad_request("; ".join(problems))
        stored = _dump(resource)
        stored.pop("objectType", None)
        resource_id = self._store("resources", stored | {"clientID": self.client_id})
        return web.json_response(
            self.shown("resources", self.resources[resource_id]), status=201
        )

    async def _list_reports(self, request: web.Request) -> web.Response:
        return self._page(
            request, [self.shown("reports", r.body) for r in self.reports]
        )

    async def _create_report(self, request: web.Request) -> web.Response:
        body = await request.json()
        if self.version == "3.0.1" and (
            problem := openadr_301.report_program_problem(body, self.events)
        ):
            self.refused_reports.append(ReceivedReport(body=body, problems=[problem]))
            return self._bad_request(problem)
        try:
            report = NewReport.model_validate(body)
        except ValidationError as err:
            self.refused_reports.append(ReceivedReport(body=body, problems=[str(err)]))
            return web.json_response({"title": str(err)}, status=400)
        problems = _profile_problems(report)
        event = self.events.get(report.event_id)
        if event is not None and report.report_name == "DELIVERED_FLEX":
            # Its own stamps may lack a zone (strict); the intervals are what counts.
            zoned = event | {"createdDateTime": _now(), "modificationDateTime": _now()}
            intervals = ExistingEvent.model_validate(zoned).intervals or ()
            problems += [
                str(e["type"])
                for e in validate_flex_delivery_report_compliant(
                    report, event_intervals=intervals
                )
                or ()
            ]
        if event is None:
            problems.append(f"unknown eventID {report.event_id}")
        received = ReceivedReport(body=body, problems=problems)
        if problems:
            self.refused_reports.append(received)
            return web.json_response({"title": "; ".join(problems)}, status=400)
        self.reports.append(received)
        if report.report_name == "RESOURCE_REGISTRATION":
            self._register(report)
        stored = (
            body
            | self._metadata("reports", str(uuid.uuid4()))
            | {"clientID": self.client_id}
        )
        received.body = stored
        return web.json_response(self.shown("reports", stored), status=201)

    def _register(self, report: NewReport) -> None:
        payloads = {
            str(p.type): p.values for p in report.resources[0].intervals[0].payloads
        }
        group = self.resource_groups.get(str(payloads["RESOURCE_GROUP_ID"][0]))
        for resource_id in payloads.get("REGISTRATION_REQUEST", ()):
            resource = self.resources.get(str(resource_id))
            if resource is None or group is None:
                continue
            status, reason = self.registration_policy(resource)
            attributes = [
                a
                for a in resource.get("attributes") or []
                if a["type"] not in ("REGISTRATION_STATUS", "REJECTED_REASON")
            ]
            attributes.append({"type": "REGISTRATION_STATUS", "values": [status]})
            if reason is not None:
                attributes.append({"type": "REJECTED_REASON", "values": [reason]})
            resource["attributes"] = attributes
            resource["modificationDateTime"] = self.stamp()
            if status == "ENROLLED":
                group.setdefault("children", []).append(
                    {"type": "ven_resource", "id": resource["id"]}
                )

    async def _create_subscription(self, request: web.Request) -> web.Response:
        body = await request.json()
        if not isinstance(body, dict):
            return web.json_response({"title": "not an object"}, status=400)
        subscription_id = self._store(
            "subscriptions", body | {"clientID": self.client_id}
        )
        return web.json_response(self.subscriptions[subscription_id], status=201)


# -- NL-flex and capacity objects, as a grid operator publishes them -----------------


def nlflex_program(name: str, *, dso_ean: str) -> NewProgram:
    """An NL-flex DSO to service provider program."""
    return NewProgram(
        program_name=name,
        attributes=ValuesMap(
            [
                Attribute(
                    type=ProgramAttributeType.PROGRAM_TYPE, values=(PROGRAM_TYPE,)
                ),
                Attribute(type=ProgramAttributeType.RETAILER_NAME, values=(dso_ean,)),
                Attribute(type=ProgramAttributeType.BINDING_EVENTS, values=(True,)),
            ]
        ),
    )


def capacity_program(name: str) -> NewProgram:
    """A plain OpenADR 3.1 program carrying capacity limits and grid alerts."""
    return NewProgram(program_name=name)


def anchor_event(program_id: str) -> NewEvent:
    """The program's reporting anchor event (registration and status reports cite it)."""
    return NewEvent(
        programID=program_id,
        event_name="reporting anchor",
        report_descriptors=tuple(
            ReportDescriptor(
                payload_type=ReportPayloadType(name), frequency=0, repeat=-1
            )
            for name in (
                "REGISTRATION_REQUEST",
                "DE_REGISTRATION_REQUEST",
                "OPERATIONAL_STATUS",
            )
        ),
    )


def resource_group(
    name: str,
    *,
    dso_ean: str,
    service_provider_ean: str,
    congestion_point_id: str,
    max_duration: str = "PT4H",
) -> NewResourceGroup:
    """A resource group: one service provider's assets behind one congestion point."""
    return NewResourceGroup(
        resource_group_name=name,
        targets=(name,),
        attributes=ValuesMap(
            [
                _attribute("DSO_ID", dso_ean),
                _attribute("SERVICE_PROVIDER_ID", service_provider_ean),
                _attribute("CONGESTION_POINT_ID", congestion_point_id),
                _attribute("MAX_DURATION", max_duration),
            ]
        ),
    )


def baseline_event(
    program_id: str, group_name: str, *, active_kw: float, reserved_kw: float
) -> NewEvent:
    """A resource group's baseline, in force until the next one."""
    return NewEvent(
        programID=program_id,
        event_name="baseline",
        targets=(group_name,),
        payload_descriptors=tuple(
            EventPayloadDescriptor(payload_type=EventPayloadType(name), units=Unit.KW)
            for name in ("ACTIVE_BASELINE", "RESERVED_BASELINE")
        ),
        report_descriptors=tuple(
            ReportDescriptor(
                payload_type=ReportPayloadType(name),
                report_intervals=ReportIntervals.OPEN_INTERVALS,
                frequency=0,
                repeat=-1,
            )
            for name in ("ACTIVE_FLEX_DELTA", "RESERVED_FLEX_DELTA")
        ),
        intervals=(
            Interval(
                id=0,
                payloads=(
                    EventPayload(
                        type=EventPayloadType("ACTIVE_BASELINE"), values=(active_kw,)
                    ),
                    EventPayload(
                        type=EventPayloadType("RESERVED_BASELINE"),
                        values=(reserved_kw,),
                    ),
                ),
            ),
        ),
    )


def flex_event(
    program_id: str,
    group_name: str,
    *,
    window_start: datetime,
    dispatches: Sequence[tuple[datetime, timedelta, float]],
    adjacent_hours: bool = True,
    units: str = "KW",
) -> NewEvent:
    """A FLEX dispatch: (start, duration, FLEX kW) per dispatch, with its adjacent hours."""
    spans: list[tuple[datetime, timedelta, float]] = []
    for start, duration, flex_kw in dispatches:
        if adjacent_hours:
            spans.append((start - timedelta(hours=1), timedelta(hours=1), 0.0))
        spans.append((start, duration, flex_kw))
        if adjacent_hours:
            spans.append((start + duration, timedelta(hours=1), 0.0))
    spans.sort(key=lambda s: s[0])
    return NewEvent(
        programID=program_id,
        event_name="flex dispatch",
        targets=(group_name,),
        interval_period=IntervalPeriod(start=window_start, duration=timedelta(days=1)),
        payload_descriptors=(
            EventPayloadDescriptor(
                payload_type=EventPayloadType("FLEX"), units=Unit(units)
            ),
        ),
        report_descriptors=(
            ReportDescriptor(payload_type=ReportPayloadType("ACK"), frequency=0),
            ReportDescriptor(payload_type=ReportPayloadType("DELIVERED_FLEX")),
        ),
        intervals=tuple(
            Interval(
                id=index,
                interval_period=IntervalPeriod(start=start, duration=duration),
                payloads=(EventPayload(type=EventPayloadType("FLEX"), values=(flex,)),),
            )
            for index, (start, duration, flex) in enumerate(spans)
        ),
    )


def capacity_limit_event(
    program_id: str,
    congestion_point_id: str,
    *,
    start: datetime,
    caps_kw: Sequence[float],
    units: str = "KW",
    interval: timedelta = timedelta(minutes=15),
) -> NewEvent:
    """An IMPORT_CAPACITY_LIMIT profile for one congestion point (15-minute intervals)."""
    return NewEvent(
        programID=program_id,
        event_name="capacity limit",
        targets=(congestion_point_id,),
        payload_descriptors=(
            EventPayloadDescriptor(
                payload_type=EventPayloadType.IMPORT_CAPACITY_LIMIT, units=Unit(units)
            ),
        ),
        intervals=tuple(
            Interval(
                id=index,
                interval_period=IntervalPeriod(
                    start=start + index * interval, duration=interval
                ),
                payloads=(
                    EventPayload(
                        type=EventPayloadType.IMPORT_CAPACITY_LIMIT, values=(cap,)
                    ),
                ),
            )
            for index, cap in enumerate(caps_kw)
        ),
    )


def grid_emergency_event(
    program_id: str,
    congestion_point_id: str | None,
    *,
    start: datetime,
    duration: timedelta,
) -> NewEvent:
    """ALERT_GRID_EMERGENCY for one congestion point (None: the whole program)."""
    return NewEvent(
        programID=program_id,
        event_name="grid emergency",
        targets=(congestion_point_id,) if congestion_point_id else None,
        interval_period=IntervalPeriod(start=start, duration=duration),
        payload_descriptors=(
            EventPayloadDescriptor(payload_type=EventPayloadType.ALERT_GRID_EMERGENCY),
        ),
        intervals=(
            Interval(
                id=0,
                payloads=(
                    EventPayload(
                        type=EventPayloadType.ALERT_GRID_EMERGENCY,
                        values=("transformer overload",),
                    ),
                ),
            ),
        ),
    )
