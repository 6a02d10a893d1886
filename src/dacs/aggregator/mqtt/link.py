"""The aggregator's connection to the central broker.

Several aggregator instances may run side by side: they subscribe with
shared subscriptions (``$share/<group>/...``), so the broker hands each home
message to exactly one of them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
import logging
import socket
import ssl

import aiomqtt

from dacs.aggregator.config import MqttConfig
from dacs.protocol import (
    Ack,
    Channel,
    Message,
    Preferences,
    ProtocolError,
    Status,
    Telemetry,
    decode,
    encode,
    parse_topic,
    topic,
    wildcard,
)

_LOGGER = logging.getLogger(__name__)

INGEST_CHANNELS = (Channel.TELEMETRY, Channel.STATUS, Channel.PREFERENCES, Channel.ACK)


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


class AggregatorLink:
    """Ingest from all homes, publish to any home; reconnects by itself."""

    def __init__(
        self,
        config: MqttConfig,
        sink: MessageSink,
        *,
        on_connect: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        """Prepare; run() connects."""
        self._config = config
        self._sink = sink
        self._on_connect = on_connect
        self._client: aiomqtt.Client | None = None
        self._connected = asyncio.Event()
        self.counters = IngestCounters()

    @property
    def connected(self) -> bool:
        """True while connected to the broker."""
        return self._connected.is_set()

    async def wait_connected(self, within_s: float) -> bool:
        """Wait for the connection; False when ``within_s`` passes first."""
        try:
            async with asyncio.timeout(within_s):
                await self._connected.wait()
        except TimeoutError:
            return False
        return True

    async def publish(self, message: Message, *, retain: bool = False) -> None:
        """Publish a message to its home's topic (QoS 1); raises when disconnected."""
        client = self._client
        if client is None or not self.connected:
            raise ConnectionError("not connected to the central broker")
        await client.publish(
            topic(message.home_id, message.channel),
            encode(message),
            qos=1,
            retain=retain,
        )

    async def clear_retained(self, home_id: str, channel: Channel) -> None:
        """Remove a retained message (an empty retained payload)."""
        client = self._client
        if client is None or not self.connected:
            raise ConnectionError("not connected to the central broker")
        await client.publish(topic(home_id, channel), b"", qos=1, retain=True)

    async def run(self) -> None:
        """Connect, subscribe, dispatch; reconnect with backoff until cancelled."""
        delay = 0.5
        while True:
            try:
                await self._session()
                delay = 0.5
            except aiomqtt.MqttError as err:
                _LOGGER.warning(
                    "central broker unreachable (%s); retrying in %.1f s", err, delay
                )
            finally:
                self._connected.clear()
                self._client = None
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)

    async def _session(self) -> None:
        config = self._config
        tls = (
            ssl.create_default_context(cafile=config.tls_ca_file)
            if config.tls_ca_file
            else None
        )
        async with aiomqtt.Client(
            config.host,
            config.port,
            username=config.username,
            password=config.password,
            identifier=config.client_id,
            clean_session=False,
            tls_context=tls,
            protocol=aiomqtt.ProtocolVersion.V311,
            keepalive=30,
            # Small QoS 1 messages and their acks: Nagle's algorithm would hold
            # each one back by tens of milliseconds.
            socket_options=((socket.IPPROTO_TCP, socket.TCP_NODELAY, 1),),
        ) as client:
            for channel in INGEST_CHANNELS:
                await client.subscribe(
                    ingest_filter(channel, config.shared_group), qos=1
                )
            self._client = client
            self._connected.set()
            _LOGGER.info(
                "connected to the central broker %s:%s", config.host, config.port
            )
            if self._on_connect is not None:
                await self._on_connect()
            async for message in client.messages:
                await self.dispatch(str(message.topic), bytes(message.payload))

    async def dispatch(self, name: str, payload: bytes) -> None:
        """Decode one message and hand it to the sink; bad input is counted, never raised."""
        self.counters.received += 1
        if not payload:
            return  # a cleared retained message
        try:
            home_id, channel = parse_topic(name)
            message = decode(payload, channel=channel)
        except (ValueError, ProtocolError) as err:
            self.counters.refused += 1
            _LOGGER.warning("refused message on %s: %s", name, err)
            return
        if message.home_id != home_id:
            # A home may only speak for itself: the ACL allows its own topics only.
            self.counters.wrong_home += 1
            _LOGGER.warning("message on %s claims to be from %s", name, message.home_id)
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
