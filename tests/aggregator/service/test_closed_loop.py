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
from dacs.aggregator.domain.envelope import CapacityEnvelope
from dacs.aggregator.registry.provisioning import OpenBrokerProvisioner
from dacs.aggregator.service import AggregatorService
from dacs.aggregator.storage.database import session_factory
from dacs.aggregator.storage.tables import CommandRow, HomeRow
from dacs.testbed.servers import MosquittoBroker

from .conftest import street_of_homes

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
    assert await service.link.wait_connected(10)
    async with street_of_homes(service, mosquitto.port, HOMES) as stack:
        yield service, stack
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
    event = CapacityEnvelope.day_ahead(
        "da-test", service.clock.now(), [cap_kw * 1000] * 2
    )  # 30 minutes
    service.put_in_force_unstored("tr-1", event)

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
    service.controls["tr-1"].withdraw("da-test")
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
