"""The home's MQTT connection: reconnects by itself and never drops a QoS 1 message.

The connection itself (reconnect, backoff, subscriptions) is a
``dacs.mqtt.MqttSession``; this link adds the outbox that holds QoS 1
messages while the broker is away.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
import logging

import aiomqtt

from dacs.mqtt import Backoff, ClientSettings, MqttSession

_LOGGER = logging.getLogger(__name__)

type MessageHandler = Callable[[str, bytes], Awaitable[None]]
type ConnectHandler = Callable[[], Awaitable[None]]


@dataclass(frozen=True, kw_only=True)
class BrokerSettings(ClientSettings):
    """Where the home's broker is and how to log in.

    A persistent session (``clean_session=False``): the broker keeps the
    home's subscriptions and queued commands while it is away.
    """

    client_id: str | None = "dacs-home"
    clean_session: bool | None = False
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
        self._will = aiomqtt.Will(*will, qos=1, retain=True) if will else None
        self._on_connect = on_connect
        self._outbox: deque[Outgoing] = deque()
        self._outbox_limit = outbox_limit
        self._wake = asyncio.Event()
        self.dropped = 0
        self.on_state_change: Callable[[bool], None] | None = None
        self._session = MqttSession(
            self._current_settings,
            subscriptions=subscriptions,
            on_message=on_message,
            on_connect=self._connected,
            while_connected=self._send_outbox,
            on_disconnect=lambda: self._state_changed(up=False),
            backoff=Backoff(1.0, reconnect_max_s),
            logger=_LOGGER,
        )

    @property
    def connected(self) -> bool:
        """True while the session with the broker is up."""
        return self._session.connected

    @property
    def last_error(self) -> str | None:
        """Why the last attempt to connect failed; None once connected."""
        return self._session.last_error

    @property
    def queued(self) -> int:
        """Messages waiting for the connection."""
        return len(self._outbox)

    async def wait_connected(self, within_s: float) -> bool:
        """Wait until connected; False when ``within_s`` passes first."""
        return await self._session.wait_connected(within_s)

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
        await self._session.run()

    async def move_to(
        self, settings: BrokerSettings, *, farewell: Sequence[Outgoing] = ()
    ) -> None:
        """Leave this broker for the one in ``settings`` (a broker move).

        ``farewell`` goes to the old broker first (best effort: the move
        happens anyway). What waits in the outbox is kept and goes to the
        new broker, so nothing queued is lost by the move.
        """
        client = self._session.client
        if client is not None and farewell:
            try:
                async with asyncio.timeout(self.settings.timeout_s):
                    for item in farewell:
                        await client.publish(
                            item.topic, item.payload, qos=item.qos, retain=item.retain
                        )
            except (aiomqtt.MqttError, TimeoutError) as err:
                _LOGGER.warning(
                    "farewell to %s not sent: %s", self.settings.address, err
                )
        _LOGGER.info(
            "moving from broker %s to %s", self.settings.address, settings.address
        )
        self.settings = settings
        self._session.reconnect()

    async def _current_settings(self) -> BrokerSettings:
        # Read at every attempt, so a move takes effect at the next one.
        if self._will is None:
            return self.settings
        return replace(self.settings, will=self._will)

    async def _connected(self) -> None:
        self._state_changed(up=True)
        if self._on_connect is not None:
            await self._on_connect()

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

    def _state_changed(self, *, up: bool) -> None:
        if self.on_state_change is not None:
            self.on_state_change(up)
