"""The embedded broker carries the aggregator's traffic where Mosquitto is missing."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import aiomqtt
import pytest

from dacs.aggregator.config import MqttConfig
from dacs.aggregator.mqtt.link import AggregatorLink, ingest_filter
from dacs.protocol import (
    Channel,
    Command,
    CommandReason,
    PowerInterval,
    Telemetry,
    encode,
)
from dacs.testbed.servers import ServiceStartError
from dacs.testbed.servers.embedded_broker import EmbeddedBroker
from dacs.testbed.servers.ports import port_accepts
from tests.aggregator.mqtt.test_link import Collector, _telemetry
from tests.conftest import loopback_sockets

NOW = datetime(2025, 2, 2, 17, 0, tzinfo=UTC)


def test_ingest_filter_without_group_is_a_plain_subscription() -> None:
    assert ingest_filter(Channel.TELEMETRY, "dacs") == "$share/dacs/dacs/v1/+/telemetry"
    assert ingest_filter(Channel.TELEMETRY, "") == "dacs/v1/+/telemetry"


async def test_aggregator_ingests_and_commands_through_the_embedded_broker() -> None:
    broker = EmbeddedBroker()
    with loopback_sockets():
        await asyncio.to_thread(broker.start)
    try:
        assert broker.running
        sink = Collector()
        link = AggregatorLink(
            MqttConfig(
                host="127.0.0.1", port=broker.port, client_id="agg", shared_group=""
            ),
            sink,
        )
        task = asyncio.create_task(link.run())
        try:
            assert await link.wait_connected(10)
            async with aiomqtt.Client(
                "127.0.0.1", broker.port, identifier="home"
            ) as home:
                for seq in range(50):
                    await home.publish(
                        "dacs/v1/h-0001/telemetry",
                        encode(_telemetry("h-0001", seq)),
                        qos=1,
                    )
            async with asyncio.timeout(10):
                while len(sink.messages) < 50:  # noqa: ASYNC110 - the sink has no event
                    await asyncio.sleep(0.02)
            assert [m.seq for m in sink.messages if isinstance(m, Telemetry)] == list(
                range(50)
            )
            command = Command(
                home_id="h-0001",
                command_id="c-1",
                issued_at=NOW,
                expires_at=datetime(2030, 1, 1, tzinfo=UTC),
                reason=CommandReason.TEST,
                envelope=(PowerInterval(start=NOW, duration_s=900, max_power_w=800),),
            )
            await link.publish(command, retain=True)
            # A home that connects later still finds its command.
            async with aiomqtt.Client(
                "127.0.0.1", broker.port, identifier="late-home"
            ) as late:
                await late.subscribe("dacs/v1/h-0001/command", qos=1)
                async with asyncio.timeout(5):
                    message = await anext(aiter(late.messages))
            assert message.retain
            assert b'"c-1"' in bytes(message.payload)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    finally:
        await asyncio.to_thread(broker.cleanup)
    assert not broker.running
    assert not port_accepts(broker.port)


def test_a_taken_port_is_a_clear_start_error() -> None:
    with loopback_sockets(), EmbeddedBroker() as first:
        second = EmbeddedBroker(port=first.port)
        with pytest.raises(ServiceStartError, match=str(first.port)):
            second.start(timeout=5)
        assert not second.running
