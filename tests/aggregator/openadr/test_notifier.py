"""The VTN's MQTT notifier wakes the VEN; polling stays the safety net (real Mosquitto)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import pytest

from dacs.aggregator.clock import SystemClock
from dacs.aggregator.openadr.errors import NotifierError
from dacs.aggregator.openadr.notifier import (
    MqttNotifier,
    describe,
    mqtt_notifier,
    subscription_topics,
)
from dacs.aggregator.openadr.ven import OpenAdrVen
from dacs.aggregator.service import AggregatorService
from dacs.testbed.grid_peers.openadr_vtn import (
    OpenAdrTestVtn,
    capacity_limit_event,
    capacity_program,
)
from dacs.testbed.servers.mosquitto import MosquittoBroker
from dacs.testbed.servers.ports import find_free_port

from .conftest import GRID_CP, POINT, RecordedDelivery, ven_config


@pytest.fixture
def clock() -> SystemClock:  # type: ignore[override]  # real time: the timer must not tick
    """Real time, so a 3600 s poll interval really does not poll again."""
    return SystemClock()


@pytest.fixture
async def notifying_vtn(mosquitto: MosquittoBroker) -> AsyncIterator[OpenAdrTestVtn]:
    async with OpenAdrTestVtn(
        mqtt_broker_uri=f"mqtt://{mosquitto.host}:{mosquitto.port}"
    ) as peer:
        yield peer


async def until(condition: Callable[[], bool], timeout_s: float = 5.0) -> None:
    """Wait until ``condition()`` holds; fail after ``timeout_s``."""
    async with asyncio.timeout(timeout_s):
        while not condition():  # noqa: ASYNC110 - polls plain counters, no event to wait on
            await asyncio.sleep(0.05)


def add_limit(vtn: OpenAdrTestVtn, program: str) -> str:
    start = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(hours=1)
    return vtn.add_event(
        capacity_limit_event(program, GRID_CP, start=start, caps_kw=[30, 25])
    )


@asynccontextmanager
async def started_ven(
    vtn: OpenAdrTestVtn, service: AggregatorService, program: str, **changes: object
) -> AsyncIterator[OpenAdrVen]:
    """A VEN that has polled once; stopped when the block ends."""
    ven = OpenAdrVen(
        ven_config(vtn, capacity_program_ids=(program,), **changes),
        service,
        sessions=service.sessions,
        delivered_flex=RecordedDelivery(service.clock),  # type: ignore[arg-type]  # only now() is used
        supervisor=service.supervisor,
    )
    await ven.start()
    try:
        await until(lambda: ven.counters.polls >= 1 and ven.last_success is not None)
        yield ven
    finally:
        await ven.stop()


async def test_notification_applies_a_new_limit_without_waiting_for_the_poll(
    notifying_vtn: OpenAdrTestVtn, service: AggregatorService
) -> None:
    await service.reload()
    program = notifying_vtn.add_program(capacity_program("evening"))
    async with started_ven(
        notifying_vtn, service, program, poll_interval_s=3600
    ) as ven:
        await asyncio.sleep(0.5)  # let the notifier subscribe
        polls = ven.counters.polls
        event_id = add_limit(notifying_vtn, program)
        await until(lambda: len(service.controls[POINT].envelopes) == 1)
        assert ven.counters.notifications >= 1
        assert ven.counters.polls > polls
        assert ven.counters.notifier_errors == 0
        # Deleting the event notifies too: its cap is cancelled at once.
        notifying_vtn.delete_event(event_id)
        await until(lambda: not service.controls[POINT].envelopes)
        # The cap goes first, the VEN's own bookkeeping right after it.
        await until(lambda: ven.counters.events_cancelled == 1)


async def test_a_burst_of_notifications_queues_at_most_one_extra_poll(
    notifying_vtn: OpenAdrTestVtn, service: AggregatorService
) -> None:
    await service.reload()
    program = notifying_vtn.add_program(capacity_program("evening"))
    async with started_ven(
        notifying_vtn, service, program, poll_interval_s=3600
    ) as ven:
        await asyncio.sleep(0.5)
        polls = ven.counters.polls
        topic = f"{notifying_vtn.event_topic(program)}/update"
        for _ in range(20):
            await notifying_vtn.publish(topic, b"{}")
        await until(lambda: ven.counters.notifications == 20)
        await asyncio.sleep(1.0)  # any queued poll has run by now
        assert 1 <= ven.counters.polls - polls < 20


async def test_malformed_notification_only_wakes_a_poll(
    notifying_vtn: OpenAdrTestVtn, service: AggregatorService
) -> None:
    await service.reload()
    program = notifying_vtn.add_program(capacity_program("evening"))
    async with started_ven(
        notifying_vtn, service, program, poll_interval_s=3600
    ) as ven:
        await asyncio.sleep(0.5)
        polls = ven.counters.polls
        topic = f"{notifying_vtn.event_topic(program)}/create"
        await notifying_vtn.publish(topic, b"\xff not json {")
        await notifying_vtn.publish(topic, {"objectType": 7, "object": "x"})
        await until(lambda: ven.counters.notifications == 2)
        await until(lambda: ven.counters.polls > polls)
        assert not service.controls[POINT].envelopes
        assert ven.last_error is None
        # The listener survived: a real event still arrives through it.
        add_limit(notifying_vtn, program)
        await until(lambda: len(service.controls[POINT].envelopes) == 1)


async def test_vtn_without_notifier_is_polled_only(
    vtn: OpenAdrTestVtn, service: AggregatorService, caplog: pytest.LogCaptureFixture
) -> None:
    await service.reload()
    program = vtn.add_program(capacity_program("evening"))
    with caplog.at_level("WARNING", logger="dacs.aggregator.openadr"):
        async with started_ven(vtn, service, program, poll_interval_s=0.2) as ven:
            await until(lambda: "no MQTT binding" in caplog.text)
            assert "MQTT notifiers not offered by this VTN" in ven.status.lines
            add_limit(vtn, program)
            await until(lambda: len(service.controls[POINT].envelopes) == 1)
            assert ven.counters.notifier_errors == 0
            assert ven.counters.notifications == 0


async def test_a_301_vtn_is_polled_only_and_never_asked_for_notifiers(
    service: AggregatorService, caplog: pytest.LogCaptureFixture
) -> None:
    """#19: OpenADR 3.0.1 has no notifiers; the VEN polls without asking for them."""
    await service.reload()
    async with OpenAdrTestVtn(version="3.0.1") as vtn:
        program = vtn.add_program(capacity_program("evening"))
        with caplog.at_level("WARNING", logger="dacs.aggregator.openadr"):
            async with started_ven(vtn, service, program, poll_interval_s=0.2) as ven:
                await until(
                    lambda: "MQTT notifiers not offered by this VTN" in ven.status.lines
                )
                assert "OpenADR 3.0.1 defines no MQTT notifier" in caplog.text
                add_limit(vtn, program)
                await until(lambda: len(service.controls[POINT].envelopes) == 1)
                assert ven.counters.notifier_errors == 0
        assert not any(p.startswith("/notifiers") for p in vtn.request_paths)


async def test_broker_down_keeps_polling_on_the_interval(
    service: AggregatorService,
) -> None:
    await service.reload()
    dead = f"mqtt://127.0.0.1:{find_free_port()}"  # nothing listens there
    async with OpenAdrTestVtn(mqtt_broker_uri=dead) as vtn:
        program = vtn.add_program(capacity_program("evening"))
        async with started_ven(vtn, service, program, poll_interval_s=0.3) as ven:
            await until(lambda: ven.counters.notifier_errors >= 1)
            add_limit(vtn, program)  # its notification cannot be published
            await until(lambda: len(service.controls[POINT].envelopes) == 1)
            assert ven.counters.notifications == 0
            # The timer polls on: supervised, running, never restarted.
            [poll] = [s for s in service.supervisor.states if s.name == "openadr-poll"]
            assert (poll.down, poll.restarts) == (False, 0)


async def test_broker_that_comes_back_is_reconnected(
    notifying_vtn: OpenAdrTestVtn,
    mosquitto: MosquittoBroker,
    service: AggregatorService,
) -> None:
    await service.reload()
    program = notifying_vtn.add_program(capacity_program("evening"))
    async with started_ven(
        notifying_vtn, service, program, poll_interval_s=3600
    ) as ven:
        await asyncio.sleep(0.5)
        mosquitto.stop()
        await until(lambda: ven.counters.notifier_errors >= 1)
        mosquitto.start()
        await asyncio.sleep(3.5)  # back-off 1 s, then 2 s
        add_limit(notifying_vtn, program)
        await until(lambda: len(service.controls[POINT].envelopes) == 1, timeout_s=10)


def test_notifier_binding_is_parsed() -> None:
    anonymous = {
        "WEBHOOK": False,
        "MQTT": {"URIS": ["mqtts://broker.example:8884"], "serialization": "JSON"},
    }
    assert mqtt_notifier(anonymous, client_id="ven") == MqttNotifier(
        host="broker.example", port=8884, tls=True
    )
    bearer = {
        "MQTT": {
            "URIS": ["ws://x", "mqtt://127.0.0.1"],
            "authentication": {
                "method": "OAUTH2_BEARER_TOKEN",
                "username": "{clientID}",
            },
        }
    }
    assert mqtt_notifier(bearer, client_id="ven") == MqttNotifier(
        host="127.0.0.1", port=1883, tls=False, username="ven"
    )
    assert mqtt_notifier({"WEBHOOK": True}, client_id="ven") is None
    assert mqtt_notifier(None, client_id="ven") is None


@pytest.mark.parametrize(
    ("binding", "reason"),
    [
        ({"URIS": ["ws://x"]}, "no mqtt://"),
        ({"URIS": "mqtt://x"}, "no URIS list"),
        ({"URIS": ["mqtt://x"], "serialization": "XML"}, "not JSON"),
        (
            {"URIS": ["mqtt://x"], "authentication": {"method": "CERTIFICATE"}},
            "not supported",
        ),
        ({"URIS": ["mqtt://x:99999"]}, "out of range"),
        ("yes", "not a JSON object"),
    ],
)
def test_unusable_notifier_binding_is_refused(binding: object, reason: str) -> None:
    with pytest.raises(NotifierError, match=reason):
        mqtt_notifier({"MQTT": binding}, client_id="ven")


def test_notification_is_described_for_logs() -> None:
    assert describe(b"\xff").startswith("malformed")
    assert describe(b"[1]") == "malformed (not a JSON object)"
    assert (
        describe(
            b'{"objectType": "EVENT", "operation": "POST", "object": {"id": "e1"}}'
        )
        == "EVENT POST e1"
    )


async def test_per_operation_topics_deliver_when_the_vtn_lists_no_all_topic(
    mosquitto: MosquittoBroker, service: AggregatorService
) -> None:
    """#19 item 5: a VTN that publishes on CREATE/UPDATE/DELETE only is still heard."""
    await service.reload()
    async with OpenAdrTestVtn(
        mqtt_broker_uri=f"mqtt://{mosquitto.host}:{mosquitto.port}", strict=True
    ) as vtn:
        program = vtn.add_program(capacity_program("alerts"))
        async with started_ven(vtn, service, program, poll_interval_s=3600) as ven:
            await asyncio.sleep(0.5)  # let the notifier subscribe
            polls = ven.counters.polls
            add_limit(vtn, program)
            await until(lambda: len(service.controls[POINT].envelopes) == 1)
            assert ven.counters.notifications == 1
            assert ven.counters.polls > polls
            assert ven.counters.notifier_errors == 0


def test_subscription_topics_take_every_listed_topic_once() -> None:
    per_operation = {
        "CREATE": "p/1/create",
        "UPDATE": "p/1/update",
        "DELETE": "p/1/delete",
    }
    assert subscription_topics([per_operation]) == [
        "p/1/create",
        "p/1/update",
        "p/1/delete",
    ]
    # A wildcard ALL covers the others: one subscription, one message per change.
    assert subscription_topics([per_operation | {"ALL": "p/1/+"}]) == ["p/1/+"]
    # A literal ALL covers nothing: subscribe to it as well.
    assert subscription_topics([per_operation | {"ALL": "p/1/all"}]) == [
        "p/1/create",
        "p/1/update",
        "p/1/delete",
        "p/1/all",
    ]
    # Two programs sharing a VTN-wide topic: it is subscribed to once.
    shared = {"UPDATE": "events/update", "DELETE": "events/delete"}
    assert subscription_topics([shared, shared]) == ["events/update", "events/delete"]
