"""The link's publish window: bounded, and nothing lost when the broker goes away."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
import time
from typing import Any

import aiomqtt
import pytest

from dacs.aggregator.config import MqttConfig
from dacs.aggregator.mqtt.link import AggregatorLink, MessageSink, PublishError
from dacs.protocol import Channel, Command, CommandReason, PowerInterval, decode
from dacs.testbed.servers import MosquittoBroker

NOW = datetime(2025, 2, 2, 17, 0, tzinfo=UTC)


def _commands(count: int, prefix: str = "c") -> list[Command]:
    return [
        Command(
            home_id=f"h-{i:04d}",
            command_id=f"{prefix}-{i}",
            issued_at=NOW,
            expires_at=NOW + timedelta(days=3650),
            reason=CommandReason.CONGESTION,
            envelope=(PowerInterval(start=NOW, duration_s=900, max_power_w=800),),
        )
        for i in range(count)
    ]


@pytest.fixture
def persistent_broker() -> Iterator[MosquittoBroker]:
    """A broker that keeps retained messages across a stop and start."""
    broker = MosquittoBroker(persistence=True)
    broker.start()
    try:
        yield broker
    finally:
        broker.cleanup()


@asynccontextmanager
async def _running(link: AggregatorLink) -> AsyncIterator[AggregatorLink]:
    task = asyncio.create_task(link.run())
    try:
        assert await link.wait_connected(10)
        yield link
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def _link(broker: MosquittoBroker, window: int) -> AggregatorLink:
    return AggregatorLink(
        MqttConfig(host="127.0.0.1", port=broker.port, client_id="agg"),
        MessageSink(),
        publish_window=window,
    )


async def _retained_commands(broker: MosquittoBroker, expected: int) -> dict[str, str]:
    """Home id -> command id of every retained command a new subscriber gets."""
    found: dict[str, str] = {}
    async with aiomqtt.Client(
        "127.0.0.1", broker.port, identifier="late-homes"
    ) as homes:
        await homes.subscribe("dacs/v1/+/command", qos=1)
        async with asyncio.timeout(10):
            async for message in homes.messages:
                command = decode(bytes(message.payload), channel=Channel.COMMAND)
                assert isinstance(command, Command)
                found[command.home_id] = command.command_id
                if len(found) == expected:
                    break
    return found


def _spy_on_publish(
    monkeypatch: pytest.MonkeyPatch, before: Callable[[int], None] | None = None
) -> dict[str, int]:
    """Count aiomqtt publishes awaiting their PUBACK; ``before`` sees each call's number."""
    seen = {"now": 0, "most": 0, "calls": 0}
    original: Callable[..., Awaitable[None]] = aiomqtt.Client.publish

    async def counting(self: aiomqtt.Client, *args: Any, **kwargs: Any) -> None:
        seen["calls"] += 1
        if before is not None:
            before(seen["calls"])
        seen["now"] += 1
        seen["most"] = max(seen["most"], seen["now"])
        try:
            await original(self, *args, **kwargs)
        finally:
            seen["now"] -= 1

    monkeypatch.setattr(aiomqtt.Client, "publish", counting)
    return seen


async def test_window_bounds_publishes_in_flight(
    mosquitto: MosquittoBroker, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = _spy_on_publish(monkeypatch)
    async with _running(_link(mosquitto, window=5)) as link:
        commands = _commands(300)
        # A fan-out and single publishes at the same time share one window.
        fan_out = asyncio.create_task(link.publish_all(commands[:250], retain=True))
        await asyncio.gather(*(link.publish(c, retain=True) for c in commands[250:]))
        delivery = await fan_out
    assert seen["most"] == 5  # never more, and the window is really used
    assert seen["calls"] == 300
    assert len(delivery.confirmed) == 250
    assert not delivery.unconfirmed
    assert not delivery.failed
    retained = await _retained_commands(mosquitto, 300)
    assert retained == {c.home_id: c.command_id for c in commands}


async def test_publish_needs_a_connection(mosquitto: MosquittoBroker) -> None:
    link = _link(mosquitto, window=5)
    with pytest.raises(PublishError, match="not connected"):
        await link.publish(_commands(1)[0])
    delivery = await link.publish_all(_commands(3))
    assert len(delivery.unconfirmed) == 3
    assert not delivery.confirmed


def test_window_must_hold_one_message(mosquitto: MosquittoBroker) -> None:
    with pytest.raises(ValueError, match="publish_window"):
        _link(mosquitto, window=0)


async def test_broker_lost_mid_fan_out_loses_no_command(
    persistent_broker: MosquittoBroker, monkeypatch: pytest.MonkeyPatch
) -> None:
    broker = persistent_broker

    def stop_broker_at_the_200th(call: int) -> None:
        if call == 200:
            broker.stop()

    _spy_on_publish(monkeypatch, stop_broker_at_the_200th)
    commands = _commands(1000)
    link = _link(broker, window=50)
    task = asyncio.create_task(link.run())
    try:
        assert await link.wait_connected(10)
        started = time.monotonic()
        delivery = await link.publish_all(commands, retain=True)
        # The lost connection ends the waits for a PUBACK at once, not after
        # the publish timeout (10 s).
        assert time.monotonic() - started < 5
        assert 0 < len(delivery.confirmed) < 200
        assert len(delivery.confirmed) + len(delivery.unconfirmed) == 1000
        assert not delivery.failed
        broker.start()
        assert await link.wait_connected(30)
        again = await link.publish_all(delivery.unconfirmed, retain=True)
        assert len(again.confirmed) == len(delivery.unconfirmed)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    # What the broker confirmed before it stopped survived it; the rest came
    # after the reconnect: every home has its command.
    retained = await _retained_commands(broker, 1000)
    assert retained == {c.home_id: c.command_id for c in commands}
