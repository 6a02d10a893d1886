"""A street of homes for the service tests: simulated heat pumps, home controllers, one broker."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from dacs.aggregator.service import AggregatorService
from dacs.devices import HeatPump
from dacs.home import BrokerSettings, HomeController
from dacs.testbed.sim.house import DwellingType, InsulationLevel
from dacs.testbed.sim.simulated_heat_pump import (
    SimulatedHomeOptions,
    build_simulated_heat_pump,
)

type Street = list[tuple[Any, HeatPump, HomeController]]


@asynccontextmanager
async def homes_on_broker(
    broker_port: int,
    home_ids: list[str],
    *,
    home_class: type[HomeController] = HomeController,
    **controller: Any,
) -> AsyncIterator[Street]:
    """Run each home with a simulated heat pump, linked to the broker.

    ``controller`` overrides the home controllers' intervals and options;
    ``home_class`` may be a controller that records more (the failover test's).
    """
    options = {
        "telemetry_interval_s": 0.5,
        "poll_interval_s": 0.25,
        "control_interval_s": 0.1,
    } | controller
    stack: Street = []
    try:
        for index, home_id in enumerate(home_ids):
            server = build_simulated_heat_pump(
                SimulatedHomeOptions(
                    serial=f"S{index}",
                    dwelling=DwellingType.DETACHED,
                    insulation=InsulationLevel.POOR,
                ),
                speed=10,
            )
            await server.start()
            heat_pump = HeatPump("127.0.0.1", server.port)
            await heat_pump.connect()
            home = home_class(
                heat_pump,
                home_id=home_id,
                broker=BrokerSettings(
                    host="127.0.0.1", port=broker_port, client_id=home_id
                ),
                **options,
            )
            await home.start()
            stack.append((server, heat_pump, home))
        yield stack
    finally:
        for server, heat_pump, home in stack:
            await home.stop()
            await heat_pump.close()
            await server.stop()


@asynccontextmanager
async def street_of_homes(
    service: AggregatorService, broker_port: int, homes: int, point_id: str = "tr-1"
) -> AsyncIterator[Street]:
    """Enroll ``homes`` homes behind ``point_id`` and run each with a simulated heat pump."""
    await service.registry.add_congestion_point(
        point_id=point_id,
        name="Test street",
        rated_capacity_kw=100,
        grid_operator="DSO",
    )
    codes = await service.registry.create_codes(point_id, count=homes)
    home_ids = [(await service.registry.enroll(code.code)).home_id for code in codes]
    await service.reload()
    async with homes_on_broker(broker_port, home_ids) as stack:
        yield stack
