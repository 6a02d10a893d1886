"""The VTN's MQTT notifier (OpenADR 3.1): a wake-up call for the poller.

A VTN that offers an MQTT notifier lists its broker at ``GET /notifiers``
and the topics of a program's events (per operation, and optionally one for
all) at ``GET /notifiers/mqtt/topics/programs/{programID}/events``; the VEN
subscribes to each listed topic once. Every message on
such a topic only asks the VEN to poll now: the poll stays the one path that
reads and applies events, so a lost, repeated or malformed notification can
never change what is in force.

Supported: ``mqtt://`` and ``mqtts://`` (TLS with the system's default
certificate checks) URIs, JSON serialization, authentication ``ANONYMOUS``
and ``OAUTH2_BEARER_TOKEN`` (the notifier's username, ``{clientID}`` replaced
by our client id, and the current access token as the password).
``CERTIFICATE`` authentication is not supported: the VEN then polls only.

The connection is a ``dacs.mqtt.MqttSession``, like the home's and the
aggregator's links.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
import json
import logging
import ssl
from typing import Any
from urllib.parse import urlsplit

from paho.mqtt.client import topic_matches_sub

from dacs.excerpt import quoted
from dacs.mqtt import Backoff, ClientSettings, MqttSession

from .errors import NotifierError, OpenAdrError

_LOGGER = logging.getLogger(__name__)

DEFAULT_PORTS = {"mqtt": 1883, "mqtts": 8883}
FIRST_RETRY_S = 1.0
MAX_RETRY_S = 60.0


@dataclass(frozen=True, kw_only=True)
class MqttNotifier:
    """Where and how to connect to the VTN's MQTT broker."""

    host: str
    port: int
    tls: bool
    username: str | None = None  # set: OAUTH2_BEARER_TOKEN, the token is the password

    @property
    def uri(self) -> str:
        """The broker as a URI, for logs."""
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"


def mqtt_notifier(
    details: dict[str, Any] | None, *, client_id: str
) -> MqttNotifier | None:
    """The MQTT binding of a ``GET /notifiers`` answer; None when the VTN offers none.

    Raises NotifierError when the binding exists but cannot be used.
    """
    binding = (details or {}).get("MQTT")
    if binding is None or binding is False:
        return None
    if not isinstance(binding, dict):
        raise NotifierError("the MQTT notifier binding is not a JSON object")
    serialization = binding.get("serialization", "JSON")
    if serialization != "JSON":
        raise NotifierError(
            f"MQTT notifier serialization {quoted(serialization)} is not JSON"
        )
    auth = binding.get("authentication") or {"method": "ANONYMOUS"}
    method = auth.get("method") if isinstance(auth, dict) else None
    username: str | None = None
    if method == "OAUTH2_BEARER_TOKEN":
        username = str(auth.get("username") or "{clientID}").replace(
            "{clientID}", client_id
        )
    elif method != "ANONYMOUS":
        raise NotifierError(
            f"MQTT notifier authentication {quoted(method)} is not supported "
            "(ANONYMOUS and OAUTH2_BEARER_TOKEN are)"
        )
    uris = binding.get("URIS")
    if not isinstance(uris, list):
        raise NotifierError("the MQTT notifier binding has no URIS list")
    for uri in uris:
        try:
            parts = urlsplit(str(uri))
        except ValueError:  # a broken IPv6 host: no URI the VEN can use
            continue
        if parts.scheme in DEFAULT_PORTS and parts.hostname:
            try:
                port = parts.port or DEFAULT_PORTS[parts.scheme]
            except ValueError as err:
                raise NotifierError(f"MQTT notifier URI {quoted(uri)}: {err}") from err
            return MqttNotifier(
                host=parts.hostname,
                port=port,
                tls=parts.scheme == "mqtts",
                username=username,
            )
    raise NotifierError(
        f"no mqtt:// or mqtts:// URI among the notifier's {quoted(uris)}"
    )


def subscription_topics(listed: Sequence[Mapping[str, str]]) -> list[str]:
    """The topics to subscribe to, from each program's ``GET .../topics`` answer.

    The specification requires UPDATE and DELETE topics and makes CREATE and
    ALL optional, and a VTN may publish on the per-operation topics only, so
    every listed topic is taken; a topic that another listed one (a wildcard
    such as ``.../+``) already covers is left out, so one change arrives once.
    """
    topics = list(dict.fromkeys(t for answer in listed for t in answer.values()))
    return [
        topic
        for topic in topics
        if not any(
            other != topic and topic_matches_sub(other, topic) for other in topics
        )
    ]


type Password = Callable[[], Awaitable[str]]


async def listen(
    notifier: MqttNotifier,
    topics: Sequence[str],
    on_message: Callable[[bytes], None],
    *,
    password: Password,
    on_error: Callable[[Exception], None],
) -> None:
    """Subscribe to ``topics`` and call ``on_message`` per message, until cancelled.

    A lost or refused connection is reported to ``on_error`` and retried
    with exponential back-off (1 s doubling to 60 s; a connection that lasted
    60 s starts over at 1 s).
    """

    async def settings() -> ClientSettings:
        # A bearer token expires: fetch a current one for every connection.
        secret = await password() if notifier.username is not None else None
        return ClientSettings(
            host=notifier.host,
            port=notifier.port,
            username=notifier.username,
            password=secret,
            tls=ssl.create_default_context() if notifier.tls else None,
        )

    async def notified(_topic: str, payload: bytes) -> None:
        on_message(payload)

    session = MqttSession(
        settings,
        subscriptions=topics,
        on_message=notified,
        on_error=on_error,
        backoff=Backoff(FIRST_RETRY_S, MAX_RETRY_S),
        retry_on=(OSError, OpenAdrError),
        name="the OpenADR MQTT notifier",
        logger=_LOGGER,
    )
    await session.run()


def describe(payload: bytes) -> str:
    """A notification's object type, operation and id, or why it is malformed.

    Only for logs: the poll that follows reads the truth from the VTN.
    """
    try:
        body = json.loads(payload)
    except ValueError as err:
        return f"malformed ({err})"
    except RecursionError:
        return "malformed (nested too deeply)"
    if not isinstance(body, dict):
        return "malformed (not a JSON object)"
    target = body.get("object")
    object_id = target.get("id") if isinstance(target, dict) else None
    return f"{body.get('objectType')} {body.get('operation')} {object_id}"
