"""Faults during an event: the aggregator restarts, the broker restarts."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

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
from dacs.testbed.servers import MosquittoBroker

from .conftest import street_of_homes

HOMES = 4


def _config(tmp_path: Path, broker: MosquittoBroker) -> AggregatorConfig:
    return AggregatorConfig(
        database=DatabaseConfig(
            url=f"sqlite:///{tmp_path / 'agg.db'}", telemetry_flush_s=0.2
        ),
        mqtt=MqttConfig(host="127.0.0.1", port=broker.port, client_id="aggregator"),
        control=ControlConfig(cycle_s=0.5),
    )


async def _wait(condition: Any, within_s: float) -> None:
    async with asyncio.timeout(within_s):
        while not condition():  # noqa: ASYNC110 - polling live state
            await asyncio.sleep(0.1)


@pytest.fixture
async def street(
    tmp_path: Path,
) -> AsyncIterator[tuple[MosquittoBroker, AggregatorService, list[Any]]]:
    broker = MosquittoBroker(persistence=True)
    broker.start()
    service = AggregatorService(
        _config(tmp_path, broker),
        clock=SystemClock(),
        provisioner=OpenBrokerProvisioner(),
    )
    await service.start()
    async with street_of_homes(service, broker.port, HOMES) as stack:
        yield broker, service, stack
    await service.stop()
    broker.cleanup()


def _limited(stack: list[Any]) -> list[str]:
    return [
        s.firmware.identity.serial
        for s, _, _ in stack
        if s.firmware.limit_w is not None or s.firmware.mode.value != "normal"
    ]


async def test_aggregator_restart_mid_event(street: Any, tmp_path: Path) -> None:
    broker, service, stack = street
    await _wait(
        lambda: all(
            v.telemetry is not None and v.device is not None
            for v in service.fleet.homes.values()
        ),
        15,
    )
    load = sum(s.plant.hp_electric_w for s, _, _ in stack)
    event = CapacityEnvelope.day_ahead(
        "da-restart", service.clock.now(), [load - 1500] * 4
    )
    await service.put_in_force("tr-1", event)
    await _wait(lambda: len(_limited(stack)) > 0, 20)
    await asyncio.sleep(2)  # let the allocation settle
    limited_before = set(_limited(stack))
    commands_before = {
        h: v.command.command_id for h, v in service.fleet.homes.items() if v.command
    }
    await service.stop()  # the aggregator goes away in the middle of the event
    await asyncio.sleep(1.5)
    assert set(_limited(stack)) == limited_before  # nobody was released early
    revived = AggregatorService(
        _config(tmp_path, broker),
        clock=SystemClock(),
        provisioner=OpenBrokerProvisioner(),
    )
    await revived.start()
    try:
        # Events, homes and the commands in force come back from the database.
        assert [e.envelope_id for e in revived.controls["tr-1"].envelopes] == [
            "da-restart"
        ]
        assert len(revived.fleet.homes) == HOMES
        assert {
            h: v.command.command_id for h, v in revived.fleet.homes.items() if v.command
        } == commands_before
        await _wait(
            lambda: all(v.telemetry is not None for v in revived.fleet.homes.values()),
            10,
        )
        await asyncio.sleep(2)  # several control cycles
        # No command sent twice: homes whose limit did not change got nothing new.
        assert revived.counters.commands_sent <= 1
        assert set(_limited(stack)) == limited_before
    finally:
        await revived.stop()


async def test_broker_restart_mid_event(street: Any) -> None:
    broker, service, stack = street
    await _wait(
        lambda: all(
            v.telemetry is not None and v.device is not None
            for v in service.fleet.homes.values()
        ),
        15,
    )
    load = sum(s.plant.hp_electric_w for s, _, _ in stack)
    await service.put_in_force(
        "tr-1",
        CapacityEnvelope.day_ahead("da-broker", service.clock.now(), [load - 1500] * 4),
    )
    await _wait(lambda: len(_limited(stack)) > 0, 20)
    received = service.counters.telemetry_received
    broker.stop()
    await _wait(lambda: not service.link.connected, 10)
    assert _limited(stack)  # commands stay in force while the broker is away
    broker.start()
    await _wait(
        lambda: service.link.connected, 30
    )  # reconnects and re-subscribes by itself
    await _wait(lambda: service.counters.telemetry_received > received + HOMES, 30)
    # And it can still steer: an emergency stop reaches every home.
    await service.put_in_force(
        "tr-1",
        CapacityEnvelope.emergency_stop(
            "stop", service.clock.now(), timedelta(minutes=10)
        ),
    )
    await _wait(lambda: len(_limited(stack)) == HOMES, 20)
