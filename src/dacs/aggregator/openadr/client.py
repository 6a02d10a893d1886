"""The VTN over HTTP: openadr3-client's synchronous VEN client, run off the event loop.

Every call runs in a daemon thread (``off_the_loop``) under a timeout,
and every failure becomes one of the adapter's errors (``errors.py``), so the
poller can log a clear reason and try again at the next poll.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
import contextlib
from dataclasses import dataclass
from functools import partial
import logging
import os
import threading
from typing import Any, cast, override

from oauthlib.oauth2.rfc6749.errors import OAuth2Error  # type: ignore[import-untyped]  # no stubs installed
from openadr3_client._models.common.creation_guarded import CreationGuarded
from openadr3_client.extensions.resource_group._client.http import (
    ResourceGroupsReadOnlyHttpInterface,
)
from openadr3_client.extensions.resource_group.factory import ResourceGroupClientFactory
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
from openadr3_client.ven.http_factory import VirtualEndNodeHttpClientFactory
from openadr3_client.version import OADRVersion
from pydantic import BaseModel, ValidationError
import requests
from requests.adapters import HTTPAdapter

from .config import OpenAdrConfig
from .credentials import BearerToken, ClientCredentialsToken
from .errors import (
    VtnAuthError,
    VtnCapabilityError,
    VtnResponseError,
    VtnUnavailableError,
)
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


class _TimeoutAdapter(HTTPAdapter):
    """requests has no session-wide timeout; the library passes none per call."""

    def __init__(self, timeout_s: float) -> None:
        super().__init__()
        self._timeout_s = timeout_s

    @override
    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: float | tuple[float | None, float | None] | None = None,
        verify: bool | str = True,
        cert: str | tuple[str, str] | None = None,
        proxies: dict[str, str] | None = None,
    ) -> requests.Response:
        """Send with this adapter's timeout unless the caller gave one."""
        return super().send(
            request,
            stream=stream,
            timeout=self._timeout_s if timeout is None else timeout,
            verify=verify,
            cert=cert,
            proxies=proxies,
        )


async def off_the_loop[T](function: Callable[[], T]) -> T:
    """Run a blocking call in a daemon thread; cancelling the await abandons it.

    Not ``asyncio.to_thread``: a shutdown waits for the default executor's
    threads, so one request to a VTN that has stopped answering would hold
    the process until its socket timeout. A daemon thread ends with the
    process, and the request it made dies with it.
    """
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def settle(outcome: Callable[[], None]) -> None:
        if not future.done():  # cancelled meanwhile: nobody waits any more
            outcome()

    def run() -> None:
        try:
            result = function()
        except BaseException as err:  # noqa: BLE001 - handed to the awaiting task
            error = err
            deliver = partial(settle, lambda: future.set_exception(error))
        else:
            deliver = partial(settle, lambda: future.set_result(result))
        with contextlib.suppress(RuntimeError):  # the loop has closed: shutting down
            loop.call_soon_threadsafe(deliver)

    threading.Thread(target=run, name="dacs-openadr-request", daemon=True).start()
    return await future


@dataclass(frozen=True, kw_only=True)
class RawEvent:
    """An event the VTN sent that does not parse as OpenADR 3.1, and why."""

    event_id: str | None
    reason: str


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
        config = self._config
        if config.allow_insecure_http:
            # oauthlib refuses http:// token URLs unless told otherwise; only
            # ever for test VTNs, which the settings say explicitly.
            os.environ.setdefault("OAUTHLIB_INSECURE_TRANSPORT", "1")
        base = VirtualEndNodeHttpClientFactory.create_http_ven_client(
            vtn_base_url=config.vtn_url.rstrip("/"),
            client_id=config.client_id,
            client_secret=self._secret,
            token_url=config.token_url,
            scopes=list(config.scopes) or None,
            allow_insecure_http=config.allow_insecure_http,
            version=OADRVersion.OADR_310,
        )
        ven = cast("VirtualEndNodeClient", base)
        token_url = config.token_url or ven.auth.get_auth_server().token_url
        # The factories return interfaces; the HTTP classes behind them hold the sessions.
        groups = cast(
            "ResourceGroupsReadOnlyHttpInterface",
            ResourceGroupClientFactory.create_ven_client(
                vtn_base_url=config.vtn_url.rstrip("/"),
                client_id=config.client_id,
                client_secret=self._secret,
                token_url=str(token_url),
                scopes=list(config.scopes) or None,
                allow_insecure_http=config.allow_insecure_http,
            ),
        )
        adapter = _TimeoutAdapter(config.request_timeout_s)
        token_session = requests.Session()
        token_session.mount("http://", adapter)
        token_session.mount("https://", adapter)
        # One token for every interface, fetched the way the settings say
        # (the library's own managers know only HTTP Basic).
        tokens = ClientCredentialsToken(
            session=token_session,
            token_url=str(token_url),
            client_id=config.client_id,
            client_secret=self._secret,
            scopes=config.scopes,
            mode=config.credentials_mode,
            allow_insecure_http=config.allow_insecure_http,
        )
        interfaces: tuple[Any, ...] = (
            ven.programs,
            ven.events,
            ven.reports,
            ven.vens,
            ven.resources,
            ven.subscriptions,
            ven.notifiers,
            groups,
        )
        for interface in interfaces:
            interface.session.mount("http://", adapter)
            interface.session.mount("https://", adapter)
            interface.session.auth = BearerToken(tokens)
        self._tokens = tokens
        self._token_url = str(token_url)
        self._ven = ven
        self._groups = groups

    async def _call[T](self, what: str, function: Callable[[], T]) -> T:
        """Run ``function`` in a thread; translate every failure into a VtnError."""
        async with self._lock:
            try:
                async with asyncio.timeout(self._config.request_timeout_s * 3):
                    if self._ven is None:
                        await off_the_loop(self._build)
                    return await off_the_loop(function)
            except TimeoutError as err:
                raise VtnUnavailableError(
                    f"{what}: the VTN did not answer in time"
                ) from err
            except OAuth2Error as err:
                raise VtnAuthError(
                    f"{what}: the token endpoint refused the client credentials "
                    f"({err.error}: {err.description or 'no description'})"
                ) from err
            except requests.HTTPError as err:
                raise _http_error(what, err) from err
            except (requests.ConnectionError, requests.Timeout) as err:
                url = str(err.request.url) if err.request is not None else ""
                if self._token_url and url and url.startswith(self._token_url):
                    raise VtnAuthError(
                        f"{what}: token endpoint unreachable: {err}"
                    ) from err
                raise VtnUnavailableError(f"{what}: VTN unreachable: {err}") from err
            except ValidationError as err:
                raise VtnResponseError(
                    f"{what}: the answer is not OpenADR 3.1: {err.error_count()} problem(s), "
                    f"first: {err.errors()[0]['msg']}"
                ) from err
            except requests.JSONDecodeError as err:
                raise VtnResponseError(
                    f"{what}: the answer is not JSON: {err}"
                ) from err
            except (ValueError, TypeError) as err:
                if "token" in str(err).lower():
                    raise VtnAuthError(f"{what}: no access token: {err}") from err
                raise VtnResponseError(f"{what}: {err}") from err

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
                    except ValidationError as err:
                        event_id = item.get("id") if isinstance(item, dict) else None
                        broken.append(
                            RawEvent(
                                event_id=str(event_id) if event_id else None,
                                reason=f"not an OpenADR 3.1 event: {err.errors()[0]['msg']} "
                                f"at {'.'.join(str(p) for p in err.errors()[0]['loc'])}",
                            )
                        )
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


def _http_error(what: str, err: requests.HTTPError) -> Exception:
    status = err.response.status_code if err.response is not None else 0
    body = err.response.text[:200] if err.response is not None else ""
    if status in (401, 403):
        return VtnAuthError(f"{what}: the VTN refused our token ({status}) {body}")
    if status >= 500 or status in (404, 408, 429):
        return VtnUnavailableError(f"{what}: the VTN answered {status} {body}")
    return VtnResponseError(f"{what}: the VTN refused the request ({status}) {body}")
