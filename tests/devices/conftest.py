"""Fixtures for driver tests: simulated heat pumps on real Modbus TCP ports."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from dacs.testbed.sim.hybrid import HybridHome
from dacs.testbed.sim.server import SimulatedHeatPumpServer
from dacs.testbed.sim.simulated_heat_pump import (
    SimulatedHomeOptions,
    build_simulated_heat_pump,
)


class ManualClock:
    """A monotonic clock the test moves by hand (drives the device watchdog)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


type DeviceFactory = Callable[..., Awaitable[SimulatedHeatPumpServer[HybridHome]]]


@pytest.fixture
def clock() -> ManualClock:
    """The simulated devices' clock."""
    return ManualClock()


@pytest.fixture
async def simulated_device(clock: ManualClock) -> AsyncIterator[DeviceFactory]:
    """Start simulated heat pumps (time moves only when the test says so)."""
    servers: list[SimulatedHeatPumpServer[HybridHome]] = []

    async def start(
        profile: str = "dacs", **options: Any
    ) -> SimulatedHeatPumpServer[HybridHome]:
        device_id = options.pop("device_id", 1)
        server = build_simulated_heat_pump(
            SimulatedHomeOptions(profile=profile, **options),
            autorun=False,
            clock=clock,
            device_id=device_id,
        )
        await server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        await server.stop()
