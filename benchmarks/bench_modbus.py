"""Modbus round trip of a full measurement read against the simulator on loopback.

Baseline: one bare pymodbus read of the same input-register span from the
same simulator, measured in the same run. The ratio shows what the driver's
decoding, range checks and request batching cost on top of the wire.
"""

from __future__ import annotations

import asyncio
import statistics
import time

from pymodbus.client import AsyncModbusTcpClient

from dacs.devices import HeatPump
from dacs.testbed.sim.simulated_heat_pump import (
    SimulatedHomeOptions,
    build_simulated_heat_pump,
)

from .harness import BenchResult

_ROUNDS = 300


async def _measure() -> tuple[float, float, float]:
    server = build_simulated_heat_pump(
        SimulatedHomeOptions(profile="dacs"), autorun=False
    )
    async with server:
        raw = AsyncModbusTcpClient("127.0.0.1", port=server.port)
        await raw.connect()
        baseline: list[float] = []
        for _ in range(_ROUNDS):
            start = time.perf_counter()
            await raw.read_input_registers(16512, count=20, device_id=1)
            baseline.append(time.perf_counter() - start)
        raw.close()
        driver: list[float] = []
        async with HeatPump("127.0.0.1", server.port) as heat_pump:
            for _ in range(_ROUNDS):
                start = time.perf_counter()
                await heat_pump.read_measurements()
                driver.append(time.perf_counter() - start)
    return (
        statistics.median(driver),
        statistics.median(baseline),
        sorted(driver)[int(0.99 * len(driver)) - 1],
    )


def run() -> list[BenchResult]:
    """Median full measurement read vs a bare register read."""
    driver, baseline, p99 = asyncio.run(_measure())
    return [
        BenchResult(
            name="modbus: full measurement read (median)",
            unit="ms",
            value=driver * 1000,
            baseline_name="bare pymodbus read of the same 20 registers",
            baseline_value=baseline * 1000,
            goal="ratio <= 3 (driver overhead small against the wire)",
            met=driver / baseline <= 3,
            notes=f"p99 {p99 * 1000:.2f} ms over {_ROUNDS} reads",
        )
    ]
