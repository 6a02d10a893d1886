"""Announce the add-on's broker to Home Assistant through the Supervisor.

``POST {supervisor}/discovery`` with ``{"service": "dacs_hw", "config":
{...}}``; Home Assistant then offers the ``dacs_hw`` integration with these
settings. The Supervisor keeps the message while the add-on runs and replays
it when Home Assistant starts.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
import json
import os
import socket
from types import TracebackType
from typing import Any, Self

import aiohttp

from .errors import DiscoveryConnectionError, DiscoveryError, DiscoveryRejectedError

DISCOVERY_SERVICE = "dacs_hw"
DEFAULT_SUPERVISOR_URL = "http://supervisor"
SUPERVISOR_TOKEN_ENV = "SUPERVISOR_TOKEN"  # noqa: S105 - the variable name
ADDON_HOSTNAME_ENV = "DACS_ADDON_HOSTNAME"
DEFAULT_TIMEOUT_S = 10.0


def addon_hostname(environ: Mapping[str, str] = os.environ) -> str:
    """The name under which Home Assistant reaches this add-on.

    The Supervisor names an add-on's container ``{repository}_{slug}`` and
    gives it that name, with ``_`` turned into ``-``, as host name; so the
    container's own host name is right unless ``DACS_ADDON_HOSTNAME`` says
    otherwise (e.g. when running outside the Supervisor).
    """
    return environ.get(ADDON_HOSTNAME_ENV) or socket.gethostname()


@dataclass(frozen=True, kw_only=True)
class DiscoveryInfo:
    """What the integration needs to reach the home broker."""

    host: str
    port: int
    username: str
    password: str = field(repr=False)
    home_id: str
    topic_prefix: str

    def to_config(self) -> dict[str, Any]:
        """The ``config`` object of the discovery message."""
        return {
            "host": self.host,
            "port": self.port,
            "username": self.username,
            "password": self.password,
            "home_id": self.home_id,
            "topic_prefix": self.topic_prefix,
        }


class SupervisorDiscovery:
    """Sends discovery messages to the Supervisor; use as ``async with``.

    A session passed in is used and left open; otherwise the client opens
    and closes its own.
    """

    def __init__(
        self,
        token: str,
        *,
        supervisor_url: str = DEFAULT_SUPERVISOR_URL,
        session: aiohttp.ClientSession | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
    ) -> None:
        """Prepare a client; nothing is sent until announce()."""
        self._url = supervisor_url.rstrip("/") + "/discovery"
        self._token = token
        self._session = session
        self._own_session = session is None
        self._timeout_s = timeout_s

    async def announce(self, info: DiscoveryInfo) -> str:
        """Send the discovery message and return its uuid."""
        session = self._session
        if session is None:
            session = self._session = aiohttp.ClientSession()
        body = {"service": DISCOVERY_SERVICE, "config": info.to_config()}
        headers = {"Authorization": f"Bearer {self._token}"}
        try:
            async with asyncio.timeout(self._timeout_s):
                async with session.post(
                    self._url, json=body, headers=headers
                ) as answer:
                    status = answer.status
                    text = await answer.text()
        except TimeoutError as err:
            raise DiscoveryConnectionError(
                f"the Supervisor did not answer within {self._timeout_s:g} s"
            ) from err
        except aiohttp.ClientError as err:
            raise DiscoveryConnectionError(
                f"cannot reach the Supervisor at {self._url}: {err}"
            ) from err
        document = _json_object(text)
        if status != 200:
            message = document.get("message") or text.strip()[:200] or "no details"
            raise DiscoveryRejectedError(
                f"the Supervisor refused the discovery message (HTTP {status}): {message}",
                status=status,
            )
        data = document.get("data")
        uuid = data.get("uuid") if isinstance(data, dict) else None
        if document.get("result") != "ok" or not isinstance(uuid, str):
            raise DiscoveryError(f"unexpected answer from the Supervisor: {text[:200]}")
        return uuid

    async def close(self) -> None:
        """Close the session if this client opened it."""
        if self._own_session and self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> Self:
        """Use the client as an async context manager."""
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close what the client opened."""
        await self.close()


def _json_object(text: str) -> dict[str, Any]:
    try:
        document = json.loads(text)
    except ValueError:
        return {}
    return document if isinstance(document, dict) else {}
