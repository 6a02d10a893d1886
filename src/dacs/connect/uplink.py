"""Watch the home broker for the status page: bridge state, queue, commands.

paho-mqtt runs its network loop in a thread; every observation is handed to
the event loop, where the status board lives.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
import contextlib
from datetime import UTC, datetime
import logging
import threading
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from dacs.protocol import (
    BrokerMove,
    Cancel,
    Channel,
    Command,
    ProtocolError,
    decode,
    topic,
)

from .bridge import BRIDGE_STATE_TOPIC, RETAINED_COUNT_TOPIC, STORE_COUNT_TOPIC
from .status import CommandSeen, StatusBoard, UplinkState

_LOGGER = logging.getLogger(__name__)

_RECONNECT_MIN_S = 1
_RECONNECT_MAX_S = 10
_KEEPALIVE_S = 30


class UplinkMonitor:
    """A read-only MQTT client of the home broker that feeds a StatusBoard."""

    def __init__(
        self,
        board: StatusBoard,
        *,
        host: str,
        port: int,
        username: str,
        password: str,
        client_id: str = "dacs-connect-status",
        on_broker_move: Callable[[BrokerMove], None] | None = None,
    ) -> None:
        """Prepare the client; start() connects (and keeps reconnecting).

        ``on_broker_move`` is called on the event loop with every valid
        broker move on the watched home's command topic.
        """
        self._board = board
        self._on_broker_move = on_broker_move
        self._host = host
        self._port = port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()
        self._command_topic: str | None = None
        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=True
        )
        self._client.username_pw_set(username, password)
        self._client.reconnect_delay_set(_RECONNECT_MIN_S, _RECONNECT_MAX_S)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_message = self._on_message

    def start(self) -> None:
        """Connect in the background; call from the event loop."""
        self._loop = asyncio.get_running_loop()
        self._client.connect_async(self._host, self._port, keepalive=_KEEPALIVE_S)
        self._client.loop_start()

    def stop(self) -> None:
        """Disconnect and stop the network thread."""
        self._client.disconnect()
        self._client.loop_stop()

    def watch_home(self, home_id: str) -> None:
        """Also follow ``home_id``'s command topic (retained: the one in force)."""
        new_topic = topic(home_id, Channel.COMMAND)
        with self._lock:
            old_topic, self._command_topic = self._command_topic, new_topic
        if old_topic == new_topic:
            return
        if old_topic is not None:
            self._client.unsubscribe(old_topic)
        # When not connected yet, _on_connect subscribes.
        if self._client.is_connected():
            self._client.subscribe(new_topic, qos=1)

    def _on_connect(
        self,
        client: mqtt.Client,
        _userdata: Any,
        _flags: mqtt.ConnectFlags,
        reason: ReasonCode,
        _properties: Properties | None,
    ) -> None:
        if reason.is_failure:
            _LOGGER.warning(
                "status monitor cannot log in to the home broker: %s", reason
            )
            return
        subscriptions = [
            (BRIDGE_STATE_TOPIC, 0),
            (STORE_COUNT_TOPIC, 0),
            (RETAINED_COUNT_TOPIC, 0),
        ]
        with self._lock:
            if self._command_topic is not None:
                subscriptions.append((self._command_topic, 1))
        client.subscribe(subscriptions)
        self._hand_over(self._board.set_local_broker, connected=True)

    def _on_disconnect(
        self,
        _client: mqtt.Client,
        _userdata: Any,
        _flags: mqtt.DisconnectFlags,
        reason: ReasonCode,
        _properties: Properties | None,
    ) -> None:
        _LOGGER.debug("status monitor disconnected from the home broker: %s", reason)
        self._hand_over(self._board.set_local_broker, connected=False)

    def _on_message(
        self, _client: mqtt.Client, _userdata: Any, message: mqtt.MQTTMessage
    ) -> None:
        payload = bytes(message.payload)
        if message.topic == BRIDGE_STATE_TOPIC:
            state = {b"1": UplinkState.UP, b"0": UplinkState.DOWN}.get(
                payload.strip(), UplinkState.UNKNOWN
            )
            self._hand_over(self._board.set_uplink, state)
        elif message.topic == STORE_COUNT_TOPIC:
            if (count := _count(payload)) is not None:
                self._hand_over(self._board.set_stored_messages, count)
        elif message.topic == RETAINED_COUNT_TOPIC:
            if (count := _count(payload)) is not None:
                self._hand_over(self._board.set_retained_messages, count)
        elif message.topic == self._command_topic and payload:
            self._hand_over(self._board.set_last_command, describe_command(payload))
            if self._on_broker_move is not None and b'"broker_move"' in payload:
                self._broker_move(payload, self._on_broker_move)

    def _broker_move(
        self, payload: bytes, follow: Callable[[BrokerMove], None]
    ) -> None:
        try:
            message = decode(payload, channel=Channel.COMMAND)
        except ProtocolError as err:
            # describe_command shows it on the status page; the bridge stays.
            _LOGGER.warning("refused a broker move: %s", err)
            return
        if isinstance(message, BrokerMove):
            self._hand_over(follow, message)

    def _hand_over(
        self, function: Callable[..., None], *args: Any, **kwargs: Any
    ) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        # The loop may close between the check and the call while shutting down.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(lambda: function(*args, **kwargs))


def describe_command(payload: bytes) -> CommandSeen:
    """What the status page shows of a message on the command topic."""
    now = datetime.now(UTC)
    try:
        message = decode(payload, channel=Channel.COMMAND)
    except ProtocolError as err:
        return CommandSeen(received_at=now, kind="invalid", error=str(err))
    if isinstance(message, Command):
        return CommandSeen(
            received_at=now,
            kind="command",
            command_id=message.command_id,
            reason=message.reason.value,
            issued_at=message.issued_at,
            expires_at=message.expires_at,
        )
    if isinstance(message, Cancel):
        return CommandSeen(
            received_at=now,
            kind="cancel",
            command_id=message.command_id,
            issued_at=message.issued_at,
        )
    if isinstance(message, BrokerMove):
        return CommandSeen(
            received_at=now,
            kind="broker_move",
            command_id=message.move_id,
            reason=f"to broker {message.broker.broker_id}",
            issued_at=message.issued_at,
        )
    return CommandSeen(received_at=now, kind="invalid", error="not a command")


def _count(payload: bytes) -> int | None:
    try:
        return int(payload)
    except ValueError:
        return None
