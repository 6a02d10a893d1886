"""Command fan-out to 10,000 homes through a real Mosquitto, and their acks back.

The aggregator side is the real ``AggregatorLink``: it publishes one
``Command`` per home (QoS 1, retained, as the service does) and takes the acks
in through its shared subscription, decoding each one. Ten thousand Python
clients cannot run on two cores, so a few "home multiplexer" processes stand
in for the homes: each subscribes to its share of the homes' command topics
and, per command, does what a home does on the wire (decode the command with
``dacs.protocol.decode``, build an ``Ack``, publish it on that home's ack
topic with QoS 1). Latency is per home, from the start of the fan-out (all
10,000 commands ready) to the moment the link hands the decoded ack to its
sink; the latency from each home's own publish call is in the notes.

Baseline: one publisher and one echo client (paho, Nagle off), the same
message sizes, QoS 1, one message at a time: the broker's raw publish -> echo
round trip.

More runs say where the time goes: the same fan-out with no protocol work
(homes echo a pre-encoded ack, a bare aiomqtt client only counts them), once
with Nagle's algorithm on the aggregator's socket as the link has it (paho
does not set TCP_NODELAY) and once with it off (aiomqtt's ``socket_options``);
and a sample of the service's own pattern, one awaited publish per command
while acks come back (``AggregatorService._send``).

The simulated homes and the baseline switch Nagle off, as the broker does for
its side (``set_tcp_nodelay``): a multiplexer's socket carries what would be
thousands of separate connections.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
import contextlib
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from functools import partial
import itertools
import logging
import multiprocessing
from multiprocessing.queues import Queue
import queue
import socket
import statistics
import threading
import time

import aiomqtt
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from dacs.aggregator.config import MqttConfig
from dacs.aggregator.mqtt.link import AggregatorLink, MessageSink
from dacs.protocol import (
    Ack,
    AckReason,
    AckResult,
    Channel,
    Command,
    CommandReason,
    PowerInterval,
    decode,
    encode,
    parse_topic,
    topic,
    wildcard,
)
from dacs.services import MosquittoBroker

from .harness import BenchResult

HOMES = 10_000
GOAL_P99_S = 2.0
# Two cores: one process of simulated homes per core, the aggregator and the
# broker share them. More processes only add contention.
_HOME_PROCESSES = 2
_SUBSCRIBE_CHUNK = 500
_BASELINE_ROUNDS = 500
# Publishes awaiting their PUBACK at once. aiomqtt checks every new publish
# against all pending ones (a linear scan) and logs a warning for each beyond
# ten, so gathering all 10,000 at once is slower than a bounded window.
_WINDOW = 100
# The service awaits each publish before the next; a sample of that suffices.
_SEQUENTIAL_HOMES = 300
_TRIAL_TIMEOUT_S = 60.0
# A multiplexer stands for thousands of homes on one connection, so the
# broker's per-client limit of 20 unacknowledged QoS 1 messages (meant for one
# home) would throttle it. (0, "no limit", makes Mosquitto 2.0.11 drop the
# aggregator's connection "due to out of memory" part-way through.)
# max_queued_messages is already 100000 in MosquittoBroker's configuration.
_BROKER_CONFIG = "max_inflight_messages 1000\nset_tcp_nodelay true"
_HOST = "127.0.0.1"


def _commands(home_ids: list[str], now: datetime) -> list[Command]:
    """One command per home, shaped as plan_dispatch shapes them."""
    counter = itertools.count()
    return [
        Command(
            home_id=home_id,
            command_id=f"c-{now:%Y%m%dT%H%M%S}-{home_id}-{next(counter)}"[:64],
            issued_at=now,
            expires_at=now + timedelta(seconds=3600 + 300),
            reason=CommandReason.CONGESTION,
            envelope=(PowerInterval(start=now, duration_s=3600, max_power_w=1500.0),),
        )
        for home_id in home_ids
    ]


def _ack_for(command: Command) -> Ack:
    return Ack(
        home_id=command.home_id,
        command_id=command.command_id,
        ts=datetime.now(UTC),
        result=AckResult.ACCEPTED,
        reason_code=AckReason.OK,
    )


# -- the homes -------------------------------------------------------------------


class _HomeMultiplexer:
    """Thousands of homes on one paho connection, answering one command each.

    Plain paho with its own loop: no asyncio task per ack, and access to the
    socket to switch Nagle off. A multiplexer carries what would be thousands
    of separate connections, so TCP should not hold one home's ack back
    waiting for another's.
    """

    def __init__(
        self, port: int, home_ids: list[str], *, protocol: bool, ready: Queue[str]
    ) -> None:
        self._home_ids = home_ids
        self._protocol = protocol
        self._ready = ready
        self._canned = encode(_ack_for(_commands(["h-00000"], datetime.now(UTC))[0]))
        self._subscriptions = 0
        self.handled = 0
        self._acked = 0
        self.cpu_start = 0.0
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"bench-homes-{home_ids[0]}",
            clean_session=True,
        )
        client.max_inflight_messages_set(1000)
        client.on_connect = self._on_connect
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message
        client.on_publish = self._on_publish
        client.connect(_HOST, port)
        sock = client.socket()
        if isinstance(sock, socket.socket):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.client = client

    def _on_connect(self, client: mqtt.Client, *_: object) -> None:
        for start in range(0, len(self._home_ids), _SUBSCRIBE_CHUNK):
            chunk = self._home_ids[start : start + _SUBSCRIBE_CHUNK]
            client.subscribe([(topic(h, Channel.COMMAND), 1) for h in chunk])

    def _on_subscribe(self, *_: object) -> None:
        self._subscriptions += 1
        if self._subscriptions * _SUBSCRIBE_CHUNK >= len(self._home_ids):
            self.cpu_start = time.process_time()
            self._ready.put(self._home_ids[0])

    def _on_message(
        self, client: mqtt.Client, _userdata: object, message: mqtt.MQTTMessage
    ) -> None:
        if self._protocol:
            home_id, _ = parse_topic(message.topic)
            command = decode(message.payload, channel=Channel.COMMAND)
            assert isinstance(command, Command)
            assert command.home_id == home_id
            payload = encode(_ack_for(command))
        else:
            home_id, payload = message.topic.split("/")[2], self._canned
        client.publish(topic(home_id, Channel.ACK), payload, qos=1)
        self.handled += 1

    def _on_publish(self, client: mqtt.Client, *_: object) -> None:
        self._acked += 1
        if self._acked == len(self._home_ids):
            client.disconnect()


def _home_process(
    port: int,
    home_ids: list[str],
    protocol: bool,
    ready: Queue[str],
    done: Queue[tuple[int, float]],
) -> None:
    """Entry point of one multiplexer process (spawned): serve, then report."""
    homes = _HomeMultiplexer(port, home_ids, protocol=protocol, ready=ready)
    homes.client.loop_forever()  # until every ack is confirmed
    done.put((homes.handled, time.process_time() - homes.cpu_start))


# -- the aggregator side ----------------------------------------------------------


class _AckClock(MessageSink):
    """Records when each home's ack reached the aggregator's sink."""

    def __init__(self, expected: int) -> None:
        self.arrived: dict[str, float] = {}
        self._expected = expected
        self.all_in = asyncio.Event()

    def mark(self, home_id: str) -> None:
        self.arrived.setdefault(home_id, time.perf_counter())
        if len(self.arrived) >= self._expected:
            self.all_in.set()

    async def on_ack(self, message: Ack) -> None:
        self.mark(message.home_id)


@dataclass(frozen=True, kw_only=True)
class _FanOut:
    since_start_s: list[float]  # per home: fan-out start -> ack in
    since_publish_s: list[float]  # per home: its publish call -> ack in
    total_s: float  # fan-out start -> last ack
    publish_s: float  # fan-out start -> last PUBACK from the broker
    missing: int
    publish_errors: int
    aggregator_cpu_s: float
    homes_cpu_s: float = 0.0  # filled in when the home processes report


type _Publish = Callable[[Command], Awaitable[None]]


async def _publish_and_collect(
    commands: list[Command], publish: _Publish, clock: _AckClock, window: int
) -> _FanOut:
    """Publish every command, at most ``window`` awaiting their PUBACK at once."""
    gate = asyncio.Semaphore(window)
    published: dict[str, float] = {}
    errors = 0

    async def one(command: Command) -> None:
        nonlocal errors
        async with gate:
            published[command.home_id] = time.perf_counter()
            try:
                await publish(command)
            except aiomqtt.MqttError:
                # aiomqtt gave up waiting for the PUBACK (10 s); paho still
                # sends the message, so its ack may arrive and is counted.
                errors += 1

    cpu_start = time.process_time()
    start = time.perf_counter()
    await asyncio.gather(*(one(c) for c in commands))
    publish_s = time.perf_counter() - start
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(_TRIAL_TIMEOUT_S):
            await clock.all_in.wait()
    arrived = clock.arrived
    return _FanOut(
        since_start_s=[t - start for t in arrived.values()],
        since_publish_s=[t - published[h] for h, t in arrived.items()],
        total_s=max(arrived.values(), default=start) - start,
        publish_s=publish_s,
        missing=len(commands) - len(arrived),
        publish_errors=errors,
        aggregator_cpu_s=time.process_time() - cpu_start,
    )


async def _through_link(
    broker: MosquittoBroker, commands: list[Command], window: int
) -> _FanOut:
    """The aggregator's own link: publish(retain=True), acks decoded to a sink."""
    clock = _AckClock(len(commands))
    link = AggregatorLink(
        MqttConfig(host=_HOST, port=broker.port, client_id="bench-aggregator"), clock
    )

    async def publish(command: Command) -> None:
        await link.publish(command, retain=True)

    runner = asyncio.create_task(link.run())
    try:
        if not await link.wait_connected(10.0):
            raise RuntimeError(f"aggregator link did not connect: {broker.tail_log()}")
        return await _publish_and_collect(commands, publish, clock, window)
    finally:
        runner.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await runner


async def _through_bare_client(
    broker: MosquittoBroker, commands: list[Command], window: int, *, nodelay: bool
) -> _FanOut:
    """The same on a bare aiomqtt client: pre-encoded payloads, acks only counted."""
    clock = _AckClock(len(commands))
    payloads = {c.home_id: encode(c) for c in commands}
    options = [(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)] if nodelay else []
    async with aiomqtt.Client(
        _HOST, broker.port, identifier="bench-raw", socket_options=options
    ) as client:
        await client.subscribe(wildcard(Channel.ACK), qos=1)

        async def collect() -> None:
            async for message in client.messages:
                clock.mark(str(message.topic).split("/")[2])

        async def publish(command: Command) -> None:
            await client.publish(
                topic(command.home_id, Channel.COMMAND),
                payloads[command.home_id],
                qos=1,
                retain=True,
            )

        collector = asyncio.create_task(collect())
        try:
            return await _publish_and_collect(commands, publish, clock, window)
        finally:
            collector.cancel()


# -- one fan-out ------------------------------------------------------------------


type _AggregatorSide = Callable[
    [MosquittoBroker, list[Command], int], Awaitable[_FanOut]
]


async def _fan_out(
    broker: MosquittoBroker,
    aggregator: _AggregatorSide,
    *,
    homes: int,
    protocol: bool,
    window: int,
) -> _FanOut:
    """Start the home processes, fan out, collect the acks, collect the homes' CPU."""
    home_ids = [f"h-{i:05d}" for i in range(homes)]
    commands = _commands(home_ids, datetime.now(UTC))
    context = multiprocessing.get_context("spawn")
    ready: Queue[str] = context.Queue()
    done: Queue[tuple[int, float]] = context.Queue()
    processes = [
        context.Process(
            target=_home_process,
            args=(broker.port, home_ids[p::_HOME_PROCESSES], protocol, ready, done),
            daemon=True,
        )
        for p in range(_HOME_PROCESSES)
    ]
    for process in processes:
        process.start()
    try:
        for _ in processes:
            await asyncio.to_thread(ready.get, timeout=_TRIAL_TIMEOUT_S)
        outcome = await aggregator(broker, commands, window)
        homes_cpu = 0.0
        for _ in processes:
            _, cpu = await asyncio.to_thread(done.get, timeout=_TRIAL_TIMEOUT_S)
            homes_cpu += cpu
        return replace(outcome, homes_cpu_s=homes_cpu)
    finally:
        for process in processes:
            process.join(timeout=5)
            if process.is_alive():
                process.terminate()
                process.join()


# -- the baseline -----------------------------------------------------------------


def _paho_client(client_id: str, port: int, subscription: str) -> mqtt.Client:
    """A connected, subscribed paho client with Nagle off, looping in a thread."""
    subscribed = threading.Event()
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id)
    client.on_subscribe = lambda *_: subscribed.set()
    client.connect(_HOST, port)
    sock = client.socket()
    if isinstance(sock, socket.socket):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    client.loop_start()
    client.subscribe(subscription, qos=1)
    if not subscribed.wait(10.0):
        raise RuntimeError(f"{client_id} could not subscribe to {subscription}")
    return client


def _raw_round_trips(broker: MosquittoBroker) -> list[float]:
    """One command-sized publish, echoed as an ack-sized publish, one at a time."""
    command = _commands(["h-00000"], datetime.now(UTC))[0]
    command_topic = topic(command.home_id, Channel.COMMAND)
    ack_topic = topic(command.home_id, Channel.ACK)
    command_payload = encode(command)
    ack_payload = encode(_ack_for(command))
    arrivals: queue.SimpleQueue[float] = queue.SimpleQueue()
    echo = _paho_client("bench-echo", broker.port, command_topic)
    echo.on_message = lambda client, *_: client.publish(ack_topic, ack_payload, qos=1)
    publisher = _paho_client("bench-publisher", broker.port, ack_topic)
    publisher.on_message = lambda *_: arrivals.put(time.perf_counter())
    samples: list[float] = []
    try:
        for round_ in range(_BASELINE_ROUNDS + 50):
            start = time.perf_counter()
            publisher.publish(command_topic, command_payload, qos=1, retain=True)
            arrived = arrivals.get(timeout=10.0)
            if round_ >= 50:  # warm-up
                samples.append(arrived - start)
    finally:
        for client in (publisher, echo):
            client.disconnect()
            client.loop_stop()
    return samples


# -- the run ----------------------------------------------------------------------


def _p(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


def _trial(
    aggregator: _AggregatorSide, *, homes: int, protocol: bool, window: int
) -> _FanOut:
    """One fan-out against a fresh broker: no retained commands from the last."""
    with MosquittoBroker(extra_config=_BROKER_CONFIG) as broker:
        return asyncio.run(
            _fan_out(broker, aggregator, homes=homes, protocol=protocol, window=window)
        )


def _notes(run: _FanOut, homes: int) -> str:
    return (
        f"since fan-out start: p50 {_p(run.since_start_s, 0.5):.2f} s, "
        f"p99 {_p(run.since_start_s, 0.99):.2f} s, max {run.total_s:.2f} s "
        f"({homes / max(run.total_s, 1e-9):.0f} homes/s); since each publish call: p50 "
        f"{_p(run.since_publish_s, 0.5):.3f} s, p99 {_p(run.since_publish_s, 0.99):.3f} s; "
        f"last PUBACK at {run.publish_s:.2f} s; missing acks {run.missing}, "
        f"publish timeouts {run.publish_errors}; CPU per home: aggregator "
        f"{run.aggregator_cpu_s / homes * 1e3:.2f} ms, simulated homes "
        f"{run.homes_cpu_s / homes * 1e3:.2f} ms"
    )


def run() -> list[BenchResult]:
    """Fan-out p99 with and without protocol work, against a raw round trip."""
    # aiomqtt warns once per publish while more than 10 await their PUBACK.
    mqtt_logger = logging.getLogger("mqtt")
    level = mqtt_logger.level
    mqtt_logger.setLevel(logging.ERROR)
    try:
        with MosquittoBroker(extra_config=_BROKER_CONFIG) as broker:
            rtts = _raw_round_trips(broker)
        protocol = _trial(_through_link, homes=HOMES, protocol=True, window=_WINDOW)
        bare = {
            nodelay: _trial(
                partial(_through_bare_client, nodelay=nodelay),
                homes=HOMES,
                protocol=False,
                window=_WINDOW,
            )
            for nodelay in (False, True)
        }
        one_by_one = _trial(
            _through_link, homes=_SEQUENTIAL_HOMES, protocol=True, window=1
        )
    finally:
        mqtt_logger.setLevel(level)
    rtt_p50, rtt_p99 = statistics.median(rtts), _p(rtts, 0.99)
    baseline = (
        f"raw QoS 1 publish -> echo round trip, one at a time (p99 of {len(rtts)})"
    )
    results = [
        BenchResult(
            name=name,
            unit="ms",
            value=_p(outcome.since_start_s, 0.99) * 1000,
            baseline_name=baseline,
            baseline_value=rtt_p99 * 1000,
            goal=f"p99 < {GOAL_P99_S:.0f} s from the start of the fan-out, every ack in",
            met=_p(outcome.since_start_s, 0.99) < GOAL_P99_S and outcome.missing == 0,
            notes=_notes(outcome, HOMES),
        )
        for name, outcome in (
            (f"fanout: {HOMES:,} commands -> acks, link + protocol (p99)", protocol),
            (f"fanout: {HOMES:,} echoes, no decoding, Nagle on (p99)", bare[False]),
            (f"fanout: {HOMES:,} echoes, no decoding, Nagle off (p99)", bare[True]),
        )
    ]
    per_command = one_by_one.publish_s / _SEQUENTIAL_HOMES
    results.append(
        BenchResult(
            name="fanout: one publish at a time, as the service's cycle (per command)",
            unit="ms",
            value=per_command * 1000,
            baseline_name="raw QoS 1 publish -> echo round trip, one at a time (p50)",
            baseline_value=rtt_p50 * 1000,
            goal=f"<= {GOAL_P99_S / HOMES * 1000:.1f} ms, so {HOMES:,} commands leave in {GOAL_P99_S:.0f} s",
            met=per_command <= GOAL_P99_S / HOMES,
            notes=(
                f"{_SEQUENTIAL_HOMES} commands, each publish awaited before the next "
                f"while the acks come back: {HOMES:,} would take "
                f"{per_command * HOMES:.0f} s; {_notes(one_by_one, _SEQUENTIAL_HOMES)}"
            ),
        )
    )
    return results
