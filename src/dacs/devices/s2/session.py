"""The CEM's side of one S2 session: handshake, details, control type, and what the device says.

One :class:`CemSession` per WebSocket connection. It answers every message
from the resource manager with a ReceptionStatus: OK, or INVALID_CONTENT with
the reason when a message is valid S2 but unusable (constraints without an
electric upper limit, a message a CEM never receives). Its handlers never
raise: s2-python ends the connection when one does.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from enum import StrEnum
import logging
from typing import Any, cast
import uuid

from s2python.common import (
    ControlType,
    EnergyManagementRole,
    Handshake,
    HandshakeResponse,
    InstructionStatus,
    InstructionStatusUpdate,
    PowerMeasurement,
    ReceptionStatus,
    ReceptionStatusValues,
    ResourceManagerDetails,
    RevokableObjects,
    RevokeObject,
    SelectControlType,
)
from s2python.connection import ConnectionStarted, ConnectionStopped, S2ConnectionEvent
from s2python.connection.async_ import S2AsyncConnection
from s2python.connection.async_.message_handlers import SendOkay
from s2python.connection.types import S2ConnectionEventsAndMessages
from s2python.ddbc import DDBCSystemDescription
from s2python.message import S2MessageWithID
from s2python.pebc import PEBCPowerConstraints
from s2python.s2_parser import TYPE_TO_MESSAGE_CLASS
from s2python.version import S2_VERSION

from .errors import S2InvalidMessageError, S2UnsupportedError
from .translate import DdbcModes, PebcLimits, ddbc_modes, pebc_limits

_LOGGER = logging.getLogger(__name__)

type SendOkayRun = Callable[[], Coroutine[Any, Any, None]] | None

# What a CEM receives; everything else is refused as not meant for a CEM.
_FROM_RESOURCE_MANAGER = frozenset(
    {
        "Handshake",
        "ResourceManagerDetails",
        "PowerMeasurement",
        "PowerForecast",
        "InstructionStatusUpdate",
        "RevokeObject",
        "SessionRequest",
        "PEBC.PowerConstraints",
        "PEBC.EnergyConstraint",
        "DDBC.SystemDescription",
        "DDBC.ActuatorStatus",
        "DDBC.AverageDemandRateForecast",
        "DDBC.TimerStatus",
    }
)


class S2Control(StrEnum):
    """The S2 control type the home controller prefers for a device offering both."""

    PEBC = "pebc"  # power envelopes: the limit as an upper bound
    DDBC = "ddbc"  # operation modes: heat pump at the limit, or the boiler


_PROTOCOL_CONTROL = {
    S2Control.PEBC: ControlType.POWER_ENVELOPE_BASED_CONTROL,
    S2Control.DDBC: ControlType.DEMAND_DRIVEN_BASED_CONTROL,
}


async def refuse(
    connection: S2AsyncConnection,
    message: S2ConnectionEventsAndMessages,
    send_okay: SendOkayRun,
    status: ReceptionStatusValues,
    reason: str,
) -> None:
    """Answer ``message`` with a refusal (and keep the library from adding an OK after it)."""
    if isinstance(message, S2ConnectionEvent):
        return
    owner = getattr(send_okay, "__self__", None)
    if isinstance(owner, SendOkay):
        # s2-python 0.11.1 only hands handlers SendOkay.run; it sends OK
        # after the handler unless this is set.
        owner._status_is_send.set()  # noqa: SLF001
    _LOGGER.warning(
        "refused %s from the S2 resource manager: %s", message.message_type, reason
    )
    await connection.respond_with_reception_status(
        subject_message_id=message.message_id, status=status, diagnostic_label=reason
    )


class CemSession:
    """One resource manager's session, seen from the home controller."""

    def __init__(
        self,
        connection: S2AsyncConnection,
        *,
        preference: S2Control,
        on_change: Callable[[], None],
        reply_timeout_s: float = 5.0,
    ) -> None:
        """Register the CEM's handlers on ``connection``; run it with run()."""
        self.connection = connection
        self.preference = preference
        self.reply_timeout_s = reply_timeout_s
        self._on_change = on_change
        self.protocol_version: str | None = None
        self.details: ResourceManagerDetails | None = None
        self.control: S2Control | None = None
        self.pebc: PebcLimits | None = None
        self.ddbc: DdbcModes | None = None
        self.measurement: PowerMeasurement | None = None
        self.instruction_status: dict[uuid.UUID, InstructionStatus] = {}
        self.unsupported: S2UnsupportedError | None = None
        self.closed = asyncio.Event()
        for name, kind in TYPE_TO_MESSAGE_CLASS.items():
            if kind is ReceptionStatus:
                continue  # the connection routes these to whoever awaits them
            connection.register_handler(
                cast(
                    "type[S2ConnectionEventsAndMessages]", kind
                ),  # not a ReceptionStatus
                self._acknowledge
                if name in _FROM_RESOURCE_MANAGER
                else self._not_for_a_cem,
            )
        connection.register_handler(Handshake, self._on_handshake)
        connection.register_handler(ResourceManagerDetails, self._on_details)
        connection.register_handler(PEBCPowerConstraints, self._on_description)
        connection.register_handler(DDBCSystemDescription, self._on_description)
        connection.register_handler(PowerMeasurement, self._on_measurement)
        connection.register_handler(
            InstructionStatusUpdate, self._on_instruction_status
        )
        connection.register_handler(RevokeObject, self._on_revoke)
        connection.register_handler(ConnectionStarted, self._acknowledge)
        connection.register_handler(ConnectionStopped, self._on_stopped)

    @property
    def ready(self) -> bool:
        """True once the selected control type's description has arrived."""
        if self.closed.is_set():
            return False
        if self.control is S2Control.PEBC:
            return self.pebc is not None
        if self.control is S2Control.DDBC:
            return self.ddbc is not None
        return False

    async def run(self) -> None:
        """Serve the connection until it ends."""
        try:
            await self.connection.run()
        finally:
            self._stopped()

    # -- handlers ------------------------------------------------------------

    async def _on_handshake(
        self,
        connection: S2AsyncConnection,
        message: S2ConnectionEventsAndMessages,
        send_okay: SendOkayRun,
    ) -> None:
        if not isinstance(message, Handshake):
            return
        versions = message.supported_protocol_versions or []
        if message.role is not EnergyManagementRole.RM:
            await refuse(
                connection,
                message,
                send_okay,
                ReceptionStatusValues.INVALID_CONTENT,
                f"this is a CEM; the peer must be a resource manager, not {message.role.value}",
            )
            return
        if versions and S2_VERSION not in versions:
            await refuse(
                connection,
                message,
                send_okay,
                ReceptionStatusValues.INVALID_CONTENT,
                f"no common S2 version: this CEM speaks {S2_VERSION}, "
                f"the resource manager {', '.join(versions)}",
            )
            return
        if send_okay is not None:
            await send_okay()
        self.protocol_version = S2_VERSION
        await self._send(
            Handshake(
                message_id=uuid.uuid4(),
                role=EnergyManagementRole.CEM,
                supported_protocol_versions=[S2_VERSION],
            )
        )
        await self._send(
            HandshakeResponse(
                message_id=uuid.uuid4(), selected_protocol_version=S2_VERSION
            )
        )

    async def _on_details(
        self,
        connection: S2AsyncConnection,
        message: S2ConnectionEventsAndMessages,
        send_okay: SendOkayRun,
    ) -> None:
        if not isinstance(message, ResourceManagerDetails):
            return
        if send_okay is not None:
            await send_okay()
        self.details = message
        offered = set(message.available_control_types)
        order = [self.preference, *(c for c in S2Control if c is not self.preference)]
        chosen = next((c for c in order if _PROTOCOL_CONTROL[c] in offered), None)
        if chosen is None:
            self.unsupported = S2UnsupportedError(
                "the S2 device offers "
                + (", ".join(sorted(c.value for c in offered)) or "no control type")
                + "; the home controller needs POWER_ENVELOPE_BASED_CONTROL or "
                "DEMAND_DRIVEN_BASED_CONTROL"
            )
            _LOGGER.warning("%s", self.unsupported)
            self._on_change()
            return
        if self.control is not chosen:
            self.control = chosen
            await self._send(
                SelectControlType(
                    message_id=uuid.uuid4(), control_type=_PROTOCOL_CONTROL[chosen]
                )
            )
        self._on_change()

    async def _on_description(
        self,
        connection: S2AsyncConnection,
        message: S2ConnectionEventsAndMessages,
        send_okay: SendOkayRun,
    ) -> None:
        """PEBC.PowerConstraints or DDBC.SystemDescription: kept when usable, else refused."""
        try:
            if isinstance(message, PEBCPowerConstraints):
                self.pebc = pebc_limits(message)
            elif isinstance(message, DDBCSystemDescription):
                self.ddbc = ddbc_modes(message)
            else:
                return
        except S2InvalidMessageError as err:
            await refuse(
                connection,
                message,
                send_okay,
                ReceptionStatusValues.INVALID_CONTENT,
                str(err),
            )
            return
        if send_okay is not None:
            await send_okay()
        self._on_change()

    async def _on_measurement(
        self,
        connection: S2AsyncConnection,
        message: S2ConnectionEventsAndMessages,
        send_okay: SendOkayRun,
    ) -> None:
        if isinstance(message, PowerMeasurement):
            self.measurement = message
            if send_okay is not None:
                await send_okay()

    async def _on_instruction_status(
        self,
        connection: S2AsyncConnection,
        message: S2ConnectionEventsAndMessages,
        send_okay: SendOkayRun,
    ) -> None:
        if not isinstance(message, InstructionStatusUpdate):
            return
        if send_okay is not None:
            await send_okay()
        self.instruction_status[message.instruction_id] = message.status_type
        if message.status_type in {
            InstructionStatus.REJECTED,
            InstructionStatus.ABORTED,
        }:
            _LOGGER.warning(
                "the S2 device %s instruction %s",
                message.status_type.value.lower(),
                message.instruction_id,
            )
        self._on_change()

    async def _on_revoke(
        self,
        connection: S2AsyncConnection,
        message: S2ConnectionEventsAndMessages,
        send_okay: SendOkayRun,
    ) -> None:
        if not isinstance(message, RevokeObject):
            return
        if send_okay is not None:
            await send_okay()
        if (
            message.object_type is RevokableObjects.PEBC_PowerConstraints
            and self.pebc is not None
            and self.pebc.constraints_id == message.object_id
        ):
            self.pebc = None
        elif message.object_type is RevokableObjects.DDBC_SystemDescription:
            self.ddbc = None
        self._on_change()

    async def _acknowledge(
        self,
        connection: S2AsyncConnection,
        message: S2ConnectionEventsAndMessages,
        send_okay: SendOkayRun,
    ) -> None:
        if send_okay is not None:
            await send_okay()

    async def _not_for_a_cem(
        self,
        connection: S2AsyncConnection,
        message: S2ConnectionEventsAndMessages,
        send_okay: SendOkayRun,
    ) -> None:
        if not isinstance(message, S2ConnectionEvent):
            await refuse(
                connection,
                message,
                send_okay,
                ReceptionStatusValues.INVALID_CONTENT,
                f"{message.message_type} is not a message a CEM receives",
            )

    async def _on_stopped(
        self,
        connection: S2AsyncConnection,
        message: S2ConnectionEventsAndMessages,
        send_okay: SendOkayRun,
    ) -> None:
        self._stopped()

    # -- helpers -------------------------------------------------------------

    def _stopped(self) -> None:
        if not self.closed.is_set():
            self.closed.set()
            self._on_change()

    async def _send(self, message: S2MessageWithID) -> None:
        await self.connection.send_msg_and_await_reception_status(
            message, timeout_reception_status=self.reply_timeout_s
        )
