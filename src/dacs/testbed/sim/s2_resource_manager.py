"""A simulated hybrid heat pump that speaks S2 as a resource manager.

The physics is the simulator's own (:class:`HybridHome`); the S2 side is
s2-python's resource manager (``ResourceManagerHandler`` over its WebSocket
client medium), with PEBC and DDBC control types on top. Like a real device
it dials the CEM, pairs with a bearer token, describes itself, follows the
instructions it accepts and, when the connection drops or an envelope ends,
falls back to its own control: no limit stays in force.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
import contextlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
import logging
import math
import time
from typing import Self, override
import uuid

from s2python.common import (
    Commodity,
    CommodityQuantity,
    Duration,
    InstructionStatus,
    InstructionStatusUpdate,
    NumberRange,
    PowerMeasurement,
    PowerRange,
    PowerValue,
    ReceptionStatusValues,
    RevokableObjects,
    RevokeObject,
    Role,
    RoleType,
)
from s2python.connection import AssetDetails
from s2python.connection.async_ import S2AsyncConnection
from s2python.connection.async_.control_type.class_based import (
    DDBCControlType,
    PEBCControlType,
    ResourceManagerHandler,
    S2ControlType,
)
from s2python.connection.async_.medium.s2_medium import (
    MediumCouldNotConnectError,
    S2MediumException,
    UnparsedMediumData,
)
from s2python.connection.async_.medium.websocket import WebsocketClientMedium
from s2python.connection.types import S2ConnectionEventsAndMessages
from s2python.ddbc import (
    DDBCActuatorDescription,
    DDBCInstruction,
    DDBCOperationMode,
    DDBCSystemDescription,
)
from s2python.generated.gen_s2 import ID
from s2python.pebc import (
    PEBCAllowedLimitRange,
    PEBCInstruction,
    PEBCPowerConstraints,
    PEBCPowerEnvelopeConsequenceType,
    PEBCPowerEnvelopeLimitType,
)

from dacs.devices.models import OperatingMode
from dacs.devices.s2.session import SendOkayRun, refuse
from dacs.devices.s2.transport import S2Connection, screened

from .hybrid import HybridHome

_LOGGER = logging.getLogger(__name__)
_ELECTRIC = CommodityQuantity.ELECTRIC_POWER_3_PHASE_SYMMETRIC
_GAS_LITRES_PER_S_PER_M3_PER_H = 1000 / 3600


@dataclass(frozen=True)
class S2DeviceLimit:
    """The instruction the simulated device follows."""

    instruction_id: uuid.UUID
    kind: RevokableObjects
    max_power_w: float | None  # None with gas-only
    mode: OperatingMode
    ends_at: datetime | None  # wall clock; None: until revoked


class _ScreenedClientMedium(WebsocketClientMedium):
    """s2-python's client medium, refusing frames its parser would end the connection over."""

    @override
    async def messages(self) -> AsyncGenerator[UnparsedMediumData]:
        async for frame in screened(super().messages(), self.send):
            yield frame


class SimulatedS2HeatPump:
    """A simulated hybrid heat pump behind an S2 resource manager that dials ``url``."""

    def __init__(
        self,
        plant: HybridHome,
        url: str,
        *,
        token: str | None = None,
        serial: str = "S2SIM-0001",
        safety_floor_w: float | None = None,
        control_types: tuple[str, ...] = ("pebc", "ddbc"),
        speed: float = 1.0,
        autorun: bool = True,
        tick_s: float = 0.2,
        measure_s: float = 5.0,
        retry_s: float = 0.5,
    ) -> None:
        """Prepare; start() begins dialling (and the simulated clock, with autorun)."""
        spec = plant.config.heat_pump
        self.plant = plant
        self.url = url
        self.serial = serial
        self.nominal_w = float(round(spec.nominal_electric_w))
        self.floor_w = float(
            safety_floor_w
            if safety_floor_w is not None
            else min(math.ceil(spec.min_electric_w / 100) * 100, self.nominal_w)
        )
        self.speed = speed
        self.autorun = autorun
        self.tick_s = tick_s
        self.measure_s = measure_s
        self.retry_s = retry_s
        self._token = token
        self._kinds = control_types
        self.limit: S2DeviceLimit | None = None
        self.accepted: set[uuid.UUID] = set()  # instructions of this session
        self.constraints_id = uuid.uuid4()
        self.actuator_id = uuid.uuid4()
        self.heat_pump_mode_id = uuid.uuid4()
        self.boiler_mode_id = uuid.uuid4()
        self.resource_id = uuid.uuid4()
        self.connected = asyncio.Event()
        self.sessions = 0
        self.simulated_s = 0.0
        self._gas_flow_m3_per_h = 0.0
        self._connection: S2AsyncConnection | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False

    # -- lifecycle -----------------------------------------------------------

    async def start(self) -> None:
        """Dial the CEM (again after every lost connection) and run the physics."""
        self._stopping = False
        self._tasks.append(
            asyncio.create_task(self._dial(), name=f"dacs-sim-s2-{self.serial}")
        )
        if self.autorun:
            self._tasks.append(
                asyncio.create_task(
                    self._run_clock(), name=f"dacs-sim-s2-clock-{self.serial}"
                )
            )

    async def stop(self) -> None:
        """Hang up and stop."""
        self._stopping = True
        await self.disconnect()
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def disconnect(self) -> None:
        """Drop the connection (the dialler connects again unless stopping)."""
        connection = self._connection
        if connection is not None:
            await connection.stop()

    async def __aenter__(self) -> Self:
        """Start."""
        await self.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        """Stop."""
        await self.stop()

    # -- what it is doing ----------------------------------------------------

    @property
    def limit_w(self) -> float | None:
        """The electric cap in force on the physics; None when free."""
        return self.plant.electric_limit_w

    @property
    def mode(self) -> OperatingMode:
        """The physics' operating mode."""
        return self.plant.mode

    def advance(self, seconds: float) -> None:
        """Move simulated time forward (ending envelopes whose time is up first)."""
        self._end_expired()
        remaining = seconds
        while remaining > 1e-9:
            dt = min(remaining, 60.0)
            gas_before = self.plant.gas_m3
            self.plant.step(dt)
            self._gas_flow_m3_per_h = (self.plant.gas_m3 - gas_before) * 3600 / dt
            self.simulated_s += dt
            remaining -= dt

    # -- S2 ------------------------------------------------------------------

    def asset_details(self) -> AssetDetails:
        """What ResourceManagerDetails says about this device."""
        return AssetDetails(
            resource_id=self.resource_id,
            provides_forecast=False,
            provides_power_measurements=[
                _ELECTRIC,
                CommodityQuantity.HEAT_THERMAL_POWER,
                CommodityQuantity.NATURAL_GAS_FLOW_RATE,
            ],
            instruction_processing_delay=Duration(1000),
            roles=[
                Role(role=RoleType.ENERGY_CONSUMER, commodity=Commodity.ELECTRICITY),
                Role(role=RoleType.ENERGY_CONSUMER, commodity=Commodity.GAS),
            ],
            name="Simulated hybrid heat pump",
            manufacturer="DACS simulator",
            model=f"Hybrid {self.nominal_w / 1000:.1f} kW (S2)",
            firmware_version="sim-s2-1",
            serial_number=self.serial,
        )

    def power_constraints(self) -> PEBCPowerConstraints:
        """The PEBC constraints: off (0 W, the boiler heats) or between floor and nominal."""

        def allowed(
            kind: PEBCPowerEnvelopeLimitType, start: float, end: float
        ) -> PEBCAllowedLimitRange:
            return PEBCAllowedLimitRange(
                commodity_quantity=_ELECTRIC,
                limit_type=kind,
                range_boundary=NumberRange(start_of_range=start, end_of_range=end),
                abnormal_condition_only=False,
            )

        return PEBCPowerConstraints(
            message_id=uuid.uuid4(),
            id=self.constraints_id,
            valid_from=datetime.now(UTC),
            valid_until=None,
            consequence_type=PEBCPowerEnvelopeConsequenceType.DEFER,
            allowed_limit_ranges=[
                allowed(PEBCPowerEnvelopeLimitType.UPPER_LIMIT, 0.0, 0.0),
                allowed(
                    PEBCPowerEnvelopeLimitType.UPPER_LIMIT, self.floor_w, self.nominal_w
                ),
                allowed(PEBCPowerEnvelopeLimitType.LOWER_LIMIT, 0.0, 0.0),
            ],
        )

    def system_description(self) -> DDBCSystemDescription:
        """The DDBC description: a heat pump mode and a boiler mode."""

        def mode(
            mode_id: uuid.UUID, label: str, start: float, end: float
        ) -> DDBCOperationMode:
            return DDBCOperationMode(
                # s2-python 0.11.1 requires the id twice: the schema's "Id"
                # and its own "id" (both are sent).
                id=mode_id,
                Id=ID(str(mode_id)),
                diagnostic_label=label,
                power_ranges=[
                    PowerRange(
                        start_of_range=start,
                        end_of_range=end,
                        commodity_quantity=_ELECTRIC,
                    )
                ],
                supply_range=[NumberRange(start_of_range=0.0, end_of_range=1.0)],
                running_costs=None,
                abnormal_condition_only=False,
            )

        return DDBCSystemDescription(
            message_id=uuid.uuid4(),
            valid_from=datetime.now(UTC),
            actuators=[
                DDBCActuatorDescription(
                    id=self.actuator_id,
                    diagnostic_label="hybrid heat pump",
                    supported_commodites=[Commodity.ELECTRICITY, Commodity.GAS],
                    operation_modes=[
                        mode(
                            self.heat_pump_mode_id,
                            "heat pump",
                            self.floor_w,
                            self.nominal_w,
                        ),
                        mode(self.boiler_mode_id, "boiler", 0.0, 0.0),
                    ],
                    transitions=[],
                    timers=[],
                )
            ],
            present_demand_rate=NumberRange(start_of_range=0.0, end_of_range=1.0),
            provides_average_demand_rate_forecast=False,
        )

    def follow(self, limit: S2DeviceLimit) -> None:
        """Put an accepted instruction on the physics."""
        self.limit = limit
        self.accepted.add(limit.instruction_id)
        self.plant.mode = limit.mode
        self.plant.electric_limit_w = limit.max_power_w
        _LOGGER.info(
            "S2 device %s follows %s: %s",
            self.serial,
            limit.kind.value,
            "gas only"
            if limit.max_power_w is None
            else f"at most {limit.max_power_w:.0f} W",
        )

    def fall_back(self, reason: str) -> None:
        """The device's own control again: no limit in force."""
        if self.limit is not None or self.plant.electric_limit_w is not None:
            _LOGGER.info(
                "S2 device %s falls back to its own control: %s", self.serial, reason
            )
        self.limit = None
        self.accepted.clear()
        self.plant.mode = OperatingMode.NORMAL
        self.plant.electric_limit_w = None

    # -- internals -----------------------------------------------------------

    def _end_expired(self) -> None:
        limit = self.limit
        if (
            limit is not None
            and limit.ends_at is not None
            and datetime.now(UTC) >= limit.ends_at
        ):
            self.fall_back("the power envelope ended")

    async def _run_clock(self) -> None:
        last = time.monotonic()
        while True:
            await asyncio.sleep(self.tick_s)
            now = time.monotonic()
            self.advance((now - last) * self.speed)
            last = now

    async def _dial(self) -> None:
        while not self._stopping:
            medium = _ScreenedClientMedium(self.url, bearer_token=self._token)
            try:
                await medium.connect()
            except MediumCouldNotConnectError:
                await asyncio.sleep(self.retry_s)
                continue
            await self._session(medium)
            if not self._stopping:
                await asyncio.sleep(self.retry_s)

    async def _session(self, medium: WebsocketClientMedium) -> None:
        connection = S2Connection(medium)
        self._connection = connection
        control_types: list[S2ControlType] = []
        if "pebc" in self._kinds:
            control_types.append(_PebcControl(self))
        if "ddbc" in self._kinds:
            control_types.append(_DdbcControl(self))
        ResourceManagerHandler(control_types, self.asset_details()).register_handlers(
            connection
        )
        self.sessions += 1
        self.connected.set()
        reporter = asyncio.create_task(self._report(connection))
        try:
            await connection.run()
        finally:
            reporter.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reporter
            self.connected.clear()
            self._connection = None
            self.fall_back("the connection to the CEM is lost")
            with contextlib.suppress(Exception):
                await medium.disconnect()

    async def _report(self, connection: S2AsyncConnection) -> None:
        """A PowerMeasurement every ``measure_s`` while connected."""
        while True:
            await asyncio.sleep(self.measure_s)
            self._end_expired()
            with contextlib.suppress(S2MediumException, TimeoutError, RuntimeError):
                await connection.send_msg_and_await_reception_status(self.measurement())

    def measurement(self) -> PowerMeasurement:
        """What the meters read now."""
        return PowerMeasurement(
            message_id=uuid.uuid4(),
            measurement_timestamp=datetime.now(UTC),
            values=[
                PowerValue(
                    commodity_quantity=_ELECTRIC, value=self.plant.hp_electric_w
                ),
                PowerValue(
                    commodity_quantity=CommodityQuantity.HEAT_THERMAL_POWER,
                    value=self.plant.hp_thermal_w,
                ),
                PowerValue(
                    commodity_quantity=CommodityQuantity.NATURAL_GAS_FLOW_RATE,
                    value=self._gas_flow_m3_per_h * _GAS_LITRES_PER_S_PER_M3_PER_H,
                ),
            ],
        )


async def _status(
    connection: S2AsyncConnection, instruction_id: uuid.UUID, status: InstructionStatus
) -> None:
    await connection.send_msg_and_await_reception_status(
        InstructionStatusUpdate(
            message_id=uuid.uuid4(),
            instruction_id=instruction_id,
            status_type=status,
            timestamp=datetime.now(UTC),
        )
    )


async def _on_revoke(
    device: SimulatedS2HeatPump,
    connection: S2AsyncConnection,
    message: S2ConnectionEventsAndMessages,
    send_okay: SendOkayRun,
) -> None:
    if not isinstance(message, RevokeObject):
        return
    limit = device.limit
    if message.object_id not in device.accepted:
        await refuse(
            connection,
            message,
            send_okay,
            ReceptionStatusValues.INVALID_CONTENT,
            f"no {message.object_type.value} {message.object_id} was accepted",
        )
        return
    if send_okay is not None:
        await send_okay()
    device.accepted.discard(message.object_id)
    if limit is not None and limit.instruction_id == message.object_id:
        device.fall_back("the CEM revoked the instruction")
    # A superseded instruction is gone already; revoking it changes nothing.
    await _status(connection, message.object_id, InstructionStatus.REVOKED)


class _DeviceControl(S2ControlType):
    """What both control types share: the device, revocation, deactivation."""

    def __init__(self, device: SimulatedS2HeatPump) -> None:
        self.device = device

    instruction_type: type[PEBCInstruction | DDBCInstruction]

    @override
    def register_handlers(self, connection: S2AsyncConnection) -> None:
        connection.register_handler(self.instruction_type, self.handle_instruction)
        connection.register_handler(RevokeObject, self._revoke)

    async def handle_instruction(
        self,
        connection: S2AsyncConnection,
        msg: S2ConnectionEventsAndMessages,
        send_okay: SendOkayRun,
    ) -> None:
        """Follow an instruction of this control type, or refuse it with the reason."""
        if not isinstance(msg, self.instruction_type):
            return
        limit = self._limit(msg)
        if isinstance(limit, str):
            await refuse(
                connection,
                msg,
                send_okay,
                ReceptionStatusValues.INVALID_CONTENT,
                limit,
            )
            return
        if send_okay is not None:
            await send_okay()
        self.device.follow(limit)
        await _status(connection, limit.instruction_id, InstructionStatus.ACCEPTED)

    def _limit(self, msg: PEBCInstruction | DDBCInstruction) -> S2DeviceLimit | str:
        """The limit an instruction sets, or why it cannot be followed."""
        raise NotImplementedError

    async def _revoke(
        self,
        connection: S2AsyncConnection,
        message: S2ConnectionEventsAndMessages,
        send_okay: SendOkayRun,
    ) -> None:
        await _on_revoke(self.device, connection, message, send_okay)

    @override
    async def deactivate(self, connection: S2AsyncConnection) -> None:
        self.device.fall_back(f"{self.get_protocol_control_type().value} deactivated")


class _PebcControl(_DeviceControl, PEBCControlType):
    instruction_type = PEBCInstruction

    @override
    async def activate(self, connection: S2AsyncConnection) -> None:
        await connection.send_msg_and_await_reception_status(
            self.device.power_constraints()
        )

    @override
    def _limit(self, msg: PEBCInstruction | DDBCInstruction) -> S2DeviceLimit | str:
        if not isinstance(msg, PEBCInstruction):
            return "not a PEBC instruction"
        device = self.device
        if msg.power_constraints_id != device.constraints_id:
            return f"unknown power constraints {msg.power_constraints_id}"
        envelopes = [
            e for e in msg.power_envelopes if e.commodity_quantity is _ELECTRIC
        ]
        if not envelopes or not envelopes[0].power_envelope_elements:
            return f"no envelope for {_ELECTRIC.value}"
        elements = envelopes[0].power_envelope_elements
        upper = elements[0].upper_limit
        if not (upper == 0 or device.floor_w <= upper <= device.nominal_w):
            return (
                f"upper limit {upper:.0f} W outside the allowed ranges "
                f"(0 or {device.floor_w:.0f}..{device.nominal_w:.0f} W)"
            )
        total_ms = sum(e.duration.root for e in elements)
        return S2DeviceLimit(
            instruction_id=msg.id,
            kind=RevokableObjects.PEBC_Instruction,
            max_power_w=None if upper <= 0 else upper,
            mode=OperatingMode.GAS_ONLY if upper <= 0 else OperatingMode.NORMAL,
            ends_at=msg.execution_time + timedelta(milliseconds=total_ms),
        )


class _DdbcControl(_DeviceControl, DDBCControlType):
    instruction_type = DDBCInstruction

    @override
    async def activate(self, connection: S2AsyncConnection) -> None:
        await connection.send_msg_and_await_reception_status(
            self.device.system_description()
        )

    @override
    def _limit(self, msg: PEBCInstruction | DDBCInstruction) -> S2DeviceLimit | str:
        if not isinstance(msg, DDBCInstruction):
            return "not a DDBC instruction"
        device = self.device
        if (
            msg.actuator_id != device.actuator_id
            or msg.operation_mode_id
            not in {
                device.heat_pump_mode_id,
                device.boiler_mode_id,
            }
            or not 0.0 <= msg.operation_mode_factor <= 1.0
        ):
            return "unknown actuator or operation mode, or a factor outside 0..1"
        boiler = msg.operation_mode_id == device.boiler_mode_id
        power = device.floor_w + msg.operation_mode_factor * (
            device.nominal_w - device.floor_w
        )
        return S2DeviceLimit(
            instruction_id=uuid.UUID(msg.id.root),
            kind=RevokableObjects.DDBC_Instruction,
            max_power_w=None if boiler else power,
            mode=OperatingMode.GAS_ONLY if boiler else OperatingMode.NORMAL,
            ends_at=None,
        )
