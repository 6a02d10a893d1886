"""Shared-subscription ingest on a real broker, and refusal of bad input."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import aiomqtt
import pytest

from dacs.aggregator.config import MqttConfig
from dacs.aggregator.mqtt.link import AggregatorLink, MessageSink
from dacs.protocol import (
    Ack,
    AckReason,
    AckResult,
    Command,
    CommandReason,
    LimitSource,
    Participation,
    PowerInterval,
    Preferences,
    Receipt,
    Status,
    Telemetry,
    decode,
    encode,
)
from dacs.testbed.servers import MosquittoBroker

NOW = datetime(2025, 2, 2, 17, 0, tzinfo=UTC)


class Collector(MessageSink):
    def __init__(self) -> None:
        self.messages: list[object] = []

    async def on_telemetry(self, message: Telemetry) -> None:
        self.messages.append(message)

    async def on_status(self, message: Status) -> None:
        self.messages.append(message)

    async def on_preferences(self, message: Preferences) -> None:
        self.messages.append(message)

    async def on_ack(self, message: Ack) -> None:
        self.messages.append(message)


def _telemetry(home: str, seq: int) -> Telemetry:
    return Telemetry(
        home_id=home,
        seq=seq,
        boot_id="b",
        ts=NOW,
        electric_power_w=900.0,
        thermal_power_w=None,
        boiler_active=None,
        boiler_thermal_w=None,
        indoor_temp_c=20.0,
        outdoor_temp_c=0.0,
        flow_temp_c=None,
        electric_energy_kwh=None,
        limit_w=None,
        limit_source=LimitSource.NONE,
        command_id=None,
        participation=Participation.ON,
        comfort_override=False,
        device_fault=None,
    )


async def test_two_instances_split_the_ingest(mosquitto: MosquittoBroker) -> None:
    sinks = [Collector(), Collector()]
    links = [
        AggregatorLink(
            MqttConfig(host="127.0.0.1", port=mosquitto.port, client_id=f"agg-{i}"),
            sink,
        )
        for i, sink in enumerate(sinks)
    ]
    tasks = [asyncio.create_task(link.run()) for link in links]
    try:
        assert all([await link.wait_connected(10) for link in links])
        async with aiomqtt.Client(
            "127.0.0.1", mosquitto.port, identifier="home"
        ) as home:
            for seq in range(200):
                await home.publish(
                    "dacs/v1/h-0001/telemetry", encode(_telemetry("h-0001", seq)), qos=1
                )
            ack = Ack(
                home_id="h-0001",
                command_id="c-1",
                ts=NOW,
                result=AckResult.ACCEPTED,
                reason_code=AckReason.OK,
            )
            await home.publish("dacs/v1/h-0001/ack", encode(ack), qos=1)
        async with asyncio.timeout(10):
            while sum(len(s.messages) for s in sinks) < 201:  # noqa: ASYNC110 - sinks have no event
                await asyncio.sleep(0.05)
        seqs = sorted(
            m.seq for s in sinks for m in s.messages if isinstance(m, Telemetry)
        )
        assert seqs == list(range(200))  # each message to exactly one instance
        assert all(s.messages for s in sinks)  # and both instances got work
        # Commands go out retained, for the home to find after a restart.
        command = Command(
            home_id="h-0001",
            command_id="c-9",
            issued_at=NOW,
            expires_at=datetime(2030, 1, 1, tzinfo=UTC),
            reason=CommandReason.TEST,
            envelope=(PowerInterval(start=NOW, duration_s=900, max_power_w=800),),
        )
        await links[0].publish(command, retain=True)
        async with aiomqtt.Client(
            "127.0.0.1", mosquitto.port, identifier="late-home"
        ) as late:
            await late.subscribe("dacs/v1/h-0001/command", qos=1)
            async with asyncio.timeout(5):
                message = await anext(aiter(late.messages))
            assert message.retain
            assert b'"c-9"' in bytes(message.payload)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def test_bad_input_is_counted_not_raised() -> None:
    sink = Collector()
    link = AggregatorLink(MqttConfig(), sink)
    await link.dispatch("dacs/v1/h-0001/telemetry", b"{not json")
    await link.dispatch("dacs/v1/h-0001/telemetry", b'{"v": 1, "type": "telemetry"}')
    await link.dispatch(
        "dacs/v1/h-0001/telemetry", encode(_telemetry("h-0002", 0))
    )  # claims another home
    await link.dispatch("somewhere/else", b"{}")
    await link.dispatch("dacs/v1/h-0001/ack", b"")  # a cleared retained message
    assert sink.messages == []
    assert link.counters.refused == 3
    assert link.counters.wrong_home == 1
    await link.dispatch("dacs/v1/h-0001/telemetry", encode(_telemetry("h-0001", 0)))
    assert len(sink.messages) == 1


async def test_publish_while_disconnected_raises() -> None:
    link = AggregatorLink(MqttConfig(), Collector())
    command = Command(
        home_id="h-0001",
        command_id="c",
        issued_at=NOW,
        expires_at=datetime(2030, 1, 1, tzinfo=UTC),
        reason=CommandReason.TEST,
        envelope=(PowerInterval(start=NOW, duration_s=900, max_power_w=800),),
    )
    with pytest.raises(ConnectionError, match="not connected"):
        await link.publish(command)


async def test_poison_numbers_are_refused_and_ingest_goes_on() -> None:
    """One hostile telemetry message (a 400-digit number, NaN) stops nothing."""
    sink = Collector()
    link = AggregatorLink(MqttConfig(), sink)
    good = encode(_telemetry("h-0001", 0)).decode()
    for poison in ("1" + "0" * 400, "NaN", "1e999", "9" * 5000):
        payload = good.replace(
            '"electric_energy_kwh":null', f'"electric_energy_kwh":{poison}'
        )
        assert payload != good
        await link.dispatch("dacs/v1/h-0001/telemetry", payload.encode())
    assert link.counters.refused == 4
    assert sink.messages == []
    await link.dispatch("dacs/v1/h-0001/telemetry", encode(_telemetry("h-0001", 1)))
    assert len(sink.messages) == 1


async def test_a_decoder_bug_loses_one_message_not_the_ingest(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sink = Collector()
    link = AggregatorLink(MqttConfig(), sink)

    def broken(payload: bytes, *, channel: object = None) -> object:
        raise KeyError("a bug")

    monkeypatch.setattr("dacs.aggregator.mqtt.link.decode", broken)
    await link.dispatch("dacs/v1/h-0001/telemetry", encode(_telemetry("h-0001", 0)))
    assert link.counters.refused == 1
    monkeypatch.undo()
    await link.dispatch("dacs/v1/h-0001/telemetry", encode(_telemetry("h-0001", 1)))
    assert len(sink.messages) == 1


async def test_a_refused_retained_message_is_cleared(
    mosquitto: MosquittoBroker,
) -> None:
    """A poison message a home left retained would be refused after every restart."""
    topic = "dacs/v1/h-0001/telemetry"
    async with aiomqtt.Client("127.0.0.1", mosquitto.port, identifier="home") as home:
        await home.publish(topic, b'{"v": 1, "seq": NaN}', qos=1, retain=True)
    sink = Collector()
    link = AggregatorLink(
        MqttConfig(host="127.0.0.1", port=mosquitto.port, client_id="agg-clear"),
        sink,
    )
    task = asyncio.create_task(link.run())
    try:
        assert await link.wait_connected(10)
        async with asyncio.timeout(10):
            while link.counters.refused < 1:  # noqa: ASYNC110 - counters have no event
                await asyncio.sleep(0.05)
        # A newcomer finds nothing retained on the topic any more.
        async with asyncio.timeout(10):
            while True:
                async with aiomqtt.Client(
                    "127.0.0.1", mosquitto.port, identifier="newcomer"
                ) as newcomer:
                    await newcomer.subscribe(topic, qos=1)
                    try:
                        async with asyncio.timeout(0.5):
                            retained = await anext(aiter(newcomer.messages))
                    except TimeoutError:
                        break  # nothing retained
                    assert retained.payload == b"" or retained.retain
                await asyncio.sleep(0.1)
        assert link.counters.refused == 1  # refused once, not again and again
        assert sink.messages == []
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_receipts_go_out_at_qos_0_and_never_wait_for_a_connection(
    mosquitto: MosquittoBroker,
) -> None:
    receipts = [
        Receipt(home_id=home, boot_id="b", ts=NOW, stored=((0, 4),))
        for home in ("h-0001", "h-0002")
    ]
    link = AggregatorLink(
        MqttConfig(host="127.0.0.1", port=mosquitto.port, client_id="agg-receipts"),
        Collector(),
    )
    assert await link.publish_receipts(receipts) == 0  # not connected: dropped
    home = aiomqtt.Client("127.0.0.1", mosquitto.port, identifier="home-one")
    async with home, _connected(link):
        await home.subscribe("dacs/v1/h-0001/receipt", qos=1)
        assert await link.publish_receipts(receipts) == 2
        async with asyncio.timeout(5):
            message = await anext(aiter(home.messages))
    assert message.qos == 0
    assert not message.retain
    assert decode(bytes(message.payload)) == receipts[0]  # type: ignore[arg-type]


@asynccontextmanager
async def _connected(link: AggregatorLink) -> AsyncIterator[None]:
    """The link running and connected; stopped afterwards."""
    task = asyncio.create_task(link.run())
    try:
        assert await link.wait_connected(10)
        yield
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_a_home_sending_refused_messages_is_quarantined_then_heard_again() -> (
    None
):
    sink = Collector()
    link = AggregatorLink(
        MqttConfig(
            home_quarantine_refusals=3,
            home_quarantine_window_s=60,
            home_quarantine_s=600,
        ),
        sink,
    )
    clock = [1000.0]
    link.quarantine.clock = lambda: clock[0]
    for _ in range(3):
        await link.dispatch("dacs/v1/h-0001/telemetry", b"{not json")
    assert link.quarantine.quarantined == {"h-0001": 600.0}
    assert link.quarantine.take_changes() == [("h-0001", True)]
    # Dropped unread, valid or not; other homes are heard.
    await link.dispatch("dacs/v1/h-0001/telemetry", encode(_telemetry("h-0001", 0)))
    await link.dispatch("dacs/v1/h-0001/telemetry", b"{not json")
    await link.dispatch("dacs/v1/h-0002/telemetry", encode(_telemetry("h-0002", 0)))
    assert [m.home_id for m in sink.messages] == ["h-0002"]
    assert (link.counters.refused, link.quarantine.dropped) == (3, 2)
    # Released once its time is up: heard again, the release reported.
    clock[0] += 600
    await link.dispatch("dacs/v1/h-0001/telemetry", encode(_telemetry("h-0001", 1)))
    assert [m.home_id for m in sink.messages] == ["h-0002", "h-0001"]
    assert link.quarantine.take_changes() == [("h-0001", False)]
    assert (link.quarantine.quarantined_total, link.quarantine.released_total) == (1, 1)


async def test_refusals_spread_wider_than_the_window_quarantine_nobody() -> None:
    link = AggregatorLink(MqttConfig(home_quarantine_refusals=3), Collector())
    clock = [0.0]
    link.quarantine.clock = lambda: clock[0]
    for _ in range(10):
        await link.dispatch("dacs/v1/h-0001/telemetry", b"{not json")
        clock[0] += 31  # two refusals in any 60 s, never three
    assert link.quarantine.quarantined == {}
    assert link.counters.refused == 10
