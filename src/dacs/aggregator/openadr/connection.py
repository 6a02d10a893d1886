"""How the VEN reaches a VTN: sessions with timeouts, one token, daemon-thread calls.

``connect`` finds the token URL and the OpenADR version the VTN speaks,
builds the library's HTTP interfaces with our timeout adapter and one token
manager for all of them; ``translate_error`` maps whatever a call raised to
the adapter's own errors (``errors.py``).
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
from openadr3_client.extensions.resource_group._client.http import (
    ResourceGroupsReadOnlyHttpInterface,
)
from openadr3_client.extensions.resource_group.factory import ResourceGroupClientFactory
from openadr3_client.oadr310._ven.client import VirtualEndNodeClient
from openadr3_client.ven.http_factory import VirtualEndNodeHttpClientFactory
from openadr3_client.version import OADRVersion
from pydantic import ValidationError
import requests
from requests.adapters import HTTPAdapter

from dacs.excerpt import bounded

from .config import OpenAdrConfig
from .credentials import BearerToken, ClientCredentialsToken
from .errors import VtnAuthError, VtnResponseError, VtnUnavailableError
from .versions import OpenAdrVersion, Wire

_LOGGER = logging.getLogger(__name__)

# How a VTN says it has no such endpoint (not found, method not allowed,
# not implemented).
NOT_OFFERED = frozenset({404, 405, 501})


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
class VtnConnection:
    """The library's interfaces to one VTN, sharing one token."""

    ven: VirtualEndNodeClient
    groups: ResourceGroupsReadOnlyHttpInterface
    tokens: ClientCredentialsToken
    token_url: str
    wire: Wire


def _session(adapter: HTTPAdapter) -> requests.Session:
    session = requests.Session()
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def _token_url(config: OpenAdrConfig, session: requests.Session) -> str:
    """The configured token URL, else the one the VTN names (3.1.0), else its /auth/token.

    OpenADR 3.1.0 VTNs name their token endpoint at ``GET /auth/server``;
    3.0.1 has no discovery, only the VTN's own ``POST /auth/token``.
    """
    base = config.vtn_url.rstrip("/")
    if config.token_url:
        return config.token_url
    if config.version == "3.0.1":
        return f"{base}/auth/token"
    response = session.get(f"{base}/auth/server")
    if response.status_code in NOT_OFFERED and config.version == "auto":
        return f"{base}/auth/token"
    response.raise_for_status()
    answer = response.json()
    url = answer.get("tokenURL") if isinstance(answer, dict) else None
    if not isinstance(url, str) or not url:
        raise VtnResponseError("GET /auth/server named no tokenURL")
    return url


def _version(config: OpenAdrConfig, session: requests.Session) -> OpenAdrVersion:
    """The configured OpenADR version, else the one the VTN answers to.

    ``GET /resources`` is a VEN's endpoint in 3.1.0 and does not exist in
    3.0.1 (resources live under ``/vens/{venID}``): a JSON list means
    3.1.0, a 404/405/501 means 3.0.1, anything else fails this connection.
    """
    if config.version != "auto":
        return config.version
    url = f"{config.vtn_url.rstrip('/')}/resources"
    response = session.get(url, params={"skip": 0, "limit": 1})
    if response.status_code in NOT_OFFERED:
        found: OpenAdrVersion = "3.0.1"
    else:
        response.raise_for_status()
        if not isinstance(response.json(), list):
            raise VtnResponseError("GET /resources did not answer a JSON list")
        found = "3.1.0"
    _LOGGER.info(
        "OpenADR: the VTN speaks %s (GET %s answered %d; set openadr.version "
        "to skip this question)",
        found,
        url,
        response.status_code,
    )
    return found


def connect(config: OpenAdrConfig, client_secret: str) -> VtnConnection:
    """Build the interfaces (blocking: token URL and version may need the network)."""
    if config.allow_insecure_http:
        # oauthlib refuses http:// token URLs unless told otherwise; only
        # ever for test VTNs, which the settings say explicitly.
        os.environ.setdefault("OAUTHLIB_INSECURE_TRANSPORT", "1")
    adapter = _TimeoutAdapter(config.request_timeout_s)
    token_session = _session(adapter)
    token_url = _token_url(config, token_session)
    # The 3.1.0 interfaces serve both versions: the VEN uses only their
    # sessions and base URL, and ``Wire`` says where the versions differ.
    base = VirtualEndNodeHttpClientFactory.create_http_ven_client(
        vtn_base_url=config.vtn_url.rstrip("/"),
        client_id=config.client_id,
        client_secret=client_secret,
        token_url=token_url,
        scopes=list(config.scopes) or None,
        allow_insecure_http=config.allow_insecure_http,
        version=OADRVersion.OADR_310,
    )
    ven = cast("VirtualEndNodeClient", base)
    # The factories return interfaces; the HTTP classes behind them hold the sessions.
    groups = cast(
        "ResourceGroupsReadOnlyHttpInterface",
        ResourceGroupClientFactory.create_ven_client(
            vtn_base_url=config.vtn_url.rstrip("/"),
            client_id=config.client_id,
            client_secret=client_secret,
            token_url=token_url,
            scopes=list(config.scopes) or None,
            allow_insecure_http=config.allow_insecure_http,
        ),
    )
    # One token for every interface, fetched the way the settings say
    # (the library's own managers know only HTTP Basic).
    tokens = ClientCredentialsToken(
        session=token_session,
        token_url=token_url,
        client_id=config.client_id,
        client_secret=client_secret,
        scopes=config.scopes,
        mode=config.credentials_mode,
        allow_insecure_http=config.allow_insecure_http,
    )
    resources: Any = ven.resources
    interfaces: tuple[Any, ...] = (
        ven.programs,
        ven.events,
        ven.reports,
        ven.vens,
        resources,
        ven.subscriptions,
        ven.notifiers,
        groups,
    )
    for interface in interfaces:
        interface.session.mount("http://", adapter)
        interface.session.mount("https://", adapter)
        interface.session.auth = BearerToken(tokens)
    version = _version(config, resources.session)
    return VtnConnection(
        ven=ven,
        groups=groups,
        tokens=tokens,
        token_url=token_url,
        wire=Wire(version=version, client_id=config.client_id),
    )


def translate_error(
    what: str, err: Exception, *, token_url: str | None
) -> Exception | None:
    """The adapter's own error for a failed call (None: not a failure we know)."""
    if isinstance(err, TimeoutError):
        return VtnUnavailableError(f"{what}: the VTN did not answer in time")
    if isinstance(err, OAuth2Error):
        return VtnAuthError(
            f"{what}: the token endpoint refused the client credentials "
            f"({err.error}: {err.description or 'no description'})"
        )
    if isinstance(err, requests.HTTPError):
        return _http_error(what, err)
    if isinstance(err, (requests.ConnectionError, requests.Timeout)):
        url = str(err.request.url) if err.request is not None else ""
        if token_url and url and url.startswith(token_url):
            return VtnAuthError(f"{what}: token endpoint unreachable: {err}")
        return VtnUnavailableError(f"{what}: VTN unreachable: {err}")
    if isinstance(err, ValidationError):
        return VtnResponseError(
            bounded(
                f"{what}: the answer is not OpenADR 3.1: {err.error_count()} "
                f"problem(s), first: {err.errors()[0]['msg']}"
            )
        )
    if isinstance(err, requests.JSONDecodeError):
        return VtnResponseError(f"{what}: the answer is not JSON: {err}")
    if isinstance(err, RecursionError):
        return VtnResponseError(f"{what}: the answer is nested too deeply")
    if isinstance(err, (ValueError, TypeError, OverflowError)):
        # A token lifetime of 1e999 seconds overflows; NaN is a ValueError.
        if "token" in str(err).lower():
            return VtnAuthError(bounded(f"{what}: no access token: {err}"))
        return VtnResponseError(bounded(f"{what}: {err}"))
    return None


def _http_error(what: str, err: requests.HTTPError) -> Exception:
    status = err.response.status_code if err.response is not None else 0
    body = err.response.text[:200] if err.response is not None else ""
    if status in (401, 403):
        return VtnAuthError(f"{what}: the VTN refused our token ({status}) {body}")
    if status >= 500 or status in (404, 408, 429):
        return VtnUnavailableError(f"{what}: the VTN answered {status} {body}")
    return VtnResponseError(f"{what}: the VTN refused the request ({status}) {body}")
