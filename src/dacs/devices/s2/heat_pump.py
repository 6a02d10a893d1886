"""An S2 heat pump: the home controller as the CEM of one S2 resource manager.

:class:`S2HeatPump` offers what the home controller uses of a Modbus
:class:`~dacs.devices.HeatPump` (identity, capabilities, measurements,
``set_power_limit``), so arbitration, the safety floor, the resident's
opt-out and expiry are the same rules for both. The safety floor comes from
the device itself: the lowest non-zero upper limit its PEBC.PowerConstraints
allow (or its DDBC heat pump mode's lowest power); :func:`plan_limit` never
goes below it.

Every instruction ends by itself: a PEBC envelope lasts the limit's validity
(at most ``instruction_s``, renewed while the limit holds); a DDBC
instruction has no duration, so it is revoked at the limit's end. When the
connection drops the resource manager falls back to its own control and no
limit stays in force; on reconnection a limit still valid is sent again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
import contextlib
from datetime import UTC, datetime
import logging
import time
from types import TracebackType
from typing import Self
import uuid

from s2python.common import ReceptionStatusValues, RevokableObjects, RevokeObject
from s2python.connection.async_ import S2AsyncConnection
from s2python.connection.async_.medium.s2_medium import S2MediumException
from s2python.connection.errors import CouldNotReceiveStatusReceptionError
from s2python.message import S2MessageWithID

from dacs.devices.limits import plan_limit
from dacs.devices.models import (
    Capabilities,
    DeviceIdentity,
    LimitAction,
    LimitResult,
    Measurements,
)

from .errors import (
    S2ConnectionError,
    S2Error,
    S2RefusedError,
    S2TimeoutError,
    S2UnsupportedError,
)
from .session import CemSession, S2Control
from .translate import (
    ddbc_capabilities,
    ddbc_instruction,
    measurements,
    pebc_capabilities,
    pebc_instruction,
)
from .transport import S2Server

_LOGGER = logging.getLogger(__name__)
S2_PROFILE_ID = "s2"
DEFAULT_S2_PORT = 8765
S2_MEASURED = frozenset({"electric_power_w", "hp_thermal_w", "boiler_active"})


def _utc_now() -> datetime:
    return datetime.now(UTC)


class S2HeatPump:
    """A heat pump that connects to the home controller as an S2 resource manager."""

    def __init__(
        self,
        host: str = "0.0.0.0",  # noqa: S104 - the resource manager dials in from the LAN
        port: int = DEFAULT_S2_PORT,
        *,
        token: str | None = None,
        control: S2Control = S2Control.PEBC,
        connect_timeout: float = 30.0,
        reply_timeout: float = 5.0,
        instruction_s: float = 900.0,
        now: Callable[[], datetime] = _utc_now,
    ) -> None:
        """Prepare; connect() listens and waits for the resource manager.

        ``token`` is the pairing secret the resource manager presents;
        ``instruction_s`` the longest envelope sent at once (renewed at a third).
        """
        self._server = S2Server(host, port, self._serve, token=token)
        self._control = control
        self._connect_timeout = connect_timeout
        self._reply_timeout = reply_timeout
        self._instruction_s = instruction_s
        self._now = now
        self._session: CemSession | None = None
        self._changed = asyncio.Event()
        self._limit = plan_limit(None, _ANY_CAPABILITIES)
        self._limit_until: float | None = None
        self._instruction: tuple[RevokableObjects, uuid.UUID] | None = None
        self._keepalive: asyncio.Task[None] | None = None
        self._resend: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._listening = False

    # -- lifecycle -----------------------------------------------------------

    async def listen(self) -> None:
        """Start listening for the resource manager (without waiting for it)."""
        if not self._listening:
            await self._server.start()
            self._listening = True

    async def connect(self) -> None:
        """Listen, then wait until a resource manager has paired and described itself."""
        await self.listen()
        await self.wait_ready(self._connect_timeout)

    async def wait_ready(self, within_s: float) -> None:
        """Wait for a ready session; S2TimeoutError or S2UnsupportedError when none comes."""
        try:
            async with asyncio.timeout(within_s):
                while not self.available:
                    session = self._session
                    if session is not None and session.unsupported is not None:
                        raise session.unsupported
                    self._changed.clear()
                    await self._changed.wait()
        except TimeoutError as err:
            raise S2TimeoutError(
                f"no S2 resource manager paired on {self.url} within {within_s:.0f} s"
            ) from err

    async def close(self) -> None:
        """Stop renewing, close the session and stop listening."""
        for task in (self._keepalive, self._resend):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._keepalive = self._resend = None
        session = self._session
        if session is not None:
            await session.connection.stop()
        await self._server.stop()
        self._listening = False

    async def __aenter__(self) -> Self:
        """Listen and wait for the resource manager."""
        try:
            await self.connect()
        except BaseException:
            await self.close()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close."""
        await self.close()

    # -- what the device is --------------------------------------------------

    @property
    def url(self) -> str:
        """Where the resource manager connects (ws://host:port/s2)."""
        return self._server.url

    @property
    def available(self) -> bool:
        """True while a resource manager is connected and has described itself."""
        return self._session is not None and self._session.ready

    @property
    def control(self) -> S2Control | None:
        """The control type in use (None before a session is ready)."""
        return self._ready_session().control if self.available else None

    @property
    def identity(self) -> DeviceIdentity:
        """Who the resource manager says it is (ResourceManagerDetails)."""
        session = self._ready_session()
        details = session.details
        name = details.name if details is not None else None
        return DeviceIdentity(
            profile_id=S2_PROFILE_ID,
            profile_version=session.protocol_version or "",
            manufacturer=(details.manufacturer if details else None) or "S2 device",
            model=(details.model if details else None) or name or "S2 heat pump",
            serial=details.serial_number if details else None,
            firmware=details.firmware_version if details else None,
        )

    @property
    def capabilities(self) -> Capabilities:
        """Limits the device accepts, from its PEBC constraints or DDBC modes."""
        session = self._ready_session()
        if session.control is S2Control.DDBC and session.ddbc is not None:
            return ddbc_capabilities(session.ddbc)
        if session.pebc is None:
            raise S2ConnectionError("the S2 device has not sent its power constraints")
        return pebc_capabilities(session.pebc)

    @property
    def measured(self) -> frozenset[str]:
        """What an S2 PowerMeasurement carries, as Measurements fields."""
        return S2_MEASURED

    @property
    def limit(self) -> LimitResult:
        """The limit this CEM put in force (RELEASED when none)."""
        return self._limit

    @property
    def limit_remaining_s(self) -> float | None:
        """Seconds until the limit ends; None when unlimited or without end."""
        if self._limit_until is None or not self._limit.limited:
            return None
        return max(0.0, self._limit_until - time.monotonic())

    async def read_measurements(self) -> Measurements:
        """The latest PowerMeasurement, and the limit in force."""
        session = self._ready_session()
        return measurements(session.measurement, self._limit)

    # -- control -------------------------------------------------------------

    async def set_power_limit(
        self, max_power_w: float | None, *, validity_s: float | None = None
    ) -> LimitResult:
        """Limit the electric power (``None`` revokes); the floor rules of plan_limit apply."""
        if validity_s is not None and validity_s <= 0:
            raise ValueError("validity must be positive")
        async with self._lock:
            if max_power_w is None and not self.available:
                # No session: the device already runs on its own fallback.
                self._forget_limit()
                return self._limit
            plan = plan_limit(max_power_w, self.capabilities)
            if plan.action is LimitAction.RELEASED:
                await self._revoke()
                self._forget_limit()
                return plan
            self._limit_until = (
                time.monotonic() + validity_s if validity_s is not None else None
            )
            await self._instruct(plan)
            self._limit = plan
        self._restart_keepalive()
        return plan

    async def release_limit(self) -> LimitResult:
        """Revoke the instruction in force."""
        return await self.set_power_limit(None)

    # -- internals -----------------------------------------------------------

    async def _serve(self, connection: S2AsyncConnection) -> None:
        session = CemSession(
            connection,
            preference=self._control,
            on_change=self._session_changed,
            reply_timeout_s=self._reply_timeout,
        )
        self._session = session
        self._instruction = None
        self._session_changed()
        try:
            await session.run()
        finally:
            _LOGGER.warning(
                "S2 resource manager on %s disconnected: it falls back to its own control",
                self.url,
            )
            self._instruction = None
            self._session_changed()

    def _session_changed(self) -> None:
        self._changed.set()
        if (
            self.available
            and self._limit.limited
            and self._instruction is None
            and (self._resend is None or self._resend.done())
        ):
            self._resend = asyncio.create_task(
                self._send_again(), name=f"dacs-s2-resend-{self._server.port}"
            )

    async def _send_again(self) -> None:
        """After a reconnection: the limit still in force goes to the device again."""
        async with self._lock:
            remaining = self.limit_remaining_s
            if not self._limit.limited or (remaining is not None and remaining <= 0):
                return
            try:
                await self._instruct(
                    plan_limit(self._limit.requested_max_power_w, self.capabilities)
                )
                _LOGGER.info("limit sent again to the reconnected S2 device")
            except (S2ConnectionError, S2RefusedError, S2UnsupportedError) as err:
                _LOGGER.warning("could not send the limit again: %s", err)

    def _ready_session(self) -> CemSession:
        session = self._session
        if session is None or not session.ready:
            raise S2ConnectionError(
                f"no S2 resource manager connected on {self.url}"
                if session is None or session.closed.is_set()
                else "the S2 resource manager has not finished describing itself"
            )
        return session

    async def _instruct(self, plan: LimitResult) -> None:
        session = self._ready_session()
        previous = self._instruction
        message: S2MessageWithID
        if session.control is S2Control.DDBC and session.ddbc is not None:
            ddbc = ddbc_instruction(plan, session.ddbc, now=self._now())
            message, object_id = ddbc, uuid.UUID(ddbc.id.root)
            kind = RevokableObjects.DDBC_Instruction
        elif session.pebc is not None:
            # The limit being set may not be recorded yet: its end is.
            remaining = (
                None
                if self._limit_until is None
                else max(0.0, self._limit_until - time.monotonic())
            )
            pebc = pebc_instruction(
                plan,
                session.pebc,
                now=self._now(),
                duration_s=min(self._instruction_s, remaining)
                if remaining is not None
                else self._instruction_s,
            )
            message, object_id = pebc, pebc.id
            kind = RevokableObjects.PEBC_Instruction
        else:
            raise S2ConnectionError("the S2 device has not sent its power constraints")
        await self._send(session, message)
        self._instruction = (kind, object_id)
        if previous is not None and previous[0] is kind:
            # The new instruction is in force: the old one goes, with no gap between.
            try:
                await self._send_revoke(session, previous)
            except S2Error as err:
                _LOGGER.info("the superseded S2 instruction was not revoked: %s", err)

    async def _revoke(self) -> None:
        session = self._session
        current, self._instruction = self._instruction, None
        if current is None or session is None or session.closed.is_set():
            return
        await self._send_revoke(session, current)

    async def _send_revoke(
        self, session: CemSession, instruction: tuple[RevokableObjects, uuid.UUID]
    ) -> None:
        kind, object_id = instruction
        await self._send(
            session,
            RevokeObject(
                message_id=uuid.uuid4(), object_type=kind, object_id=object_id
            ),
        )

    async def _send(self, session: CemSession, message: S2MessageWithID) -> None:
        try:
            status = await session.connection.send_msg_and_await_reception_status(
                message,
                timeout_reception_status=self._reply_timeout,
                raise_on_error=False,
            )
        except TimeoutError as err:
            raise S2TimeoutError(
                f"the S2 device did not confirm {message.message_type} in time"
            ) from err
        except (CouldNotReceiveStatusReceptionError, S2MediumException) as err:
            raise S2ConnectionError(
                f"the S2 connection ended while sending {message.message_type}"
            ) from err
        if status.status is not ReceptionStatusValues.OK:
            raise S2RefusedError(
                f"the S2 device refused {message.message_type}: "
                f"{status.status.value} {status.diagnostic_label or ''}".strip(),
                status.status.value,
            )

    def _forget_limit(self) -> None:
        self._limit = plan_limit(None, _ANY_CAPABILITIES)
        self._limit_until = None
        self._instruction = None
        if (
            self._keepalive is not None
            and self._keepalive is not asyncio.current_task()
        ):
            self._keepalive.cancel()
            self._keepalive = None

    def _restart_keepalive(self) -> None:
        if self._keepalive is not None:
            self._keepalive.cancel()
        self._keepalive = asyncio.create_task(
            self._keep_alive(), name=f"dacs-s2-limit-{self._server.port}"
        )

    async def _keep_alive(self) -> None:
        """Renew the envelope while the limit holds; revoke it when the limit ends."""
        renew_s = self._instruction_s / 3
        while True:
            remaining = self.limit_remaining_s
            if remaining is not None and remaining <= 0:
                break
            await asyncio.sleep(
                renew_s if remaining is None else min(renew_s, remaining)
            )
            remaining = self.limit_remaining_s
            if remaining is not None and remaining <= 0:
                break
            async with self._lock:
                try:
                    await self._instruct(self._limit)
                except (S2ConnectionError, S2RefusedError, S2UnsupportedError) as err:
                    _LOGGER.warning("could not renew the S2 limit: %s", err)
        _LOGGER.info("S2 limit on %s reached its end; revoking", self.url)
        async with self._lock:
            try:
                await self._revoke()
            except (S2ConnectionError, S2RefusedError) as err:
                _LOGGER.warning(
                    "could not revoke the expired S2 limit (its envelope ends by itself): %s",
                    err,
                )
            self._keepalive = None
            self._forget_limit()


# plan_limit(None, ...) needs capabilities but only returns "released".
_ANY_CAPABILITIES = Capabilities(
    nominal_electric_w=1,
    safety_floor_w=0,
    limit_step_w=1,
    supports_power_limit=True,
    supports_gas_only=False,
    supports_sg_ready=False,
    supports_room_setpoint=False,
    boiler_present=False,
    native_watchdog=True,
    watchdog_s=None,
)
