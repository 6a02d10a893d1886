"""The closed loop end to end: aggregator, real broker, home controllers, simulated heat pumps."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from dacs.aggregator.clock import SystemClock
from dacs.aggregator.config import (
    AggregatorConfig,
    ControlConfig,
    DatabaseConfig,
    MqttConfig,
)
from dacs.aggregator.control.profiles import CapEvent
from dacs.aggregator.registry.provisioning import OpenBrokerProvisioner
from dacs.aggregator.service import AggregatorService
from dacs.aggregator.storage.database import session_factory
from dacs.aggregator.storage.tables import CommandRow, HomeRow
from dacs.devices import HeatPump
from dacs.home import BrokerSettings, HomeController
from dacs.services import MosquittoBroker
from dacs.sim.house import DwellingType, InsulationLevel
from dacs.sim.simulated_heat_pump import SimulatedHomeOptions, build_simulated_heat_pump

HOMES = 4


@pytest.fixture
async def neighbourhood(
    mosquitto: MosquittoBroker, tmp_path: Path
) -> AsyncIterator[tuple[AggregatorService, list]]:
    config = AggregatorConfig(
        database=DatabaseConfig(
            url=f"sqlite:///{tmp_path / 'agg.db'}", telemetry_flush_s=0.2
        ),
        mqtt=MqttConfig(host="127.0.0.1", port=mosquitto.port, client_id="aggregator"),
        control=ControlConfig(cycle_s=0.5),
    )
    service = AggregatorService(
        config, clock=SystemClock(), provisioner=OpenBrokerProvisioner()
    )
    await service.start()
    await service.registry.add_congestion_point(
        point_id="tr-1", name="Test", rated_capacity_kw=100, grid_operator="DSO"
    )
    codes = await service.registry.create_codes("tr-1", count=HOMES)
    home_ids = [(await service.registry.enroll(code.code)).home_id for code in codes]
    await service.reload()
    assert await service.link.wait_connected(10)
    stack = []
    for index, home_id in enumerate(home_ids):
        server = build_simulated_heat_pump(
            SimulatedHomeOptions(
                profile="dacs",
                serial=f"S{index}",
                dwelling=DwellingType.DETACHED,
                insulation=InsulationLevel.POOR,
            ),
            speed=10,
        )
        await server.start()
        heat_pump = HeatPump("127.0.0.1", server.port)
        await heat_pump.connect()
        home = HomeController(
            heat_pump,
            home_id=home_id,
            broker=BrokerSettings(
                host="127.0.0.1", port=mosquitto.port, client_id=home_id
            ),
            telemetry_interval_s=0.5,
            poll_interval_s=0.25,
            control_interval_s=0.1,
        )
        await home.start()
        stack.append((server, heat_pump, home))
    yield service, stack
    for server, heat_pump, home in stack:
        await home.stop()
        await heat_pump.close()
        await server.stop()
    await service.stop()


async def _wait(condition: object, within_s: float) -> None:
    async with asyncio.timeout(within_s):
        while not condition():  # type: ignore[operator]  # noqa: ASYNC110 - polling live state
            await asyncio.sleep(0.1)


async def test_event_is_met_and_ends(
    neighbourhood: tuple[AggregatorService, list],
) -> None:
    service, stack = neighbourhood
    await _wait(
        lambda: all(
            v.device is not None and v.telemetry is not None
            for v in service.fleet.homes.values()
        ),
        15,
    )
    load = sum(server.plant.hp_electric_w for server, _, _ in stack)
    assert load > 2000
    cap_kw = (load - 1500) / 1000
    event = CapEvent.day_ahead(
        "da-test", service.clock.now(), [cap_kw] * 2
    )  # 30 minutes
    service.add_event("tr-1", event)

    def heat_pumps_under_cap() -> bool:
        return (
            sum(server.plant.hp_electric_w for server, _, _ in stack)
            <= cap_kw * 1000 + 50
        )

    await _wait(heat_pumps_under_cap, 20)
    limited = [
        server
        for server, _, _ in stack
        if server.firmware.limit_w is not None or server.firmware.mode.value != "normal"
    ]
    assert limited
    # Acks and commands are in the database, telemetry is stored.
    async with session_factory(service.engine)() as session:
        commands = (await session.execute(select(CommandRow))).scalars().all()
        homes = (await session.execute(select(HomeRow))).scalars().all()
    assert commands
    await _wait(lambda: service.counters.telemetry_written > 0, 5)
    assert all(h.device is not None for h in homes)
    # A resident steps out: the aggregator re-allocates around that home.
    _, _, home = next((s, h, c) for s, h, c in stack if s in limited)
    await home.set_participation(False)
    await _wait(heat_pumps_under_cap, 20)
    # The event is cancelled: every home is released (staggered, within seconds here).
    service.controls["tr-1"].remove_event("da-test")
    await _wait(
        lambda: all(
            s.firmware.limit_w is None and s.firmware.mode.value == "normal"
            for s, _, _ in stack
        ),
        20,
    )
    assert service.counters.commands_sent >= 1
    assert service.counters.unknown_homes == 0
    assert timedelta(0) <= service.clock.now() - event.start
