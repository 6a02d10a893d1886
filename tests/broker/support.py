"""Test support shared by tests/broker and tests/connect.

A throwaway certificate authority made with the ``openssl`` CLI, a central
broker started from the configuration ``dacs.broker`` renders, and a small
blocking MQTT probe built on paho-mqtt.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
import queue
import subprocess
import threading
import time
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from dacs.broker import (
    CentralBrokerOptions,
    render_acl,
    render_central_config,
    set_user,
)
from dacs.testbed.servers import MosquittoBroker, find_free_port

AGGREGATOR_USER = "dacs-aggregator"
AGGREGATOR_PASSWORD = "aggregator-secret-0123456789"


@dataclass(frozen=True)
class Pki:
    """A CA and a server certificate for 127.0.0.1 / localhost."""

    ca_file: Path
    cert_file: Path
    key_file: Path

    @property
    def ca_pem(self) -> str:
        return self.ca_file.read_text()


def make_pki(directory: Path, name: str = "DACS test CA") -> Pki:
    """Create a CA and a server certificate signed by it (EC P-256, 2 days)."""
    directory.mkdir(parents=True, exist_ok=True)
    ca_key, ca_file = directory / "ca.key", directory / "ca.crt"
    key_file, csr, cert_file = (
        directory / "server.key",
        directory / "server.csr",
        directory / "server.crt",
    )
    extensions = directory / "server.ext"
    extensions.write_text(
        "basicConstraints=critical,CA:FALSE\n"
        "keyUsage=critical,digitalSignature\n"
        "extendedKeyUsage=serverAuth\n"
        "subjectAltName=IP:127.0.0.1,DNS:localhost\n"
        "subjectKeyIdentifier=hash\n"
        "authorityKeyIdentifier=keyid,issuer\n"
    )
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    _openssl(
        "req", "-x509", *ec, "-keyout", ca_key, "-out", ca_file, "-days", "2",
        "-subj", f"/CN={name}",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
    )  # fmt: skip
    _openssl(
        "req", "-new", *ec, "-keyout", key_file, "-out", csr, "-subj", "/CN=localhost"
    )  # fmt: skip
    _openssl(
        "x509", "-req", "-in", csr, "-CA", ca_file, "-CAkey", ca_key,
        "-CAcreateserial", "-out", cert_file, "-days", "2", "-extfile", extensions,
    )  # fmt: skip
    return Pki(ca_file=ca_file, cert_file=cert_file, key_file=key_file)


def _openssl(*arguments: str | Path) -> None:
    subprocess.run(
        ["openssl", *map(str, arguments)], check=True, capture_output=True, timeout=30
    )


@dataclass
class Central:
    """A central broker: TLS for homes, a plain loopback port for the aggregator."""

    broker: MosquittoBroker
    tls_port: int
    password_file: Path

    @property
    def plain_port(self) -> int:
        return self.broker.port


def start_central(
    workdir: Path, pki: Pki, homes: dict[str, str], *, start: bool = True
) -> Central:
    """A central broker with the rendered ACL, users ``homes`` + the aggregator."""
    workdir.mkdir(parents=True, exist_ok=True)
    password_file = workdir / "passwords"
    set_user(password_file, AGGREGATOR_USER, AGGREGATOR_PASSWORD)
    for home_id, password in homes.items():
        set_user(password_file, home_id, password)
    acl_file = workdir / "acl"
    acl_file.write_text(render_acl(AGGREGATOR_USER))
    tls_port = find_free_port()
    options = CentralBrokerOptions(
        tls_port=tls_port,
        tls_address="127.0.0.1",
        cafile=str(pki.ca_file),
        certfile=str(pki.cert_file),
        keyfile=str(pki.key_file),
        password_file=str(password_file),
        acl_file=str(acl_file),
        persistence_location=str(workdir / "data"),
        autosave_interval_s=1,
        # MosquittoBroker's own 127.0.0.1 listener is the plain one.
        plain_port=None,
        # MosquittoBroker watches stderr for the broker's start.
        log_dest=None,
    )
    (workdir / "data").mkdir(exist_ok=True)
    broker = MosquittoBroker(
        workdir=workdir,
        allow_anonymous=False,
        extra_config=render_central_config(options),
    )
    if start:
        broker.start()
    return Central(broker=broker, tls_port=tls_port, password_file=password_file)


class MqttProbe:
    """A blocking MQTT client for tests: connect, subscribe, publish, collect."""

    def __init__(
        self,
        port: int,
        *,
        username: str | None = None,
        password: str | None = None,
        client_id: str = "",
        clean_session: bool = True,
        ca_file: Path | None = None,
        protocol: int = mqtt.MQTTv311,
    ) -> None:
        self.port = port
        self.messages: queue.Queue[mqtt.MQTTMessage] = queue.Queue()
        self._subacks: queue.Queue[list[ReasonCode]] = queue.Queue()
        self._connacks: queue.Queue[ReasonCode] = queue.Queue()
        self._subscriptions: list[tuple[str, int]] = []
        self.connected = threading.Event()
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            clean_session=clean_session if protocol != mqtt.MQTTv5 else None,
            protocol=protocol,
        )
        if username is not None:
            self.client.username_pw_set(username, password)
        if ca_file is not None:
            self.client.tls_set(ca_certs=str(ca_file))
        self.client.reconnect_delay_set(0.2, 1)
        self.client.max_queued_messages_set(0)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = lambda *_args: self.connected.clear()
        self.client.on_subscribe = lambda _c, _u, _mid, codes, _p: self._subacks.put(
            list(codes)
        )
        self.client.on_message = lambda _c, _u, message: self.messages.put(message)

    def _on_connect(
        self, client: mqtt.Client, _u: Any, _f: Any, reason: ReasonCode, _p: Any
    ) -> None:
        self._connacks.put(reason)
        if reason.is_failure:
            return
        if self._subscriptions:
            # Subscribe again after every reconnect: robust with any session.
            client.subscribe(self._subscriptions)
        self.connected.set()

    def connect(self, timeout: float = 10.0) -> ReasonCode:
        """Connect and wait for the CONNACK; returns its reason code."""
        self.client.connect("127.0.0.1", self.port, keepalive=10)
        self.client.loop_start()
        reason = self._connacks.get(timeout=timeout)
        if reason.is_failure:
            self.close()
        return reason

    def subscribe(
        self, topic: str, qos: int = 1, timeout: float = 5.0
    ) -> list[ReasonCode]:
        """Subscribe and wait for the SUBACK's reason codes."""
        self._subscriptions.append((topic, qos))
        self.client.subscribe(topic, qos)
        return self._subacks.get(timeout=timeout)

    def publish(
        self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False
    ) -> None:
        """Publish and wait until the broker acknowledged it (QoS 1)."""
        info = self.client.publish(topic, payload, qos=qos, retain=retain)
        info.wait_for_publish(timeout=5)
        assert info.is_published(), f"publish to {topic} was not acknowledged"

    def collect(self, seconds: float) -> list[mqtt.MQTTMessage]:
        """Everything that arrives within ``seconds``."""
        deadline = time.monotonic() + seconds
        collected: list[mqtt.MQTTMessage] = []
        while (left := deadline - time.monotonic()) > 0:
            try:
                collected.append(self.messages.get(timeout=left))
            except queue.Empty:
                break
        return collected

    def wait_for(
        self,
        predicate: Callable[[mqtt.MQTTMessage], bool],
        timeout: float = 10.0,
    ) -> mqtt.MQTTMessage:
        """The first message matching ``predicate``; AssertionError on timeout."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                message = self.messages.get(timeout=left)
            except queue.Empty:
                break
            if predicate(message):
                return message
        raise AssertionError(f"no matching message within {timeout} s")

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
