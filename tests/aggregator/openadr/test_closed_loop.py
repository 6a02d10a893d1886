"""An OpenADR capacity limit reaches the heat pumps: VTN -> VEN -> control loop -> MQTT -> homes."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from dacs.aggregator.clock import SystemClock
from dacs.aggregator.config import (
    AggregatorConfig,
    ControlConfig,
    DatabaseConfig,
    MqttConfig,
)
from dacs.aggregator.openadr.ven import OpenAdrVen
from dacs.aggregator.registry.provisioning import OpenBrokerProvisioner
from dacs.aggregator.service import AggregatorService
from dacs.testbed.grid_peers.openadr_vtn import (
    OpenAdrTestVtn,
    capacity_limit_event,
    capacity_program,
)
from dacs.testbed.servers import MosquittoBroker
from tests.aggregator.service.conftest import street_of_homes

from .conftest import GRID_CP, POINT, ven_config


async def _wait(condition: Callable[[], bool], within_s: float) -> None:
    async with asyncio.timeout(within_s):
        while not condition():  # noqa: ASYNC110 - polling live state
            await asyncio.sleep(0.1)


async def test_openadr_limit_reaches_the_homes(
    mosquitto: MosquittoBroker, vtn: OpenAdrTestVtn, database_url: str
) -> None:
    service = AggregatorService(
        AggregatorConfig(
            database=DatabaseConfig(url=database_url, telemetry_flush_s=0.2),
            mqtt=MqttConfig(
                host="127.0.0.1", port=mosquitto.port, client_id="aggregator"
            ),
            control=ControlConfig(cycle_s=0.5),
        ),
        clock=SystemClock(),
        provisioner=OpenBrokerProvisioner(),
    )
    await service.start()
    try:
        assert await service.link.wait_connected(10)
        async with street_of_homes(service, mosquitto.port, 3, point_id=POINT) as stack:
            await _wait(
                lambda: all(
                    v.device is not None and v.telemetry is not None
                    for v in service.fleet.homes.values()
                ),
                15,
            )
            load_w = sum(server.plant.hp_electric_w for server, _, _ in stack)
            assert load_w > 1500
            cap_kw = round((load_w - 1000) / 1000, 2)
            program = vtn.add_program(capacity_program("evening"))
            vtn.add_event(
                capacity_limit_event(
                    program, GRID_CP, start=service.clock.now(), caps_kw=[cap_kw] * 2
                )
            )
            ven = OpenAdrVen(
                ven_config(vtn, capacity_program_ids=(program,)),
                service,
                sessions=service.sessions,
                delivered_flex=lambda *_: asyncio.sleep(0, result=[]),
            )
            assert await ven.poll()

            def under_cap() -> bool:
                return (
                    sum(server.plant.hp_electric_w for server, _, _ in stack)
                    <= cap_kw * 1000 + 50
                )

            await _wait(under_cap, 20)
            assert any(
                server.firmware.limit_w is not None
                or server.firmware.mode.value != "normal"
                for server, _, _ in stack
            )
            assert service.counters.commands_sent >= 1
    finally:
        await service.stop()
