"""A reconnecting MQTT session: connect, subscribe, hand over messages, back off, again.

One loop for every long-lived aiomqtt client in the shipped code: the home's
link to its broker (``dacs.home.mqtt_link``), the aggregator's link to the
central broker (``dacs.aggregator.mqtt.link``) and the OpenADR notifier
(``dacs.aggregator.openadr.notifier``). Each connection is a new aiomqtt
client, so the subscriptions are made again and the on-connect hook runs
again after every reconnect.

Between attempts the session waits, doubling from ``Backoff.first_s`` up to
``Backoff.max_s``. A connection that lasted at least ``max_s`` starts the
doubling over, so a broker that accepts and drops us at once is not hammered
while a broker restart after a quiet day is retried quickly.

An outage is logged once, when it begins (a warning); the attempts after it
go to the debug log until the session is connected again (info). A broker
that answers but refuses the login is logged as an error, once per refusal
and outage: retrying alone will not mend wrong credentials.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
import contextlib
from dataclasses import dataclass, field
import logging
import random
import socket
import ssl

import aiomqtt

# A negative CONNACK; aiomqtt 2.5 does not export it from the package itself.
from aiomqtt.exceptions import MqttConnectError

_LOGGER = logging.getLogger(__name__)

type MessageHandler = Callable[[str, bytes], Awaitable[None]]
type ConnectHook = Callable[[], Awaitable[None]]
type ConnectedWork = Callable[[aiomqtt.Client], Awaitable[None]]
type SettingsSource = Callable[[], Awaitable[ClientSettings]]


class ReconnectAskedError(aiomqtt.MqttError):
    """The connection was ended on purpose (``MqttSession.reconnect``)."""


@dataclass(frozen=True, kw_only=True)
class ClientSettings:
    """How to reach and log in to one broker (MQTT 3.1.1)."""

    host: str
    port: int = 1883
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    client_id: str | None = None  # None: aiomqtt makes one up
    clean_session: bool | None = None  # None: the protocol's default (clean)
    will: aiomqtt.Will | None = None
    tls: ssl.SSLContext | None = None
    keepalive_s: int = 60
    timeout_s: float = 10.0  # connect, subscribe and PUBACK waits
    # QoS 1 publishes in flight at once; None keeps paho's default (20).
    max_inflight: int | None = None

    @property
    def address(self) -> str:
        """host:port, for logs."""
        return f"{self.host}:{self.port}"


@dataclass(frozen=True)
class Backoff:
    """Bounded exponential waits between connection attempts."""

    first_s: float
    max_s: float
    # Each wait is shortened by up to this share, at random: thousands of
    # homes that lost the broker together do not all come back in one instant.
    jitter: float = 0.2

    def __post_init__(self) -> None:
        """Refuse waits that could not work."""
        if not 0 < self.first_s <= self.max_s:
            raise ValueError(
                f"backoff needs 0 < first_s <= max_s, not {self.first_s}, {self.max_s}"
            )
        if not 0 <= self.jitter < 1:
            raise ValueError(f"backoff jitter must lie in [0, 1), not {self.jitter}")

    def after(self, delay_s: float) -> float:
        """The wait that follows ``delay_s``."""
        return min(delay_s * 2, self.max_s)

    def jittered(self, delay_s: float) -> float:
        """``delay_s`` less a random share of up to ``jitter`` of it."""
        return delay_s * (1 - self.jitter * random.random())


class MqttSession:
    """Keep one MQTT connection up until cancelled, whatever the broker does."""

    def __init__(
        self,
        settings: ClientSettings | SettingsSource,
        *,
        on_message: MessageHandler,
        subscriptions: Sequence[str] = (),
        on_connect: ConnectHook | None = None,
        while_connected: ConnectedWork | None = None,
        on_disconnect: Callable[[], None] | None = None,
        on_error: Callable[[Exception], None] | None = None,
        backoff: Backoff,
        retry_on: tuple[type[Exception], ...] = (),
        name: str = "MQTT broker",
        logger: logging.Logger = _LOGGER,
    ) -> None:
        """Prepare the session; run() connects.

        ``settings`` may be a coroutine function, called before each attempt
        (for a password that is an access token, or a CA file read anew).
        Every subscription is made at QoS 1. ``on_connect`` runs after the
        subscriptions, before any message is handled; ``while_connected``
        runs next to the message loop and is cancelled when the connection
        ends; ``on_disconnect`` is called when a connection that was up ends.
        ``on_error`` sees every failed attempt. ``retry_on`` names more
        exceptions (of ``settings`` or the hooks) that count as a failed
        attempt rather than ending run(); aiomqtt's errors always do.
        """
        self._settings = settings
        self._on_message = on_message
        self._subscriptions = tuple(subscriptions)
        self._on_connect = on_connect
        self._while_connected = while_connected
        self._on_disconnect = on_disconnect
        self._on_error = on_error
        self._backoff = backoff
        self._retry_on: tuple[type[Exception], ...] = (aiomqtt.MqttError, *retry_on)
        self._name = name
        self._where = (
            f"{name} {settings.address}"
            if isinstance(settings, ClientSettings)
            else name
        )
        self._logger = logger
        self._client: aiomqtt.Client | None = None
        self._connected = asyncio.Event()
        self._connected_at: float | None = None
        self._reconnect_asked = asyncio.Event()
        # What this outage has logged already: "unreachable" or a refusal.
        self._told: set[str] = set()
        self.last_error: str | None = None

    @property
    def connected(self) -> bool:
        """True while connected to the broker."""
        return self._connected.is_set()

    @property
    def client(self) -> aiomqtt.Client | None:
        """The connected client, for publishing; None while not connected."""
        return self._client

    async def wait_connected(self, within_s: float) -> bool:
        """Wait for the connection; False when ``within_s`` passes first."""
        try:
            async with asyncio.timeout(within_s):
                await self._connected.wait()
        except TimeoutError:
            return False
        return True

    async def unsubscribe_all(self, timeout_s: float) -> None:
        """Drop the subscriptions on the broker (best effort) before leaving it for good.

        A persistent session keeps its subscriptions while away, and the
        broker queues for it what they match (its share of a shared one too).
        """
        client = self._client
        if client is None or not self._subscriptions:
            return
        try:
            async with asyncio.timeout(timeout_s):
                await client.unsubscribe(list(self._subscriptions))
        except (aiomqtt.MqttError, TimeoutError) as err:
            self._logger.warning("could not unsubscribe on %s: %s", self._where, err)

    def reconnect(self) -> None:
        """End the connection now and connect again at once (settings read anew).

        For a move to another broker: with a settings source, the next
        attempt connects where the source now points.
        """
        self._reconnect_asked.set()

    async def run(self) -> None:
        """Connect, subscribe and hand over messages; reconnect until cancelled."""
        loop = asyncio.get_running_loop()
        delay = self._backoff.first_s
        while True:
            try:
                await self._connection()
                # The message loop only ends with an error; be safe all the same.
                error: Exception = aiomqtt.MqttError("the message loop ended")
            except ReconnectAskedError:
                self._disconnected()  # before the log line; finally is a no-op then
                self._take_connected_at()
                self._logger.info("left %s as asked; connecting again", self._where)
                delay = self._backoff.first_s
                continue
            except self._retry_on as err:
                error = err
            finally:
                self._disconnected()
            since = self._take_connected_at()
            lasted = None if since is None else loop.time() - since
            if lasted is not None and lasted >= self._backoff.max_s:
                delay = self._backoff.first_s
            self._failed(error, delay, lost=lasted is not None)
            await asyncio.sleep(self._backoff.jittered(delay))
            delay = self._backoff.after(delay)

    def _take_connected_at(self) -> float | None:
        """When the connection that just ended came up; None if it never did."""
        since, self._connected_at = self._connected_at, None
        return since

    async def _connection(self) -> None:
        settings = self._settings
        if not isinstance(settings, ClientSettings):
            settings = await settings()
            self._where = f"{self._name} {settings.address}"
        async with aiomqtt.Client(
            settings.host,
            settings.port,
            username=settings.username,
            password=settings.password,
            identifier=settings.client_id,
            clean_session=settings.clean_session,
            will=settings.will,
            tls_context=settings.tls,
            protocol=aiomqtt.ProtocolVersion.V311,
            keepalive=settings.keepalive_s,
            timeout=settings.timeout_s,
            # Small QoS 1 messages and their acks: Nagle's algorithm would hold
            # each one back by tens of milliseconds.
            socket_options=((socket.IPPROTO_TCP, socket.TCP_NODELAY, 1),),
            max_inflight_messages=settings.max_inflight,
        ) as client:
            _read_disconnection_reason(client)
            if settings.max_inflight is not None:
                # aiomqtt warns about every call while more than ten wait; a
                # full window of publishes and the subscriptions is the plan.
                client.pending_calls_threshold = settings.max_inflight + len(
                    self._subscriptions
                )
            for subscription in self._subscriptions:
                await client.subscribe(subscription, qos=1)
            self._client = client
            self._connected_at = asyncio.get_running_loop().time()
            self._connected.set()
            self._told.clear()
            self.last_error = None
            self._logger.info("connected to %s", self._where)
            if self._on_connect is not None:
                await self._on_connect()
            work = (
                asyncio.create_task(self._connected_work(self._while_connected, client))
                if self._while_connected is not None
                else None
            )
            try:
                await self._hand_over_until_asked(client)
            finally:
                if work is not None:
                    work.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await work

    async def _connected_work(
        self, work: ConnectedWork, client: aiomqtt.Client
    ) -> None:
        try:
            await work(client)
        except aiomqtt.MqttError as err:
            # The message loop sees a lost connection too and ends the session.
            self._logger.warning("work on %s stopped: %s", self._where, err)
        except Exception:
            self._logger.exception("work on %s failed", self._where)

    async def _hand_over_until_asked(self, client: aiomqtt.Client) -> None:
        """Hand over messages until the connection fails or a reconnect is asked."""
        self._reconnect_asked.clear()
        hand_over = asyncio.create_task(self._hand_over(client))
        asked = asyncio.create_task(self._reconnect_asked.wait())
        try:
            await asyncio.wait({hand_over, asked}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (hand_over, asked):
                task.cancel()
            await asyncio.gather(hand_over, asked, return_exceptions=True)
        if hand_over.done() and not hand_over.cancelled():
            hand_over.result()  # the error that ended the message loop
        if asked.done() and not asked.cancelled():
            raise ReconnectAskedError("reconnect asked")

    async def _hand_over(self, client: aiomqtt.Client) -> None:
        async for message in client.messages:
            name = str(message.topic)
            try:
                await self._on_message(name, _payload_bytes(message.payload))
            except Exception:
                self._logger.exception("handling a message on %s failed", name)

    def _disconnected(self) -> None:
        was_connected = self._connected.is_set()
        self._connected.clear()
        self._client = None
        if was_connected and self._on_disconnect is not None:
            self._on_disconnect()

    def _failed(self, error: Exception, delay: float, *, lost: bool) -> None:
        self.last_error = str(error)
        if self._on_error is not None:
            self._on_error(error)
        if isinstance(error, MqttConnectError):
            refusal = str(error)
            if refusal not in self._told:
                self._told.add(refusal)
                self._logger.error(
                    "%s refused the connection (%s): check the user name, "
                    "password and client id; retrying in %.1f s",
                    self._where,
                    error,
                    delay,
                )
                return
        elif "unreachable" not in self._told:
            self._told.add("unreachable")
            if lost:
                self._logger.warning(
                    "lost the connection to %s (%s); reconnecting in %.1f s",
                    self._where,
                    error,
                    delay,
                )
            else:
                self._logger.warning(
                    "%s unreachable (%s); retrying in %.1f s",
                    self._where,
                    error,
                    delay,
                )
            return
        self._logger.debug(
            "%s still unreachable (%s); retrying in %.1f s", self._where, error, delay
        )


def _payload_bytes(payload: object) -> bytes:
    """A received payload as bytes (paho hands over bytes; be safe with the rest)."""
    if isinstance(payload, bytes | bytearray):
        return bytes(payload)
    return b"" if payload is None else str(payload).encode()


def _read_disconnection_reason(client: aiomqtt.Client) -> None:
    """Mark the reason of a lost connection as read once it is known.

    aiomqtt keeps it in a future that only its message loop awaits. When the
    connection is lost before that loop runs (a hook waiting for a PUBACK, a
    subscription), nobody reads it and asyncio prints "Future exception was
    never retrieved" with a traceback; the session reports the loss already.
    """
    disconnected: asyncio.Future[None] = client._disconnected  # noqa: SLF001
    disconnected.add_done_callback(
        lambda future: None if future.cancelled() else future.exception()
    )
