"""The VTN over HTTP: openadr3-client's synchronous VEN client, run off the event loop.

Every call runs in a daemon thread (``off_the_loop``) under a timeout,
and every failure becomes one of the adapter's errors (``errors.py``), so the
poller can log a clear reason and try again at the next poll.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
import logging
from typing import Any

from openadr3_client._models.common.creation_guarded import CreationGuarded
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
from pydantic import BaseModel, ValidationError
import requests

from dacs.excerpt import QUOTE_CHARS, bounded

from .config import OpenAdrConfig
from .connection import connect, off_the_loop, translate_error
from .credentials import ClientCredentialsToken
from .errors import VtnCapabilityError, VtnUnavailableError
from .monitoring import OnceWarnings, OpenAdrCounters
from .timestamps import assume_utc

_LOGGER = logging.getLogger(__name__)

PAGE_SIZE = 50
MAX_PAGES = 200  # 10,000 events per program is far beyond any real program

# The optional parts of OpenADR 3 the VEN can do without, as its status names them.
RESOURCE_GROUPS = "resource groups"
NOTIFIERS = "MQTT notifiers"
REPORT_UPLOAD = "report upload"
# How a VTN says it does not offer an endpoint (not found, method not allowed,
# not implemented).
MISSING_CAPABILITY = frozenset({404, 405, 501})


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
    return RawEvent(
        event_id=str(event_id)[:QUOTE_CHARS] if event_id else None,
        reason=bounded(f"not an OpenADR 3.1 event: {reason}"),
    )


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
        self._lock = asyncio.Lock()

    # -- plumbing ------------------------------------------------------------

    def _build(self) -> None:
        connection = connect(self._config, self._secret)
        self._tokens = connection.tokens
        self._token_url = connection.token_url
        self._ven = connection.ven
        self._groups = connection.groups

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

    def _group_client(self) -> ResourceGroupsReadOnlyHttpInterface:
        if self._groups is None:  # pragma: no cover - _call connects first
            raise VtnUnavailableError("not connected to the VTN")
        return self._groups

    # -- reads -----------------------------------------------------------------

    def _read(
        self,
        interface: Any,
        path: str,
        params: dict[str, Any] | None = None,
        *,
        capability: str | None = None,
    ) -> Any:
        """GET ``path`` as JSON, zone-less timestamps read as UTC.

        With ``capability``, an answer of 404/405/501 means the VTN does not
        offer that optional part: VtnCapabilityError, not a failed poll.
        """
        response = interface.session.get(f"{interface.base_url}/{path}", params=params)
        return self._answer(response, capability)

    def _answer(self, response: requests.Response, capability: str | None) -> Any:
        if capability is not None and response.status_code in MISSING_CAPABILITY:
            raise VtnCapabilityError(
                capability,
                f"{capability} not offered by this VTN (it answered "
                f"{response.status_code} to {response.request.method} {response.url})",
            )
        response.raise_for_status()
        body, naive = assume_utc(response.json())
        if naive:
            self._counters.naive_timestamps += naive
            self._warnings.warn(
                _LOGGER,
                "naive-timestamps",
                "the VTN sends timestamps without a time zone (first in %s); "
                "reading them as UTC (counted in naive_timestamps)",
                response.url,
            )
        return body

    async def program(self, program_id: str) -> ExistingProgram:
        """One program by its VTN id."""
        return await self._call(
            f"program {program_id}",
            lambda: ExistingProgram.model_validate(
                self._read(self._client().programs, f"programs/{program_id}")
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
                items = self._read(self._client().events, "events", params)
                if not isinstance(items, list):
                    raise TypeError("the events answer is not a JSON list")
                for item in items:
                    try:
                        parsed.append(ExistingEvent.model_validate(item))
                    except (ValidationError, ValueError, TypeError) as err:
                        # The library's own validators raise TypeError for
                        # some shapes (a payload value that is an object).
                        broken.append(_raw_event(item, err))
                if len(items) < PAGE_SIZE:
                    break
            return parsed, broken

        return await self._call(f"events of program {program_id}", fetch)

    def _list[T: BaseModel](
        self,
        interface: Any,
        path: str,
        model: type[T],
        params: dict[str, Any] | None = None,
        *,
        capability: str | None = None,
    ) -> tuple[T, ...]:
        items = self._read(interface, path, params, capability=capability)
        if not isinstance(items, list):
            raise TypeError(f"the {path} answer is not a JSON list")
        return tuple(model.model_validate(item) for item in items)

    async def resource_groups(self) -> tuple[ExistingResourceGroup, ...]:
        """The resource groups this VEN may see (the NL-flex extension; optional)."""
        return await self._call(
            "resource groups",
            lambda: self._list(
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
            lambda: self._list(
                self._client().vens, "vens", ExistingVen, {"venName": ven_name}
            ),
        )
        matches = [v for v in vens if v.ven_name == ven_name]
        return matches[0] if matches else None

    async def resources(self, ven_id: str) -> tuple[ExistingResource, ...]:
        """This VEN's resources, with the registration status the grid operator set."""
        return await self._call(
            "resources",
            lambda: self._list(
                self._client().resources,
                "resources",
                ExistingResource,
                {"venID": ven_id},
            ),
        )

    async def notifiers(self) -> dict[str, Any] | None:
        """The VTN's notifier bindings as JSON (``GET /notifiers``); None without any.

        Read raw rather than as the library's ``NotifierDetails``: that model
        requires an MQTT binding and drops the authentication method, both of
        which the VEN must see. A VTN older than 3.1 answers 404.
        """

        def fetch() -> dict[str, Any] | None:
            try:
                body = self._read(
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
            body = self._read(
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

    def _create[T: BaseModel](
        self,
        interface: Any,
        path: str,
        new: CreationGuarded,
        answer: type[T],
        *,
        capability: str | None = None,
    ) -> T:
        """POST ``new`` as the schema wants it; the VTN's answer parsed as ``answer``.

        The library would send every absent optional field as JSON null, which
        the OpenADR 3 schema forbids for most (``intervalPeriod``, ``targets``
        of a report's interval ...): absent stays absent.
        """
        with new.with_creation_guard():
            response = interface.session.post(
                f"{interface.base_url}/{path}", json=strict_body(new)
            )
            return answer.model_validate(self._answer(response, capability))

    async def create_ven(self, request: NewVenVenRequest) -> ExistingVen:
        """Create this VEN's object."""
        return await self._call(
            "VEN creation",
            lambda: self._create(self._client().vens, "vens", request, ExistingVen),
        )

    async def create_resource(self, request: NewResourceVenRequest) -> ExistingResource:
        """Register one home's heat pump as a resource."""
        return await self._call(
            f"resource {request.resource_name}",
            lambda: self._create(
                self._client().resources, "resources", request, ExistingResource
            ),
        )

    async def send_report(self, report: NewReport) -> ExistingReport:
        """Send a report."""
        return await self._call(
            f"{report.report_name or 'report'} for event {report.event_id}",
            lambda: self._create(
                self._client().reports,
                "reports",
                report,
                ExistingReport,
                capability=REPORT_UPLOAD,
            ),
        )


def strict_body(model: BaseModel) -> dict[str, Any]:
    """A new object as OpenADR 3 JSON: camelCase names, absent fields left out."""
    body: dict[str, Any] = model.model_dump(
        by_alias=True, mode="json", exclude_none=True
    )
    return body
