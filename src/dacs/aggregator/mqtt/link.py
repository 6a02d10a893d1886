"""The aggregator's connection to the central broker.

Several aggregator instances may run side by side: they subscribe with
shared subscriptions (``$share/<group>/...``), so the broker hands each home
message to exactly one of them.

Commands go out through a bounded publish window: up to ``publish_window``
QoS 1 publishes wait for the broker's PUBACK at once. One at a time, a fan-out
to 10,000 homes is bound by 10,000 round trips; unbounded, aiomqtt scans every
pending call on each publish and the broker's socket buffers fill.

A reconnect does not resend anything by itself: aiomqtt builds a new paho
client for each connection, so QoS 1 publishes still waiting for their PUBACK
when the connection drops die with the old one (``clean_session=False`` only
keeps the broker's queue towards the aggregator). ``publish_all`` therefore
ends those waits at once and returns the messages as unconfirmed; the caller
sends them again after the reconnect.

Connecting, subscribing, reconnecting with backoff and logging outages is a
``dacs.mqtt.MqttSession`` (0.5 s doubling to ``reconnect_max_s``, 30 s by
default); this link adds the ingest, the publish window, the receipts and
the counters.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
import logging
import math
import ssl

import aiomqtt

from dacs.aggregator.config import RECONNECT_FIRST_S, MqttConfig
from dacs.aggregator.ingest.home_quarantine import (
    HomeQuarantine,
    HomeQuarantineSettings,
)
from dacs.mqtt import Backoff, ClientSettings, MqttSession
from dacs.protocol import (
    Ack,
    Channel,
    Message,
    Preferences,
    ProtocolError,
    Receipt,
    Status,
    Telemetry,
    decode,
    encode,
    parse_topic,
    topic,
    wildcard,
)

_LOGGER = logging.getLogger(__name__)
# A refused message's topic has its retained message cleared at most this often.
_CLEAR_INTERVAL_S = 60.0
_CLEARED_KEPT = 10_000

INGEST_CHANNELS = (Channel.TELEMETRY, Channel.STATUS, Channel.PREFERENCES, Channel.ACK)
# Publishes awaiting their PUBACK at once. Measured with the service's own
# fan-out to 10,000 homes on two cores (benchmarks/bench_fanout.py, windows
# 10 to 200): 25 gave the lowest p99 and, with 10, the lowest median; larger
# windows only queue more in the broker and make aiomqtt scan more pending
# calls per publish. At a 1 ms round trip, 25 still allows 25,000 publishes/s.
PUBLISH_WINDOW = 25
# How long one publish waits for the broker's PUBACK before it counts as
# unconfirmed (a lost connection ends the wait at once).
PUBLISH_TIMEOUT_S = 10.0


class PublishError(ConnectionError):
    """The broker did not confirm a publish: not connected, connection lost, timed out."""


@dataclass(frozen=True, kw_only=True)
class Delivery:
    """What became of the messages handed to ``AggregatorLink.publish_all``."""

    confirmed: tuple[Message, ...]  # the broker acknowledged (PUBACK)
    unconfirmed: tuple[Message, ...]  # no PUBACK: send again after a reconnect
    failed: tuple[Message, ...]  # could not be published at all (logged)


# Split between the instances of a cluster. A home's status (its heat pump
# and floor) and its resident's preferences are few and every instance needs
# them, the owner of its point above all: plain subscriptions, which also
# bring the retained ones to an instance that connects later.
SHARED_CHANNELS = (Channel.TELEMETRY, Channel.ACK)


def ingest_filters(shared_group: str) -> list[str]:
    """The subscriptions of one link: shared where the instances split the work."""
    return [
        ingest_filter(channel, shared_group if channel in SHARED_CHANNELS else "")
        for channel in INGEST_CHANNELS
    ]


def ingest_filter(channel: Channel, shared_group: str) -> str:
    """The subscription for one ingest channel; no group means a plain subscription.

    A plain subscription is for brokers without shared subscriptions (the
    demo's embedded broker); only one aggregator instance may then run.
    """
    if shared_group:
        return f"$share/{shared_group}/{wildcard(channel)}"
    return wildcard(channel)


@dataclass
class IngestCounters:
    """What arrived, and what was refused."""

    received: int = 0
    refused: int = 0
    wrong_home: int = 0


class MessageSink:
    """Where decoded home messages go (the aggregator service implements it)."""

    async def on_telemetry(self, message: Telemetry) -> None:
        """A telemetry message arrived."""

    async def on_status(self, message: Status) -> None:
        """A status message arrived."""

    async def on_preferences(self, message: Preferences) -> None:
        """A preferences message arrived."""

    async def on_ack(self, message: Ack) -> None:
        """An ack arrived."""


def home_quarantine(config: MqttConfig) -> HomeQuarantine:
    """The quarantine of noisy homes, as configured (shared by a deployment's links)."""
    return HomeQuarantine(
        HomeQuarantineSettings(
            refusals=config.home_quarantine_refusals,
            window_s=config.home_quarantine_window_s,
            release_s=config.home_quarantine_s,
        )
    )


class AggregatorLink:
    """Ingest from all homes, publish to any home; reconnects by itself."""

    def __init__(
        self,
        config: MqttConfig,
        sink: MessageSink,
        *,
        on_connect: Callable[[], Awaitable[None]] | None = None,
        publish_window: int = PUBLISH_WINDOW,
        publish_timeout_s: float = PUBLISH_TIMEOUT_S,
        quarantine: HomeQuarantine | None = None,
    ) -> None:
        """Prepare; run() connects. Links to several brokers share a ``quarantine``."""
        if publish_window < 1:
            raise ValueError(f"publish_window must be at least 1, not {publish_window}")
        self._config = config
        self._sink = sink
        self.counters = IngestCounters()
        self.quarantine = quarantine or home_quarantine(config)
        self.publish_window = publish_window
        self._publish_timeout_s = publish_timeout_s
        self._window = asyncio.Semaphore(publish_window)
        # The waits for a PUBACK in progress; a lost connection ends them all.
        self._awaiting_puback: set[asyncio.Timeout] = set()
        # Refused messages' topics and when their retained message was last cleared.
        self._cleared_at: dict[tuple[str, Channel], float] = {}
        self._clearing: set[asyncio.Task[None]] = set()
        self._clear_pending: set[tuple[str, Channel]] = set()
        self._session = MqttSession(
            self._client_settings,
            subscriptions=ingest_filters(config.shared_group),
            on_message=self.dispatch,
            on_connect=on_connect,
            on_disconnect=self._release_waits,
            backoff=Backoff(RECONNECT_FIRST_S, config.reconnect_max_s),
            name="the central broker",  # the session adds the address
            logger=_LOGGER,
        )

    @property
    def connected(self) -> bool:
        """True while connected to the broker."""
        return self._session.connected

    async def wait_connected(self, within_s: float) -> bool:
        """Wait for the connection; False when ``within_s`` passes first."""
        return await self._session.wait_connected(within_s)

    async def leave(self) -> None:
        """Unsubscribe before this instance drops the broker: its session is persistent."""
        await self._session.unsubscribe_all(self._publish_timeout_s)

    async def publish(self, message: Message, *, retain: bool = False) -> None:
        """Publish a message to its home's topic (QoS 1) and wait for the broker's PUBACK.

        At most ``publish_window`` publishes wait at once; more wait for a
        place. Raises ``PublishError`` when not connected, when the connection
        drops before the PUBACK, or when the PUBACK does not come in time.
        """
        async with self._window:
            await self._publish_confirmed(
                topic(message.home_id, message.channel),
                encode(message),
                retain=retain,
            )

    async def publish_all(
        self, messages: Sequence[Message], *, retain: bool = False
    ) -> Delivery:
        """Publish many messages through the window; report which the broker confirmed.

        Nothing is raised for a single message: those without a PUBACK are
        returned as unconfirmed for the caller to send again, so a lost
        connection in the middle of a fan-out loses none.
        """
        return await self._through_window(
            messages, lambda message: self.publish(message, retain=retain)
        )

    async def publish_receipts(self, receipts: Sequence[Receipt]) -> int:
        """Send telemetry receipts at QoS 0; returns how many left for the broker.

        A receipt that does not arrive costs one resend from the home, so it
        gets no PUBACK round trip and is never queued for a later connection.
        """
        if not self.connected:
            return 0
        delivery = await self._through_window(receipts, self._publish_qos0)
        return len(delivery.confirmed)

    async def _publish_qos0(self, message: Message) -> None:
        async with self._window:
            await self._publish_confirmed(
                topic(message.home_id, message.channel),
                encode(message),
                retain=False,
                qos=0,
            )

    async def _through_window(
        self,
        messages: Sequence[Message],
        send: Callable[[Message], Awaitable[None]],
    ) -> Delivery:
        """``send`` each message, ``publish_window`` at a time, sorting the outcomes."""
        confirmed: list[Message] = []
        unconfirmed: list[Message] = []
        failed: list[Message] = []
        remaining = iter(messages)

        async def sender() -> None:
            # Each sender takes the next message when its last one is confirmed.
            for message in remaining:
                try:
                    await send(message)
                except PublishError:
                    unconfirmed.append(message)
                except Exception:
                    _LOGGER.exception(
                        "could not publish %s to %s", message.channel, message.home_id
                    )
                    failed.append(message)
                else:
                    confirmed.append(message)

        async with asyncio.TaskGroup() as group:
            for _ in range(min(self.publish_window, len(messages))):
                group.create_task(sender())
        return Delivery(
            confirmed=tuple(confirmed),
            unconfirmed=tuple(unconfirmed),
            failed=tuple(failed),
        )

    async def _publish_confirmed(
        self, name: str, payload: bytes, *, retain: bool, qos: int = 1
    ) -> None:
        client = self._session.client
        if client is None:
            raise PublishError("not connected to the central broker")
        try:
            # An open-ended timeout scope: _release_waits() ends it when the
            # connection drops (aiomqtt itself would wait the full timeout).
            async with asyncio.timeout(None) as wait:
                self._awaiting_puback.add(wait)
                try:
                    await client.publish(
                        name,
                        payload,
                        qos=qos,
                        retain=retain,
                        timeout=self._publish_timeout_s,
                    )
                finally:
                    self._awaiting_puback.discard(wait)
        except TimeoutError as err:
            raise PublishError(
                f"connection to the central broker lost before it confirmed {name}"
            ) from err
        except aiomqtt.MqttError as err:
            raise PublishError(
                f"the central broker did not confirm {name}: {err}"
            ) from err

    def _release_waits(self) -> None:
        now = asyncio.get_running_loop().time()
        for wait in list(self._awaiting_puback):
            wait.reschedule(now)

    async def clear_retained(self, home_id: str, channel: Channel) -> None:
        """Remove a retained message (an empty retained payload)."""
        async with self._window:
            await self._publish_confirmed(topic(home_id, channel), b"", retain=True)

    def _clear_poison(self, home_id: str, channel: Channel) -> None:
        """Remove what a refused message may have left retained on its topic.

        A retained message the aggregator refuses would be refused again
        after every reconnect and restart. Whether this one was retained is
        not known here; clearing a topic that holds nothing retained is
        harmless, and each topic is cleared at most once a minute, so a home
        that sends garbage cannot make the aggregator publish as fast. A
        refusal within that minute schedules one clear at its end: the last
        poison message a home retains is cleared too.
        """
        key = (home_id, channel)
        now = asyncio.get_running_loop().time()
        wait = _CLEAR_INTERVAL_S - (now - self._cleared_at.get(key, -math.inf))
        if wait > 0:
            # Not connected, a clear would fail; the next refusal tries again.
            if key not in self._clear_pending and self.connected:
                self._clear_pending.add(key)
                self._spawn_clear(home_id, channel, wait)
            return
        self._cleared_at[key] = now
        if len(self._cleared_at) > _CLEARED_KEPT:
            # Forget the oldest half: a bounded memory whatever homes send.
            for old in sorted(self._cleared_at, key=self._cleared_at.__getitem__)[
                : _CLEARED_KEPT // 2
            ]:
                del self._cleared_at[old]
        self._spawn_clear(home_id, channel, 0.0)

    def _spawn_clear(self, home_id: str, channel: Channel, after_s: float) -> None:
        task = asyncio.get_running_loop().create_task(
            self._clear_quietly(home_id, channel, after_s)
        )
        self._clearing.add(task)
        task.add_done_callback(self._clearing.discard)

    async def _clear_quietly(
        self, home_id: str, channel: Channel, after_s: float
    ) -> None:
        if after_s > 0:
            await asyncio.sleep(after_s)
            self._clear_pending.discard((home_id, channel))
            self._cleared_at[home_id, channel] = asyncio.get_running_loop().time()
        try:
            await self.clear_retained(home_id, channel)
        except Exception as err:  # noqa: BLE001 - the next refusal tries again
            _LOGGER.warning("could not clear %s of %s: %s", channel, home_id, err)
            self._cleared_at.pop((home_id, channel), None)

    async def run(self) -> None:
        """Connect, subscribe, dispatch; reconnect with backoff until cancelled."""
        try:
            await self._session.run()
        finally:
            for task in list(self._clearing):  # a clear due later, say
                task.cancel()

    async def _client_settings(self) -> ClientSettings:
        # Read the CA file for every connection, as a renewed one may replace it.
        config = self._config
        return ClientSettings(
            host=config.host,
            port=config.port,
            username=config.username,
            password=config.password,
            client_id=config.client_id,
            clean_session=not config.persistent_session,
            tls=ssl.create_default_context(cafile=config.tls_ca_file)
            if config.tls_ca_file
            else None,
            keepalive_s=30,
            # paho holds back QoS 1 publishes beyond 20 in flight by default.
            max_inflight=self.publish_window,
        )

    async def dispatch(self, name: str, payload: bytes) -> None:
        """Decode one message and hand it to the sink; bad input is counted, never raised."""
        self.counters.received += 1
        if not payload:
            return  # a cleared retained message
        try:
            home_id, channel = parse_topic(name)
        except ValueError as err:
            self.counters.refused += 1
            _LOGGER.warning("refused message on %s: %s", name, err)
            return
        if self.quarantine.holds(home_id):
            return  # dropped unread; a retained poison is cleared after the release
        try:
            message = decode(payload, channel=channel)
        except (ValueError, ProtocolError) as err:
            self.counters.refused += 1
            _LOGGER.warning("refused message on %s: %s", name, err)
            self._clear_poison(home_id, channel)
            self.quarantine.refused(home_id)
            return
        except Exception:
            # A decoder bug must not end ingest for every home: this one
            # message is lost, the next is read.
            self.counters.refused += 1
            _LOGGER.exception("could not decode the message on %s", name)
            self.quarantine.refused(home_id)
            return
        if message.home_id != home_id:
            # A home may only speak for itself: the ACL allows its own topics only.
            self.counters.wrong_home += 1
            _LOGGER.warning("message on %s claims to be from %s", name, message.home_id)
            self.quarantine.refused(home_id)
            return
        try:
            if isinstance(message, Telemetry):
                await self._sink.on_telemetry(message)
            elif isinstance(message, Status):
                await self._sink.on_status(message)
            elif isinstance(message, Preferences):
                await self._sink.on_preferences(message)
            elif isinstance(message, Ack):
                await self._sink.on_ack(message)
        except Exception:
            _LOGGER.exception("handling %s from %s failed", channel, home_id)
