"""A simulated hybrid heat pump served over Modbus TCP."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from types import TracebackType
from typing import Protocol, Self

from pymodbus.constants import ExcCodes
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from dacs.devices.modbus_profile import RegisterTable
from dacs.devices.models import OperatingMode
from dacs.testbed.servers.ports import LOOPBACK, find_free_port, wait_for_port

from .firmware import HeatPumpFirmware, PlantReading

_LOGGER = logging.getLogger(__name__)

_TABLE_BY_FUNCTION = {
    1: RegisterTable.COIL,
    5: RegisterTable.COIL,
    15: RegisterTable.COIL,
    2: RegisterTable.DISCRETE,
    3: RegisterTable.HOLDING,
    6: RegisterTable.HOLDING,
    16: RegisterTable.HOLDING,
    22: RegisterTable.HOLDING,
    23: RegisterTable.HOLDING,
    4: RegisterTable.INPUT,
}
_BITS_PER_WORD = 16


class Plant(Protocol):
    """The physics behind the firmware: a hybrid heating system in a house."""

    electric_limit_w: float | None
    mode: OperatingMode
    room_setpoint_c: float

    def step(self, dt_s: float) -> PlantReading:
        """Advance the physics by ``dt_s`` seconds."""
        ...


class SimulatedHeatPumpServer[P: Plant]:
    """Serve a plant through a firmware emulation on a Modbus TCP port.

    ``speed`` is simulated seconds per wall-clock second while the server
    runs its own clock (``autorun=True``); tests usually pass
    ``autorun=False`` and call :meth:`advance` to move simulated time.
    """

    def __init__(
        self,
        firmware: HeatPumpFirmware,
        plant: P,
        *,
        host: str = LOOPBACK,
        port: int | None = None,
        device_id: int = 1,
        speed: float = 1.0,
        max_step_s: float = 60.0,
        autorun: bool = True,
        tick_s: float = 0.2,
    ) -> None:
        """Prepare the server; nothing listens until start()."""
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.firmware = firmware
        self.plant = plant
        self.host = host
        self.port = port or find_free_port()
        self.device_id = device_id
        self.speed = speed
        self.max_step_s = max_step_s
        self.autorun = autorun
        self.tick_s = tick_s
        self.simulated_s = 0.0
        self._server: ModbusTcpServer | None = None
        self._serve_task: asyncio.Task[None] | None = None
        self._clock_task: asyncio.Task[None] | None = None
        self._sync_plant()
        self._step(1.0)

    async def start(self) -> None:
        """Listen on host:port and (with autorun) start the simulated clock."""
        device = SimDevice(
            id=self.device_id, simdata=self._simdata(), action=self._on_request
        )
        self._server = ModbusTcpServer(device, address=(self.host, self.port))
        self._serve_task = asyncio.create_task(
            self._server.serve_forever(), name=f"dacs-sim-modbus-{self.port}"
        )
        loop = asyncio.get_running_loop()
        ready = await loop.run_in_executor(
            None, wait_for_port, self.port, 5.0, self.host
        )
        if not ready:
            await self.stop()
            raise OSError(
                f"simulated heat pump could not listen on {self.host}:{self.port}"
            )
        if self.autorun:
            self._clock_task = asyncio.create_task(
                self._run_clock(), name=f"dacs-sim-clock-{self.port}"
            )
        _LOGGER.info(
            "simulated %s heat pump on %s:%s (device id %s)",
            self.firmware.profile.id,
            self.host,
            self.port,
            self.device_id,
        )

    async def stop(self) -> None:
        """Stop serving and the clock."""
        for task in (self._clock_task, self._serve_task):
            if task is not None:
                task.cancel()
        if self._server is not None:
            with contextlib.suppress(Exception):
                await self._server.shutdown()  # type: ignore[no-untyped-call]  # pymodbus leaves it unannotated
        for task in (self._clock_task, self._serve_task):
            if task is not None:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        self._server = self._serve_task = self._clock_task = None

    async def __aenter__(self) -> Self:
        """Start serving."""
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop serving."""
        await self.stop()

    def advance(self, seconds: float) -> None:
        """Move simulated time forward, in steps of at most ``max_step_s``."""
        if seconds < 0:
            raise ValueError("time only moves forward")
        remaining = seconds
        while remaining > 1e-9:
            dt = min(remaining, self.max_step_s)
            self.firmware.tick()
            self._sync_plant()
            self._step(dt)
            remaining -= dt
        self.firmware.tick()
        self._sync_plant()

    # -- internals ---------------------------------------------------------

    def _sync_plant(self) -> None:
        self.plant.electric_limit_w = self.firmware.limit_w
        self.plant.mode = self.firmware.mode
        self.plant.room_setpoint_c = self.firmware.state.room_setpoint_c

    def _step(self, dt: float) -> None:
        reading = self.plant.step(dt)
        self.firmware.record(reading, dt)
        self.simulated_s += dt

    async def _run_clock(self) -> None:
        last = time.monotonic()
        while True:
            await asyncio.sleep(self.tick_s)
            now = time.monotonic()
            self.advance((now - last) * self.speed)
            last = now

    def _simdata(
        self,
    ) -> tuple[list[SimData], list[SimData], list[SimData], list[SimData]]:
        blocks = self.firmware.blocks()

        def registers(table: RegisterTable) -> list[SimData]:
            if table not in blocks:
                return [SimData(address=0, count=1, datatype=DataType.INVALID)]
            start, count = blocks[table]
            return [
                SimData(
                    address=start, count=count, values=0, datatype=DataType.REGISTERS
                )
            ]

        def bits(table: RegisterTable) -> list[SimData]:
            start, count = blocks.get(table, (0, 1))
            first_word = start // _BITS_PER_WORD
            last_word = (start + count - 1) // _BITS_PER_WORD
            return [
                SimData(
                    address=first_word,
                    count=(last_word - first_word + 1) * _BITS_PER_WORD,
                    values=False,
                    datatype=DataType.BITS,
                )
            ]

        return (
            bits(RegisterTable.COIL),
            bits(RegisterTable.DISCRETE),
            registers(RegisterTable.HOLDING),
            registers(RegisterTable.INPUT),
        )

    async def _on_request(  # noqa: PLR0917 - pymodbus's action callback signature
        self,
        function_code: int,
        start_address: int,
        address: int,
        count: int,
        registers: list[int],
        set_values: list[int] | list[bool] | None,
    ) -> ExcCodes | None:
        """Answer one Modbus request from the firmware's registers."""
        table = _TABLE_BY_FUNCTION.get(function_code)
        if table is None:
            return ExcCodes.ILLEGAL_FUNCTION
        if set_values is not None:
            values = [int(v) for v in set_values]
            return self.firmware.write(table, address, values)
        if table.is_bits:
            return self._fill_bits(table, start_address, registers)
        result = self.firmware.read(table, address, count)
        if isinstance(result, ExcCodes):
            return result
        offset = address - start_address
        registers[offset : offset + count] = result
        return None

    def _fill_bits(
        self, table: RegisterTable, start_word: int, registers: list[int]
    ) -> ExcCodes | None:
        first_bit = start_word * _BITS_PER_WORD
        result = self.firmware.read(table, first_bit, len(registers) * _BITS_PER_WORD)
        if isinstance(result, ExcCodes):
            return result
        for word in range(len(registers)):
            chunk = result[word * _BITS_PER_WORD : (word + 1) * _BITS_PER_WORD]
            registers[word] = sum(
                (1 << bit) for bit, value in enumerate(chunk) if value
            )
        return None
