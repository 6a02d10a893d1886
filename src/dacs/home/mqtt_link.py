"""The home's MQTT connection: reconnects by itself and never drops a QoS 1 message."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
import logging
import socket
import ssl

import aiomqtt

_LOGGER = logging.getLogger(__name__)

type MessageHandler = Callable[[str, bytes], Awaitable[None]]
type ConnectHandler = Callable[[], Awaitable[None]]


@dataclass(frozen=True, kw_only=True)
class BrokerSettings:
    """Where the home's broker is and how to log in."""

    host: str
    port: int = 1883
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    client_id: str = "dacs-home"
    tls: ssl.SSLContext | None = None
    keepalive_s: int = 30


@dataclass(frozen=True)
class Outgoing:
    """A message waiting to be published."""

    topic: str
    payload: bytes
    qos: int
    retain: bool


class MqttLink:
    """A persistent MQTT session that outlives broker restarts.

    While the broker cannot be reached, QoS 1 messages wait in an outbox (in
    order, up to ``outbox_limit``; the oldest telemetry goes first when full)
    and are published when the connection is back. Subscriptions are made
    again after every reconnect.
    """

    def __init__(
        self,
        settings: BrokerSettings,
        *,
        subscriptions: list[str],
        on_message: MessageHandler,
        on_connect: ConnectHandler | None = None,
        will: tuple[str, bytes] | None = None,
        outbox_limit: int = 10_000,
        reconnect_max_s: float = 30.0,
    ) -> None:
        """Prepare the link; run() connects."""
        self.settings = settings
        self._subscriptions = subscriptions
        self._on_message = on_message
        self._on_connect = on_connect
        self._will = will
        self._outbox: deque[Outgoing] = deque()
        self._outbox_limit = outbox_limit
        self._reconnect_max_s = reconnect_max_s
        self._client: aiomqtt.Client | None = None
        self._connected = asyncio.Event()
        self._wake = asyncio.Event()
        self.dropped = 0
        self.last_error: str | None = None
        self.on_state_change: Callable[[bool], None] | None = None

    @property
    def connected(self) -> bool:
        """True while the session with the broker is up."""
        return self._connected.is_set()

    @property
    def queued(self) -> int:
        """Messages waiting for the connection."""
        return len(self._outbox)

    async def wait_connected(self, within_s: float) -> bool:
        """Wait until connected; False when ``within_s`` passes first."""
        try:
            async with asyncio.timeout(within_s):
                await self._connected.wait()
        except TimeoutError:
            return False
        return True

    def publish(
        self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False
    ) -> None:
        """Queue a message; it is sent at once when connected, later otherwise."""
        if len(self._outbox) >= self._outbox_limit:
            self._outbox.popleft()
            self.dropped += 1
            _LOGGER.warning("MQTT outbox full: dropped the oldest message")
        self._outbox.append(Outgoing(topic, payload, qos, retain))
        self._wake.set()

    async def run(self) -> None:
        """Connect, keep the session up and move messages both ways until cancelled."""
        delay = 1.0
        while True:
            try:
                await self._session()
            except aiomqtt.MqttError as err:
                self.last_error = str(err)
                _LOGGER.warning(
                    "MQTT broker %s:%s unreachable (%s); retrying in %.0f s",
                    self.settings.host,
                    self.settings.port,
                    err,
                    delay,
                )
            finally:
                self._set_connected(value=False)
                self._client = None
            await asyncio.sleep(delay)
            delay = min(delay * 2, self._reconnect_max_s)

    async def _session(self) -> None:
        settings = self.settings
        will = (
            aiomqtt.Will(self._will[0], self._will[1], qos=1, retain=True)
            if self._will
            else None
        )
        async with aiomqtt.Client(
            settings.host,
            settings.port,
            username=settings.username,
            password=settings.password,
            identifier=settings.client_id,
            clean_session=False,
            will=will,
            tls_context=settings.tls,
            keepalive=settings.keepalive_s,
            # Small QoS 1 messages and their acks: Nagle's algorithm would hold
            # each one back by tens of milliseconds.
            socket_options=((socket.IPPROTO_TCP, socket.TCP_NODELAY, 1),),
            protocol=aiomqtt.ProtocolVersion.V311,
        ) as client:
            self._client = client
            for subscription in self._subscriptions:
                await client.subscribe(subscription, qos=1)
            self._set_connected(value=True)
            self.last_error = None
            _LOGGER.info("connected to MQTT broker %s:%s", settings.host, settings.port)
            if self._on_connect is not None:
                await self._on_connect()
            sender = asyncio.create_task(self._send_outbox(client))
            try:
                async for message in client.messages:
                    try:
                        await self._on_message(
                            str(message.topic), bytes(message.payload)
                        )
                    except Exception:
                        _LOGGER.exception(
                            "handling a message on %s failed", message.topic
                        )
            finally:
                sender.cancel()
                await asyncio.gather(sender, return_exceptions=True)

    async def _send_outbox(self, client: aiomqtt.Client) -> None:
        while True:
            while self._outbox:
                item = self._outbox[0]
                # Remove only after the broker took it: a failure keeps it queued.
                await client.publish(
                    item.topic, item.payload, qos=item.qos, retain=item.retain
                )
                self._outbox.popleft()
            self._wake.clear()
            await self._wake.wait()

    def _set_connected(self, *, value: bool) -> None:
        if value == self._connected.is_set():
            return
        if value:
            self._connected.set()
        else:
            self._connected.clear()
        if self.on_state_change is not None:
            self.on_state_change(value)
