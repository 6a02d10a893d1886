"""Fixtures for the home controller: a simulated heat pump, a real broker, an aggregator probe."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
import json
from typing import Any

import aiomqtt
import pytest

from dacs.devices import HeatPump
from dacs.home import BrokerSettings, HomeController
from dacs.protocol import Command, CommandReason, PowerInterval, encode
from dacs.testbed.servers import MosquittoBroker
from dacs.testbed.sim.hybrid import HybridHome
from dacs.testbed.sim.server import SimulatedHeatPumpServer
from dacs.testbed.sim.simulated_heat_pump import (
    SimulatedHomeOptions,
    build_simulated_heat_pump,
)

HOME = "h-0042"


@dataclass
class AggregatorProbe:
    """Plays the aggregator on the broker: sends commands, collects what homes say."""

    client: aiomqtt.Client
    received: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def send(self, message: Any, *, retain: bool = True) -> None:
        await self.client.publish(
            f"dacs/v1/{message.home_id}/command", encode(message), qos=1, retain=retain
        )

    async def send_raw(self, payload: bytes, home: str = HOME) -> None:
        await self.client.publish(f"dacs/v1/{home}/command", payload, qos=1)

    def mark(self) -> int:
        """A bookmark: wait_for(..., since=mark) looks only at later messages."""
        return len(self.received)

    async def wait_for(
        self,
        channel: str,
        predicate: Callable[[dict[str, Any]], bool] = lambda _m: True,
        within_s: float = 10,
        since: int = 0,
    ) -> dict[str, Any]:
        async with asyncio.timeout(within_s):
            while True:
                for name, message in self.received[since:]:
                    if name.endswith("/" + channel) and predicate(message):
                        return message
                self.arrived.clear()
                await self.arrived.wait()

    def of(self, channel: str) -> list[dict[str, Any]]:
        return [m for name, m in self.received if name.endswith("/" + channel)]


@pytest.fixture
async def probe(mosquitto: MosquittoBroker) -> AsyncIterator[AggregatorProbe]:
    async with aiomqtt.Client(
        "127.0.0.1", mosquitto.port, identifier="probe"
    ) as client:
        found = AggregatorProbe(client)
        await client.subscribe("dacs/v1/#", qos=1)

        async def collect() -> None:
            async for message in client.messages:
                try:
                    document = json.loads(bytes(message.payload))
                except ValueError:
                    continue  # e.g. the garbage a test itself published
                found.received.append((str(message.topic), document))
                found.arrived.set()

        task = asyncio.create_task(collect())
        yield found
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


@pytest.fixture
async def simulated() -> AsyncIterator[SimulatedHeatPumpServer[HybridHome]]:
    server = build_simulated_heat_pump(SimulatedHomeOptions(profile="dacs"), speed=60)
    async with server:
        yield server


@asynccontextmanager
async def running_home(
    broker_port: int, device_port: int, **options: Any
) -> AsyncIterator[HomeController]:
    """A started home controller, connected to the broker; stopped afterwards."""
    heat_pump = HeatPump("127.0.0.1", device_port, timeout=2)
    await heat_pump.connect()
    home = HomeController(
        heat_pump,
        home_id=HOME,
        broker=BrokerSettings(
            host="127.0.0.1", port=broker_port, client_id=f"home-{HOME}"
        ),
        **({"poll_interval_s": 0.2, "control_interval_s": 0.1} | options),
    )
    await home.start()
    try:
        assert home.link is not None
        assert await home.link.wait_connected(10)
        yield home
    finally:
        await home.stop()
        await heat_pump.close()


@pytest.fixture
async def controller(
    mosquitto: MosquittoBroker, simulated: SimulatedHeatPumpServer[HybridHome]
) -> AsyncIterator[HomeController]:
    async with running_home(
        mosquitto.port, simulated.port, telemetry_interval_s=0.3
    ) as home:
        yield home


def make_command(
    command_id: str,
    cap: float,
    *,
    minutes: float = 30,
    start_in_s: float = 0,
    expires_in_s: float | None = None,
    home: str = HOME,
    issued_at: datetime | None = None,
) -> Command:
    now = datetime.now(UTC)
    start = now + timedelta(seconds=start_in_s)
    duration = max(60, round(minutes * 60))
    return Command(
        home_id=home,
        command_id=command_id,
        issued_at=issued_at or now,
        expires_at=now
        + timedelta(
            seconds=expires_in_s if expires_in_s is not None else start_in_s + duration
        ),
        reason=CommandReason.CONGESTION,
        envelope=(PowerInterval(start=start, duration_s=duration, max_power_w=cap),),
    )
