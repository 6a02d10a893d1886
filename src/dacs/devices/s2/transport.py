"""S2 over WebSocket, the home controller's end: a server that resource managers dial.

s2-python 0.11.1 ships the resource manager's end (a WebSocket client
medium) and a role-neutral :class:`S2AsyncConnection`; this module adds the
server medium for the CEM and hardens the connection against frames the
library would otherwise end the connection over (JSON that is not an object,
a message id that is not a UUID, an unexpected ReceptionStatus). Those are
refused with ReceptionStatus INVALID_DATA (INVALID_MESSAGE, worded field by
field, for a schema error) and the connection carries on.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterable, Awaitable, Callable
import contextlib
from http import HTTPStatus
import json
import logging
import secrets
from typing import override
import uuid

from pydantic import ValidationError
from s2python.common import ReceptionStatus, ReceptionStatusValues
from s2python.connection.async_ import S2AsyncConnection
from s2python.connection.async_.medium.s2_medium import (
    MediumClosedConnectionError,
    S2AsyncMediumConnection,
    UnparsedMediumData,
)
from s2python.reception_status_awaiter import ReceptionStatusAwaiter
from s2python.s2_parser import S2Parser
from s2python.s2_validation_error import S2ValidationError
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import WebSocketException
from websockets.http11 import Request, Response

from .errors import S2ListenError

_LOGGER = logging.getLogger(__name__)

NIL_MESSAGE_ID = uuid.UUID(int=0)
INVALID_DATA = ReceptionStatusValues.INVALID_DATA
INVALID_MESSAGE = ReceptionStatusValues.INVALID_MESSAGE
S2_PATH = "/s2"

type SessionHandler = Callable[[S2AsyncConnection], Awaitable[None]]


def refusal(frame: UnparsedMediumData) -> ReceptionStatus | None:
    """The ReceptionStatus refusing a frame, in words a person can act on; None when it is valid.

    Not JSON at all is left to the library (it answers INVALID_DATA "Not
    valid json."); s2-python words a schema error only as "Pydantic raised a
    validation error", so schema errors are worded here, field by field.
    """
    try:
        message = json.loads(frame)
    except ValueError:
        return None
    if not isinstance(message, dict):
        return _refused(NIL_MESSAGE_ID, INVALID_DATA, "an S2 message is a JSON object")
    message_id = message.get("message_id")
    if message_id is None:
        return None  # the library refuses it: "could not find a message_id field"
    try:
        subject = uuid.UUID(str(message_id))
    except ValueError:
        return _refused(
            NIL_MESSAGE_ID,
            INVALID_DATA,
            f"message_id {str(message_id)[:60]!r} is not a UUID",
        )
    try:
        S2Parser.parse_as_any_message(message)
    except S2ValidationError as err:
        return _refused(subject, INVALID_MESSAGE, _worded(message, err))
    return None


def _worded(message: dict[str, object], err: S2ValidationError) -> str:
    kind = str(message.get("message_type"))
    cause = err.__cause__
    if isinstance(cause, ValidationError):
        problems = "; ".join(
            f"{'.'.join(str(p) for p in problem['loc']) or 'message'}: {problem['msg']}"
            for problem in cause.errors()[:5]
        )
        return f"{kind}: {problems}"[:500]
    return f"{kind}: {err.msg}"[:500]


def _refused(
    subject: uuid.UUID, status: ReceptionStatusValues, label: str
) -> ReceptionStatus:
    return ReceptionStatus(
        subject_message_id=subject, status=status, diagnostic_label=label
    )


async def screened(
    frames: AsyncIterable[UnparsedMediumData], send: Callable[[str], Awaitable[None]]
) -> AsyncGenerator[UnparsedMediumData]:
    """Pass on the valid frames; answer the others with a clear refusal."""
    async for frame in frames:
        refused = refusal(frame)
        if refused is None:
            yield frame
            continue
        _LOGGER.warning(
            "refused an S2 message: %s %s",
            refused.status.value,
            refused.diagnostic_label,
        )
        await send(refused.to_json())


class ServerMedium(S2AsyncMediumConnection):
    """One resource manager's WebSocket connection, as an s2-python medium."""

    def __init__(self, websocket: ServerConnection) -> None:
        """Wrap an accepted WebSocket connection."""
        self._ws = websocket
        self._closed = False

    @override
    async def is_connected(self) -> bool:
        return not self._closed

    @override
    async def messages(self) -> AsyncGenerator[UnparsedMediumData]:
        try:
            async for frame in screened(self._ws, self.send):
                yield frame
        except WebSocketException as err:
            raise MediumClosedConnectionError(
                f"the resource manager's connection ended: {err}"
            ) from err
        finally:
            self._closed = True

    @override
    async def send(self, message: str) -> None:
        try:
            await self._ws.send(message)
        except WebSocketException as err:
            self._closed = True
            raise MediumClosedConnectionError(
                f"could not send to the resource manager: {err}"
            ) from err


class _TolerantStatuses(ReceptionStatusAwaiter):
    """Keeps statuses nobody waits for no longer than needed; a repeat is logged, not fatal."""

    @override
    async def receive_reception_status(self, reception_status: ReceptionStatus) -> None:
        subject = reception_status.subject_message_id
        if subject not in self.awaiting:
            if reception_status.status is not ReceptionStatusValues.OK:
                _LOGGER.warning(
                    "the S2 peer refused message %s: %s (%s)",
                    subject,
                    reception_status.status.value,
                    reception_status.diagnostic_label,
                )
            # Not awaited (yet): keep only the latest, never fail on a repeat.
            self.received.pop(subject, None)
        await super().receive_reception_status(reception_status)


class S2Connection(S2AsyncConnection):
    """s2-python's connection with a reception-status book that survives odd peers."""

    def __init__(self, medium: S2AsyncMediumConnection) -> None:
        """Run on the current event loop."""
        super().__init__(medium, eventloop=asyncio.get_running_loop())
        self._reception_status_awaiter = _TolerantStatuses()


class S2Server:
    """Listens for resource managers; hands each accepted one to ``on_session``.

    ``token`` is the pairing secret: a resource manager must present it as a
    bearer token (the way s2-python's client medium authenticates). One
    resource manager at a time: a second is turned away while one is paired.
    """

    def __init__(
        self,
        host: str,
        port: int,
        on_session: SessionHandler,
        *,
        token: str | None = None,
    ) -> None:
        """Prepare; nothing listens until start()."""
        self.host = host
        self.port = port
        self._on_session = on_session
        self._token = token
        self._server: Server | None = None
        self._busy = False

    @property
    def url(self) -> str:
        """Where a resource manager connects."""
        return f"ws://{self.host}:{self.port}{S2_PATH}"

    async def start(self) -> None:
        """Listen; raises S2ListenError when the address is taken or invalid."""
        try:
            self._server = await serve(
                self._serve,
                self.host,
                self.port,
                process_request=self._admit,
                ping_interval=20,
                ping_timeout=20,
            )
        except OSError as err:
            raise S2ListenError(
                f"cannot listen for S2 resource managers on {self.host}:{self.port}: "
                f"{err.strerror or err}"
            ) from err
        if self.port == 0:
            self.port = next(iter(self._server.sockets)).getsockname()[1]
        _LOGGER.info("waiting for an S2 resource manager on %s", self.url)

    async def stop(self) -> None:
        """Close every connection and stop listening."""
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
            self._server = None

    def _admit(self, connection: ServerConnection, request: Request) -> Response | None:
        if request.path != S2_PATH:
            return connection.respond(HTTPStatus.NOT_FOUND, f"S2 lives at {S2_PATH}\n")
        if self._token is not None:
            offered = request.headers.get("Authorization", "")
            if not secrets.compare_digest(offered, f"Bearer {self._token}"):
                _LOGGER.warning("refused an S2 resource manager: wrong pairing token")
                return connection.respond(
                    HTTPStatus.UNAUTHORIZED, "wrong or missing pairing token\n"
                )
        if self._busy:
            return connection.respond(
                HTTPStatus.CONFLICT, "another resource manager is connected\n"
            )
        return None

    async def _serve(self, websocket: ServerConnection) -> None:
        if self._busy:
            await websocket.close(1013, "another resource manager is connected")
            return
        self._busy = True
        try:
            await self._on_session(S2Connection(ServerMedium(websocket)))
        except Exception:
            _LOGGER.exception("the S2 session ended with an error")
        finally:
            self._busy = False
            await websocket.close()
