"""Our CEM (S2HeatPump) against s2-python's own resource-manager side.

The resource manager here is the library's ``ResourceManagerHandler`` over
its ``WebsocketClientMedium``; only the control type's behaviour (what a
device does with an instruction) is written for the test, as the library
leaves it abstract.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
import uuid

import pytest
from s2python.common import (
    Commodity,
    CommodityQuantity,
    Duration,
    NumberRange,
    PowerMeasurement,
    PowerValue,
    RevokeObject,
    Role,
    RoleType,
)
from s2python.connection import AssetDetails
from s2python.connection.async_ import S2AsyncConnection
from s2python.connection.async_.control_type.class_based import (
    NoControlControlType,
    PEBCControlType,
    ResourceManagerHandler,
)
from s2python.connection.async_.medium.websocket import WebsocketClientMedium
from s2python.connection.types import S2ConnectionEventsAndMessages, SendOkayRunAsync
from s2python.pebc import (
    PEBCAllowedLimitRange,
    PEBCInstruction,
    PEBCPowerConstraints,
    PEBCPowerEnvelopeConsequenceType,
    PEBCPowerEnvelopeLimitType,
)

from dacs.devices import LimitAction
from dacs.devices.s2 import (
    S2ConnectionError,
    S2HeatPump,
    S2TimeoutError,
    S2UnsupportedError,
)

from .conftest import TOKEN, cem, eventually

_ELECTRIC = CommodityQuantity.ELECTRIC_POWER_L1


@dataclass
class LibraryDevice:
    """What the library's resource manager was told."""

    constraints_id: uuid.UUID = field(default_factory=uuid.uuid4)
    instructions: list[PEBCInstruction] = field(default_factory=list)
    revoked: list[uuid.UUID] = field(default_factory=list)
    active: bool = False


class _RecordingPebc(PEBCControlType):
    def __init__(self, device: LibraryDevice) -> None:
        self.device = device

    def register_handlers(self, connection: S2AsyncConnection) -> None:
        super().register_handlers(connection)
        connection.register_handler(RevokeObject, self._on_revoke)

    async def _on_revoke(
        self,
        connection: S2AsyncConnection,
        msg: S2ConnectionEventsAndMessages,
        send_okay: SendOkayRunAsync,
    ) -> None:
        assert isinstance(msg, RevokeObject)
        self.device.revoked.append(msg.object_id)

    async def handle_instruction(
        self,
        connection: S2AsyncConnection,
        msg: S2ConnectionEventsAndMessages,
        send_okay: SendOkayRunAsync,
    ) -> None:
        assert isinstance(msg, PEBCInstruction)
        self.device.instructions.append(msg)

    async def activate(self, connection: S2AsyncConnection) -> None:
        self.device.active = True

        def allowed(
            kind: PEBCPowerEnvelopeLimitType, start: float, end: float
        ) -> PEBCAllowedLimitRange:
            return PEBCAllowedLimitRange(
                commodity_quantity=_ELECTRIC,
                limit_type=kind,
                range_boundary=NumberRange(start_of_range=start, end_of_range=end),
                abnormal_condition_only=False,
            )

        await connection.send_msg_and_await_reception_status(
            PEBCPowerConstraints(
                message_id=uuid.uuid4(),
                id=self.device.constraints_id,
                valid_from=datetime.now(UTC),
                valid_until=None,
                consequence_type=PEBCPowerEnvelopeConsequenceType.VANISH,
                allowed_limit_ranges=[
                    allowed(PEBCPowerEnvelopeLimitType.UPPER_LIMIT, 1300.0, 4300.0),
                    allowed(PEBCPowerEnvelopeLimitType.LOWER_LIMIT, 0.0, 0.0),
                ],
            )
        )
        await connection.send_msg_and_await_reception_status(
            PowerMeasurement(
                message_id=uuid.uuid4(),
                measurement_timestamp=datetime.now(UTC),
                values=[PowerValue(commodity_quantity=_ELECTRIC, value=2100.0)],
            )
        )

    async def deactivate(self, connection: S2AsyncConnection) -> None:
        self.device.active = False


class _NotControllable(NoControlControlType):
    async def activate(self, connection: S2AsyncConnection) -> None:
        pass

    async def deactivate(self, connection: S2AsyncConnection) -> None:
        pass


@dataclass
class LibraryRm:
    """A running library resource manager."""

    device: LibraryDevice
    connection: S2AsyncConnection
    task: asyncio.Task[None]
    medium: WebsocketClientMedium


async def start_library_rm(
    url: str, *, token: str | None = TOKEN, with_pebc: bool = True
) -> LibraryRm:
    """Dial ``url`` with s2-python's resource manager."""
    device = LibraryDevice()
    medium = WebsocketClientMedium(url, bearer_token=token)
    await medium.connect()
    connection = S2AsyncConnection(medium, eventloop=asyncio.get_running_loop())
    details = AssetDetails(
        resource_id=uuid.uuid4(),
        provides_forecast=False,
        provides_power_measurements=[_ELECTRIC],
        instruction_processing_delay=Duration(500),
        roles=[Role(role=RoleType.ENERGY_CONSUMER, commodity=Commodity.ELECTRICITY)],
        manufacturer="Library",
        model="RM",
        serial_number="LIB-1",
    )
    ResourceManagerHandler(
        [_RecordingPebc(device) if with_pebc else _NotControllable()], details
    ).register_handlers(connection)
    task = asyncio.create_task(connection.run())
    return LibraryRm(device=device, connection=connection, task=task, medium=medium)


@pytest.fixture
async def heat_pump() -> AsyncIterator[S2HeatPump]:
    """Our CEM, listening."""
    heat_pump = cem()
    await heat_pump.listen()
    yield heat_pump
    await heat_pump.close()


async def _stop(rm: LibraryRm) -> None:
    await rm.connection.stop()
    await rm.medium.disconnect()
    await asyncio.gather(rm.task, return_exceptions=True)


async def test_handshake_details_and_power_constraints(heat_pump: S2HeatPump) -> None:
    rm = await start_library_rm(heat_pump.url)
    try:
        await heat_pump.connect()
        assert rm.device.active  # the CEM selected PEBC
        assert heat_pump.identity.manufacturer == "Library"
        assert heat_pump.identity.serial == "LIB-1"
        assert heat_pump.identity.profile_id == "s2"
        caps = heat_pump.capabilities
        assert caps.nominal_electric_w == 4300
        assert caps.safety_floor_w == 1300  # the lowest upper limit it allows
        assert not caps.supports_gas_only  # 0 W is not among its ranges
        await eventually(lambda: heat_pump._session.measurement is not None)
        measured = await heat_pump.read_measurements()
        assert measured.electric_power_w == 2100.0
    finally:
        await _stop(rm)


async def test_envelope_instruction_then_revocation(heat_pump: S2HeatPump) -> None:
    rm = await start_library_rm(heat_pump.url)
    try:
        await heat_pump.connect()
        result = await heat_pump.set_power_limit(2000, validity_s=600)
        assert result.action is LimitAction.APPLIED
        instruction = rm.device.instructions[-1]
        assert instruction.power_constraints_id == rm.device.constraints_id
        envelope = instruction.power_envelopes[0]
        assert envelope.commodity_quantity is _ELECTRIC
        element = envelope.power_envelope_elements[0]
        assert element.upper_limit == 2000.0
        assert element.lower_limit == 0.0
        assert element.duration.root == 600_000  # expires with the limit

        await heat_pump.release_limit()
        assert rm.device.revoked == [instruction.id]
        assert not heat_pump.limit.limited
    finally:
        await _stop(rm)


async def test_never_below_the_devices_floor(heat_pump: S2HeatPump) -> None:
    rm = await start_library_rm(heat_pump.url)
    try:
        await heat_pump.connect()
        result = await heat_pump.set_power_limit(500, validity_s=60)
        assert result.action is LimitAction.FLOOR_APPLIED
        upper = rm.device.instructions[-1].power_envelopes[0].power_envelope_elements[0]
        assert upper.upper_limit == 1300.0
    finally:
        await _stop(rm)


async def test_connection_lost_leaves_no_limit_and_reports_unavailable(
    heat_pump: S2HeatPump,
) -> None:
    rm = await start_library_rm(heat_pump.url)
    await heat_pump.connect()
    await heat_pump.set_power_limit(2000, validity_s=600)
    await _stop(rm)
    await eventually(lambda: not heat_pump.available)
    with pytest.raises(S2ConnectionError, match="no S2 resource manager connected"):
        await heat_pump.read_measurements()
    with pytest.raises(S2ConnectionError):
        await heat_pump.set_power_limit(1500, validity_s=60)
    # Releasing needs no device: it already runs on its own fallback.
    assert not (await heat_pump.release_limit()).limited


async def test_a_still_valid_limit_is_sent_again_after_reconnection(
    heat_pump: S2HeatPump,
) -> None:
    rm = await start_library_rm(heat_pump.url)
    await heat_pump.connect()
    await heat_pump.set_power_limit(2500, validity_s=600)
    await _stop(rm)
    await eventually(lambda: not heat_pump.available)
    again = await start_library_rm(heat_pump.url)
    try:
        await eventually(lambda: bool(again.device.instructions))
        element = again.device.instructions[0].power_envelopes[0]
        assert element.power_envelope_elements[0].upper_limit == 2500.0
        assert element.power_envelope_elements[0].duration.root <= 600_000
    finally:
        await _stop(again)


async def test_a_device_without_pebc_or_ddbc_is_unsupported(
    heat_pump: S2HeatPump,
) -> None:
    rm = await start_library_rm(heat_pump.url, with_pebc=False)
    try:
        with pytest.raises(S2UnsupportedError, match="POWER_ENVELOPE_BASED_CONTROL"):
            await heat_pump.connect()
        with pytest.raises(S2ConnectionError):
            await heat_pump.set_power_limit(1500, validity_s=60)
        assert rm.device.instructions == []
    finally:
        await _stop(rm)


async def test_wrong_pairing_token_is_refused(heat_pump: S2HeatPump) -> None:
    from s2python.connection.async_.medium.s2_medium import MediumCouldNotConnectError

    with pytest.raises(MediumCouldNotConnectError, match="401"):
        await start_library_rm(heat_pump.url, token="wrong")
    with pytest.raises(MediumCouldNotConnectError, match="401"):
        await start_library_rm(heat_pump.url, token=None)
    with pytest.raises(S2TimeoutError, match="no S2 resource manager paired"):
        await heat_pump.wait_ready(0.3)
