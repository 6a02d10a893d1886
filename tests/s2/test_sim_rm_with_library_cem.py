"""Our simulated S2 heat pump against a CEM built from s2-python's own pieces.

s2-python 0.11.1 has no CEM role handler and no server medium: the CEM here
is the library's ``S2AsyncConnection`` and message models over a plain
WebSocket server, scripted by the test.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
import uuid

import pytest
from s2python.common import (
    ControlType,
    Duration,
    EnergyManagementRole,
    Handshake,
    HandshakeResponse,
    InstructionStatusUpdate,
    PowerMeasurement,
    ReceptionStatusValues,
    ResourceManagerDetails,
    RevokableObjects,
    RevokeObject,
    SelectControlType,
)
from s2python.connection.async_ import S2AsyncConnection
from s2python.connection.types import S2ConnectionEventsAndMessages, SendOkayRunAsync
from s2python.pebc import (
    PEBCInstruction,
    PEBCPowerConstraints,
    PEBCPowerEnvelope,
    PEBCPowerEnvelopeElement,
)
from s2python.version import S2_VERSION
from websockets.asyncio.server import ServerConnection, serve

from dacs.devices.models import OperatingMode
from dacs.devices.s2.transport import ServerMedium
from dacs.testbed.servers import find_free_port
from dacs.testbed.sim.s2_resource_manager import SimulatedS2HeatPump

from .conftest import eventually, simulated_device


@dataclass
class LibraryCem:
    """What the scripted CEM saw."""

    connection: S2AsyncConnection | None = None
    details: ResourceManagerDetails | None = None
    constraints: PEBCPowerConstraints | None = None
    measurements: list[PowerMeasurement] = field(default_factory=list)
    statuses: list[InstructionStatusUpdate] = field(default_factory=list)
    closed: asyncio.Event = field(default_factory=asyncio.Event)

    async def on_handshake(
        self,
        c: S2AsyncConnection,
        msg: S2ConnectionEventsAndMessages,
        ok: SendOkayRunAsync,
    ) -> None:
        assert isinstance(msg, Handshake)
        assert msg.role is EnergyManagementRole.RM
        assert ok is not None
        await ok()
        await c.send_msg_and_await_reception_status(
            Handshake(
                message_id=uuid.uuid4(),
                role=EnergyManagementRole.CEM,
                supported_protocol_versions=[S2_VERSION],
            )
        )
        await c.send_msg_and_await_reception_status(
            HandshakeResponse(
                message_id=uuid.uuid4(), selected_protocol_version=S2_VERSION
            )
        )

    async def on_details(
        self,
        c: S2AsyncConnection,
        msg: S2ConnectionEventsAndMessages,
        ok: SendOkayRunAsync,
    ) -> None:
        assert isinstance(msg, ResourceManagerDetails)
        assert ok is not None
        await ok()
        self.details = msg
        await c.send_msg_and_await_reception_status(
            SelectControlType(
                message_id=uuid.uuid4(),
                control_type=ControlType.POWER_ENVELOPE_BASED_CONTROL,
            )
        )

    async def on_constraints(
        self,
        c: S2AsyncConnection,
        msg: S2ConnectionEventsAndMessages,
        ok: SendOkayRunAsync,
    ) -> None:
        assert isinstance(msg, PEBCPowerConstraints)
        self.constraints = msg

    async def on_measurement(
        self,
        c: S2AsyncConnection,
        msg: S2ConnectionEventsAndMessages,
        ok: SendOkayRunAsync,
    ) -> None:
        assert isinstance(msg, PowerMeasurement)
        self.measurements.append(msg)

    async def on_status(
        self,
        c: S2AsyncConnection,
        msg: S2ConnectionEventsAndMessages,
        ok: SendOkayRunAsync,
    ) -> None:
        assert isinstance(msg, InstructionStatusUpdate)
        self.statuses.append(msg)

    async def serve(self, websocket: ServerConnection) -> None:
        connection = S2AsyncConnection(
            ServerMedium(websocket), eventloop=asyncio.get_running_loop()
        )
        connection.register_handler(Handshake, self.on_handshake)
        connection.register_handler(ResourceManagerDetails, self.on_details)
        connection.register_handler(PEBCPowerConstraints, self.on_constraints)
        connection.register_handler(PowerMeasurement, self.on_measurement)
        connection.register_handler(InstructionStatusUpdate, self.on_status)
        self.connection = connection
        try:
            await connection.run()
        finally:
            self.closed.set()


@pytest.fixture
async def cem_and_device() -> AsyncIterator[tuple[LibraryCem, SimulatedS2HeatPump]]:
    """The scripted library CEM and our simulated device, paired (no autorun clock)."""
    cem = LibraryCem()
    port = find_free_port()
    async with serve(cem.serve, "127.0.0.1", port):
        device = simulated_device(f"ws://127.0.0.1:{port}/s2", autorun=False)
        await device.start()
        try:
            await eventually(lambda: cem.constraints is not None)
            yield cem, device
        finally:
            await device.stop()


def _instruction(cem: LibraryCem, upper_w: float, **changes: object) -> PEBCInstruction:
    assert cem.constraints is not None
    commodity = cem.constraints.allowed_limit_ranges[0].commodity_quantity
    fields: dict[str, object] = {
        "message_id": uuid.uuid4(),
        "id": uuid.uuid4(),
        "execution_time": datetime.now(UTC),
        "abnormal_condition": False,
        "power_constraints_id": cem.constraints.id,
        "power_envelopes": [
            PEBCPowerEnvelope(
                id=str(uuid.uuid4()),  # type: ignore[arg-type]
                commodity_quantity=commodity,
                power_envelope_elements=[
                    PEBCPowerEnvelopeElement(
                        duration=Duration(600_000), upper_limit=upper_w, lower_limit=0.0
                    )
                ],
            )
        ],
    }
    fields.update(changes)
    return PEBCInstruction(**fields)  # type: ignore[arg-type]


async def test_handshake_details_and_constraints(
    cem_and_device: tuple[LibraryCem, SimulatedS2HeatPump],
) -> None:
    cem, device = cem_and_device
    assert cem.details is not None
    assert cem.details.serial_number == device.serial
    assert (
        ControlType.POWER_ENVELOPE_BASED_CONTROL in cem.details.available_control_types
    )
    assert (
        ControlType.DEMAND_DRIVEN_BASED_CONTROL in cem.details.available_control_types
    )
    assert cem.constraints is not None
    uppers = sorted(
        (r.range_boundary.start_of_range, r.range_boundary.end_of_range)
        for r in cem.constraints.allowed_limit_ranges
        if r.limit_type.value == "UPPER_LIMIT"
    )
    assert uppers == [(0.0, 0.0), (device.floor_w, device.nominal_w)]
    await eventually(lambda: bool(cem.measurements))


async def test_envelope_followed_then_revoked(
    cem_and_device: tuple[LibraryCem, SimulatedS2HeatPump],
) -> None:
    cem, device = cem_and_device
    assert cem.connection is not None
    device.advance(600)
    free_w = device.plant.hp_electric_w
    limit_w = device.floor_w + 100
    assert free_w > limit_w  # the cap bites on this cold evening
    instruction = _instruction(cem, limit_w)
    status = await cem.connection.send_msg_and_await_reception_status(instruction)
    assert status.status is ReceptionStatusValues.OK
    assert device.limit_w == limit_w
    for _ in range(10):
        device.advance(60)
        assert device.plant.hp_electric_w <= limit_w + 1e-6
    await eventually(
        lambda: any(s.status_type.value == "ACCEPTED" for s in cem.statuses)
    )

    revoke = RevokeObject(
        message_id=uuid.uuid4(),
        object_type=RevokableObjects.PEBC_Instruction,
        object_id=instruction.id,
    )
    status = await cem.connection.send_msg_and_await_reception_status(revoke)
    assert status.status is ReceptionStatusValues.OK
    assert device.limit_w is None
    device.advance(600)
    assert device.plant.hp_electric_w > limit_w


async def test_zero_means_gas_only(
    cem_and_device: tuple[LibraryCem, SimulatedS2HeatPump],
) -> None:
    cem, device = cem_and_device
    assert cem.connection is not None
    await cem.connection.send_msg_and_await_reception_status(_instruction(cem, 0.0))
    assert device.mode is OperatingMode.GAS_ONLY
    device.advance(300)
    assert device.plant.hp_electric_w == 0.0
    assert device.plant.boiler_thermal_w > 0


async def test_invalid_instructions_are_refused_with_a_reason(
    cem_and_device: tuple[LibraryCem, SimulatedS2HeatPump],
) -> None:
    cem, device = cem_and_device
    connection = cem.connection
    assert connection is not None
    below_floor = await connection.send_msg_and_await_reception_status(
        _instruction(cem, device.floor_w - 200), raise_on_error=False
    )
    assert below_floor.status is ReceptionStatusValues.INVALID_CONTENT
    assert "outside the allowed ranges" in str(below_floor.diagnostic_label)
    unknown = await connection.send_msg_and_await_reception_status(
        _instruction(cem, device.floor_w, power_constraints_id=uuid.uuid4()),
        raise_on_error=False,
    )
    assert unknown.status is ReceptionStatusValues.INVALID_CONTENT
    assert "unknown power constraints" in str(unknown.diagnostic_label)
    revoke_nothing = await connection.send_msg_and_await_reception_status(
        RevokeObject(
            message_id=uuid.uuid4(),
            object_type=RevokableObjects.PEBC_Instruction,
            object_id=uuid.uuid4(),
        ),
        raise_on_error=False,
    )
    assert revoke_nothing.status is ReceptionStatusValues.INVALID_CONTENT
    assert device.limit_w is None  # nothing refused was followed
    # The connection is still good: a valid instruction is followed.
    ok = await connection.send_msg_and_await_reception_status(
        _instruction(cem, device.floor_w)
    )
    assert ok.status is ReceptionStatusValues.OK
    assert device.limit_w == device.floor_w


async def test_connection_lost_falls_back_to_no_limit(
    cem_and_device: tuple[LibraryCem, SimulatedS2HeatPump],
) -> None:
    cem, device = cem_and_device
    assert cem.connection is not None
    await cem.connection.send_msg_and_await_reception_status(
        _instruction(cem, device.floor_w)
    )
    assert device.limit_w == device.floor_w
    await cem.connection.stop()
    await cem.closed.wait()
    await eventually(lambda: device.limit_w is None)
    assert device.mode is OperatingMode.NORMAL
