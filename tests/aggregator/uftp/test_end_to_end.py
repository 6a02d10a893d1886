"""GOPACS to heat pumps: a UFTP order becomes a cap event and commands through the real broker."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from shapeshifter_uftp import AcceptedRejected, DPrognosis, FlexOffer, FlexOrderResponse

from dacs.aggregator.clock import SystemClock
from dacs.aggregator.config import (
    AggregatorConfig,
    ControlConfig,
    DatabaseConfig,
    MqttConfig,
)
from dacs.aggregator.registry.provisioning import OpenBrokerProvisioner
from dacs.aggregator.service import AggregatorService
from dacs.testbed.grid_peers.gopacs_dso import RequestedIsp
from dacs.testbed.servers import MosquittoBroker
from tests.aggregator.service.conftest import Street, street_of_homes

from .conftest import Keys, uftp_world
from .test_flow import current_isps

ADDRESS = "ea1.2026-11.dso.example.com:tr-1"


@pytest.fixture
async def street(
    mosquitto: MosquittoBroker, database_url: str
) -> AsyncIterator[tuple[AggregatorService, Street]]:
    config = AggregatorConfig(
        database=DatabaseConfig(url=database_url, telemetry_flush_s=0.2),
        mqtt=MqttConfig(host="127.0.0.1", port=mosquitto.port, client_id="aggregator"),
        control=ControlConfig(cycle_s=0.5),
    )
    service = AggregatorService(
        config, clock=SystemClock(), provisioner=OpenBrokerProvisioner()
    )
    await service.start()
    assert await service.link.wait_connected(10)
    async with street_of_homes(service, mosquitto.port, 4) as stack:
        yield service, stack
    await service.stop()


async def _wait(condition: Callable[[], bool], within_s: float) -> None:
    async with asyncio.timeout(within_s):
        while not condition():  # noqa: ASYNC110 - polling live state
            await asyncio.sleep(0.1)


async def test_flex_order_curtails_heat_pumps(
    street: tuple[AggregatorService, Street], tmp_path: Path, keys: Keys
) -> None:
    service, stack = street
    await _wait(
        lambda: all(
            v.device is not None and v.telemetry is not None and v.baseline_w
            for v in service.fleet.homes.values()
        ),
        20,
    )
    async with uftp_world(
        service, tmp_path, keys, congestion_points=(f"{ADDRESS}=tr-1",)
    ) as world:
        period, numbers = current_isps(service.clock.now())
        request = await world.dso.request_flexibility(
            congestion_point=ADDRESS,
            period=period,  # type: ignore[arg-type]
            isps=[RequestedIsp(isp=n, reduction_w=800) for n in numbers],
            now=service.clock.now(),
        )
        offer = await world.dso.wait_for(
            FlexOffer, lambda o: o.flex_request_message_id == request.message_id
        )
        order = await world.dso.order_offer(
            offer, offer.offer_options[0].option_reference
        )
        response = await world.dso.wait_for(FlexOrderResponse)
        assert response.result == AcceptedRejected.ACCEPTED
        event_id = f"uftp-{order.message_id}"
        assert any(
            e.envelope_id == event_id for e in service.controls["tr-1"].envelopes
        )
        # The closed loop turns the cap into limits on the homes, through Mosquitto.
        await _wait(lambda: service.counters.commands_sent > 0, 20)
        await _wait(
            lambda: any(
                s.firmware.limit_w is not None or s.firmware.mode.value != "normal"
                for s, _, _ in stack
            ),
            20,
        )
        report = service.controls["tr-1"].last_report
        assert report is not None
        assert report.cap is not None
        assert report.cap.envelope_id == event_id
        prognosis = await world.dso.wait_for(DPrognosis)
        assert prognosis.congestion_point == ADDRESS
