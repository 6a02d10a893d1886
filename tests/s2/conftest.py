"""Shared pieces of the S2 tests: a CEM on a free port, a simulated S2 home, waiting."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest

from dacs.devices.s2 import S2Control, S2HeatPump
from dacs.testbed.servers import find_free_port
from dacs.testbed.sim.s2_resource_manager import SimulatedS2HeatPump
from dacs.testbed.sim.simulated_heat_pump import SimulatedHomeOptions, build_home

TOKEN = "pairing-secret"


async def eventually(condition: Callable[[], bool], within_s: float = 5.0) -> None:
    """Wait until ``condition()`` holds; fail the test when it does not in time."""
    async with asyncio.timeout(within_s):
        while not condition():  # noqa: ASYNC110 - the state has no event to wait on
            await asyncio.sleep(0.02)


def cem(control: S2Control = S2Control.PEBC, **options: object) -> S2HeatPump:
    """The home controller's S2 end on a free 127.0.0.1 port."""
    return S2HeatPump(
        "127.0.0.1",
        find_free_port(),
        token=TOKEN,
        control=control,
        connect_timeout=10.0,
        reply_timeout=3.0,
        **options,  # type: ignore[arg-type]
    )


def simulated_device(url: str, **options: object) -> SimulatedS2HeatPump:
    """A simulated hybrid heat pump (2 kW, floor 700 W) dialling ``url``."""
    return SimulatedS2HeatPump(
        build_home(SimulatedHomeOptions()),
        url,
        token=TOKEN,
        speed=60.0,
        measure_s=0.3,
        retry_s=0.1,
        **options,  # type: ignore[arg-type]
    )


@pytest.fixture
async def paired() -> AsyncIterator[tuple[S2HeatPump, SimulatedS2HeatPump]]:
    """Our CEM and our simulated resource manager, paired over PEBC."""
    heat_pump = cem()
    device = simulated_device(heat_pump.url)
    await device.start()
    try:
        await heat_pump.connect()
        yield heat_pump, device
    finally:
        await heat_pump.close()
        await device.stop()
