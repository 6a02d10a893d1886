"""The VTN over HTTP: openadr3-client's synchronous VEN client, run off the event loop.

Every call runs in a daemon thread (``off_the_loop``) under a timeout,
and every failure becomes one of the adapter's errors (``errors.py``), so the
poller can log a clear reason and try again at the next poll. The VTN's
OpenADR version (3.1.0 or 3.0.1) is settled when connecting; ``versions.Wire``
puts paths and bodies in that version's shape.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
import logging
from typing import Any

from openadr3_client.extensions.resource_group._client.http import (
    ResourceGroupsReadOnlyHttpInterface,
)
from openadr3_client.extensions.resource_group.models.resource_group import (
    ExistingResourceGroup,
)
from openadr3_client.oadr310._ven.client import VirtualEndNodeClient
from openadr3_client.oadr310._vtn.interfaces.filters import PaginationFilter
from openadr3_client.oadr310.models.event.event import ExistingEvent
from openadr3_client.oadr310.models.program.program import ExistingProgram
from openadr3_client.oadr310.models.report.report import ExistingReport, NewReport
from openadr3_client.oadr310.models.resource.resource import (
    ExistingResource,
    NewResourceVenRequest,
)
from openadr3_client.oadr310.models.ven.ven import ExistingVen, NewVenVenRequest
from pydantic import ValidationError

from dacs.excerpt import QUOTE_CHARS, bounded
from dacs.text import find_forbidden, forbidden_character

from .config import OpenAdrConfig
from .connection import connect, off_the_loop, translate_error
from .credentials import ClientCredentialsToken
from .errors import VtnCapabilityError, VtnUnavailableError
from .json_calls import JsonCalls
from .monitoring import OnceWarnings, OpenAdrCounters
from .versions import Wire

_LOGGER = logging.getLogger(__name__)

PAGE_SIZE = 50
MAX_PAGES = 200  # 10,000 events per program is far beyond any real program

# The optional parts of OpenADR 3 the VEN can do without, as its status names them.
RESOURCE_GROUPS = "resource groups"
NOTIFIERS = "MQTT notifiers"
REPORT_UPLOAD = "report upload"


@dataclass(frozen=True, kw_only=True)
class RawEvent:
    """An event the VTN sent that does not parse as OpenADR 3.1, and why."""

    event_id: str | None
    reason: str


def _raw_event(item: Any, err: Exception) -> RawEvent:
    """An event that does not parse, with the first reason (at most 60 characters of its id)."""
    event_id = item.get("id") if isinstance(item, dict) else None
    if isinstance(err, ValidationError):
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        reason = f"{first['msg']} at {where}"
    else:
        reason = str(err)
    if event_id and forbidden_character(str(event_id)):
        event_id = ascii(event_id)  # escaped, so the ledger and logs can hold it
    return RawEvent(
        event_id=str(event_id)[:QUOTE_CHARS] if event_id else None,
        reason=bounded(f"not an OpenADR 3.1 event: {reason}"),
    )


def _refuse_forbidden_text(item: Any) -> None:
    found = find_forbidden(item, lines=True)
    if found is not None:
        raise ValueError(f"{found[0]} holds {found[1]}")


class VtnClient:
    """A VEN's view of one VTN (programs, events, resources, reports)."""

    def __init__(
        self,
        config: OpenAdrConfig,
        *,
        client_secret: str,
        counters: OpenAdrCounters | None = None,
        warnings: OnceWarnings | None = None,
    ) -> None:
        """Prepare; the first call connects (token URL discovery may need the network)."""
        self._config = config
        self._counters = counters or OpenAdrCounters()
        self._warnings = warnings or OnceWarnings()
        self._secret = client_secret
        self._ven: VirtualEndNodeClient | None = None
        self._groups: ResourceGroupsReadOnlyHttpInterface | None = None
        self._tokens: ClientCredentialsToken | None = None
        self._token_url = config.token_url
        self._wire: Wire | None = None
        self._json = JsonCalls(self._counters, self._warnings)
        self._lock = asyncio.Lock()

    # -- plumbing ------------------------------------------------------------

    def _build(self) -> None:
        connection = connect(self._config, self._secret)
        self._tokens = connection.tokens
        self._token_url = connection.token_url
        self._ven = connection.ven
        self._groups = connection.groups
        self._wire = connection.wire

    @property
    def version(self) -> str | None:
        """The OpenADR version the VTN speaks; None until the first call connects."""
        return self._wire.version if self._wire else None

    async def _call[T](self, what: str, function: Callable[[], T]) -> T:
        """Run ``function`` in a thread; translate every failure into a VtnError."""
        async with self._lock:
            try:
                async with asyncio.timeout(self._config.request_timeout_s * 3):
                    if self._ven is None:
                        await off_the_loop(self._build)
                    return await off_the_loop(function)
            except Exception as err:
                translated = translate_error(what, err, token_url=self._token_url)
                if translated is None:
                    raise
                raise translated from err

    def _client(self) -> VirtualEndNodeClient:
        if self._ven is None:  # pragma: no cover - _call connects first
            raise VtnUnavailableError("not connected to the VTN")
        return self._ven

    def _wire_now(self) -> Wire:
        if self._wire is None:  # pragma: no cover - _call connects first
            raise VtnUnavailableError("not connected to the VTN")
        return self._wire

    def _group_client(self) -> ResourceGroupsReadOnlyHttpInterface:
        if self._groups is None:  # pragma: no cover - _call connects first
            raise VtnUnavailableError("not connected to the VTN")
        return self._groups

    # -- reads -----------------------------------------------------------------

    async def program(self, program_id: str) -> ExistingProgram:
        """One program by its VTN id."""
        return await self._call(
            f"program {program_id}",
            lambda: ExistingProgram.model_validate(
                self._wire_now().program(
                    self._json.read(self._client().programs, f"programs/{program_id}")
                )
            ),
        )

    async def events(
        self, program_id: str
    ) -> tuple[list[ExistingEvent], list[RawEvent]]:
        """Every event of a program (all pages): the parsed ones and the unparseable ones.

        Each event is parsed on its own, so one malformed event is refused
        alone instead of hiding the rest of the program's events.
        """

        def fetch() -> tuple[list[ExistingEvent], list[RawEvent]]:
            parsed: list[ExistingEvent] = []
            broken: list[RawEvent] = []
            for page in range(MAX_PAGES):
                params = PaginationFilter(
                    skip=page * PAGE_SIZE, limit=PAGE_SIZE
                ).model_dump(by_alias=True, mode="json") | {"programID": program_id}
                items = self._json.read(
                    self._client().events,
                    "events",
                    params,
                    text_checked_per_item=True,
                )
                if not isinstance(items, list):
                    raise TypeError("the events answer is not a JSON list")
                for item in map(self._wire_now().event, items):
                    try:
                        _refuse_forbidden_text(item)
                        parsed.append(ExistingEvent.model_validate(item))
                    except (ValidationError, ValueError, TypeError) as err:
                        # The library's own validators raise TypeError for
                        # some shapes (a payload value that is an object).
                        broken.append(_raw_event(item, err))
                if len(items) < PAGE_SIZE:
                    break
            return parsed, broken

        return await self._call(f"events of program {program_id}", fetch)

    async def resource_groups(self) -> tuple[ExistingResourceGroup, ...]:
        """The resource groups this VEN may see (the NL-flex extension; optional)."""
        return await self._call(
            "resource groups",
            lambda: self._json.read_list(
                self._group_client(),
                "resource_groups",
                ExistingResourceGroup,
                capability=RESOURCE_GROUPS,
            ),
        )

    async def ven_named(self, ven_name: str) -> ExistingVen | None:
        """The VEN object with this name, if the VTN has one."""
        vens = await self._call(
            "VEN lookup",
            lambda: self._json.read_list(
                self._client().vens,
                "vens",
                ExistingVen,
                {"venName": ven_name},
                shape=self._wire_now().ven,
            ),
        )
        matches = [v for v in vens if v.ven_name == ven_name]
        return matches[0] if matches else None

    async def resources(self, ven_id: str) -> tuple[ExistingResource, ...]:
        """This VEN's resources, with the registration status the grid operator set."""

        def fetch() -> tuple[ExistingResource, ...]:
            wire = self._wire_now()
            path, params = wire.resources_path(ven_id)
            return self._json.read_list(
                self._client().resources,
                path,
                ExistingResource,
                params,
                shape=lambda item: wire.resource(item, ven_id),
            )

        return await self._call("resources", fetch)

    async def notifiers(self) -> dict[str, Any] | None:
        """The VTN's notifier bindings as JSON (``GET /notifiers``); None without any.

        Read raw rather than as the library's ``NotifierDetails``: that model
        requires an MQTT binding and drops the authentication method, both of
        which the VEN must see. A VTN older than 3.1 answers 404; OpenADR
        3.0.1 has no notifiers, so a 3.0.1 VTN is not asked.
        """

        def fetch() -> dict[str, Any] | None:
            if self._wire_now().legacy:
                raise VtnCapabilityError(
                    NOTIFIERS, "OpenADR 3.0.1 defines no MQTT notifier"
                )
            try:
                body = self._json.read(
                    self._client().notifiers, "notifiers", capability=NOTIFIERS
                )
            except VtnCapabilityError:
                return None
            if not isinstance(body, dict):
                raise TypeError("the notifiers answer is not a JSON object")
            return body

        return await self._call("notifiers", fetch)

    async def event_topics(self, program_id: str) -> dict[str, str]:
        """The MQTT topics of a program's events, by operation (CREATE, UPDATE, DELETE, ALL).

        Read raw: the specification requires only UPDATE and DELETE, the
        library's model requires ALL.
        """

        def fetch() -> dict[str, str]:
            body = self._json.read(
                self._client().notifiers,
                f"notifiers/mqtt/topics/programs/{program_id}/events",
                capability=NOTIFIERS,
            )
            topics = body.get("topics") if isinstance(body, dict) else None
            if not isinstance(topics, dict):
                raise TypeError("the topics answer has no topics object")
            return {
                str(operation): value
                for operation, value in topics.items()
                if isinstance(value, str) and value
            }

        return await self._call(f"MQTT event topics of program {program_id}", fetch)

    async def access_token(self) -> str:
        """A current OAuth2 access token (the password of a bearer-token notifier)."""

        def fetch() -> str:
            if self._tokens is None:  # pragma: no cover - _call connects first
                raise VtnUnavailableError("not connected to the VTN")
            return self._tokens.get_access_token()

        return await self._call("access token", fetch)

    # -- writes ----------------------------------------------------------------

    async def create_ven(self, request: NewVenVenRequest) -> ExistingVen:
        """Create this VEN's object."""

        def create() -> ExistingVen:
            wire = self._wire_now()
            return self._json.create(
                self._client().vens,
                "vens",
                request,
                ExistingVen,
                body=wire.ven_body,
                shape=wire.ven,
            )

        return await self._call("VEN creation", create)

    async def create_resource(self, request: NewResourceVenRequest) -> ExistingResource:
        """Register one home's heat pump as a resource."""

        def create() -> ExistingResource:
            wire = self._wire_now()
            path, _query = wire.resources_path(request.ven_id)
            return self._json.create(
                self._client().resources,
                path,
                request,
                ExistingResource,
                body=wire.resource_body,
                shape=lambda item: wire.resource(item, request.ven_id),
            )

        return await self._call(f"resource {request.resource_name}", create)

    async def send_report(
        self, report: NewReport, *, program_id: str
    ) -> ExistingReport:
        """Send a report on an event of ``program_id`` (OpenADR 3.0.1 names it)."""

        def create() -> ExistingReport:
            wire = self._wire_now()
            return self._json.create(
                self._client().reports,
                "reports",
                report,
                ExistingReport,
                body=lambda body: wire.report_body(body, program_id),
                shape=wire.report,
                capability=REPORT_UPLOAD,
            )

        return await self._call(
            f"{report.report_name or 'report'} for event {report.event_id}", create
        )
