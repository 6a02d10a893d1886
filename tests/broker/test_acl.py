"""The central broker's ACL on a real Mosquitto: every home sees only its own topics."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
import ssl

import paho.mqtt.client as mqtt
import pytest

from dacs.broker import home_read_topics, home_write_topics, render_acl
from dacs.testbed.servers import MosquittoBroker

from .conftest import HOMES
from .support import (
    AGGREGATOR_PASSWORD,
    AGGREGATOR_USER,
    Central,
    MqttProbe,
    Pki,
    make_pki,
)


def _home(central: Central, home_id: str) -> MqttProbe:
    probe = MqttProbe(
        central.plain_port,
        username=home_id,
        password=HOMES[home_id],
        client_id=f"{home_id}-test",
    )
    assert not probe.connect().is_failure
    return probe


def _aggregator(central: Central, client_id: str = "aggregator") -> MqttProbe:
    probe = MqttProbe(
        central.plain_port,
        username=AGGREGATOR_USER,
        password=AGGREGATOR_PASSWORD,
        client_id=client_id,
    )
    assert not probe.connect().is_failure
    return probe


def _until(
    probe: MqttProbe, last: Callable[[mqtt.MQTTMessage], bool]
) -> list[mqtt.MQTTMessage]:
    """Every message up to and including the first ``last`` one, then 0.3 s more."""
    received = []
    while True:
        message = probe.wait_for(lambda _m: True)
        received.append(message)
        if last(message):
            return received + probe.collect(0.3)


def test_rendered_acl() -> None:
    text = render_acl("agg")
    assert home_write_topics() == (
        "dacs/v1/%u/ack",
        "dacs/v1/%u/telemetry",
        "dacs/v1/%u/status",
        "dacs/v1/%u/preferences",
    )
    assert home_read_topics() == (
        "dacs/v1/%u/command",
        "dacs/v1/%u/statement",
        "dacs/v1/%u/receipt",
    )
    rules = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert rules == [
        *(f"pattern write {t}" for t in home_write_topics()),
        *(f"pattern read {t}" for t in home_read_topics()),
        "user agg",
        "topic readwrite dacs/v1/#",
    ]


def test_a_home_publishes_only_its_own_reports(central: Central) -> None:
    aggregator = _aggregator(central)
    assert aggregator.subscribe("dacs/v1/#")[0].value == 1
    home = _home(central, "h-0001")
    try:
        # Mosquitto accepts a forbidden publish and drops it silently (MQTT
        # 3.1.1 has no way to refuse one), so the proof is what arrives.
        home.publish("dacs/v1/h-0002/telemetry", b"spoofed telemetry")
        home.publish("dacs/v1/h-0002/command", b"spoofed command")
        home.publish("dacs/v1/h-0001/command", b"a command to itself")
        home.publish("dacs/v1/h-0001/statement", b"a statement to itself")
        home.publish("dacs/v1/h-0001/receipt", b"a receipt to itself")
        home.publish("elsewhere/topic", b"outside the tree")
        for channel in ("ack", "status", "preferences", "telemetry"):
            home.publish(f"dacs/v1/h-0001/{channel}", channel.encode())
        # One client's messages arrive in order: the last legitimate one
        # closes the window in which a forbidden one would have shown up.
        received = _until(aggregator, lambda m: m.topic.endswith("/telemetry"))
    finally:
        home.close()
        aggregator.close()
    assert [m.topic for m in received] == [
        f"dacs/v1/h-0001/{channel}"
        for channel in ("ack", "status", "preferences", "telemetry")
    ]


def test_a_home_reads_only_its_own_commands(central: Central) -> None:
    aggregator = _aggregator(central)
    aggregator.publish("dacs/v1/h-0002/command", b"retained for two", retain=True)
    home = _home(central, "h-0001")
    try:
        # Mosquitto 2.0 grants the subscription but delivers nothing through it
        # (a later version may answer with a failure code: either is a refusal).
        codes = home.subscribe("dacs/v1/h-0002/command")
        assert codes[0].is_failure or codes[0].value == 1
        home.subscribe("dacs/v1/h-0002/statement")
        home.subscribe("dacs/v1/h-0002/receipt")
        home.subscribe("dacs/v1/#")
        home.subscribe("dacs/v1/h-0001/command")
        home.subscribe("dacs/v1/h-0001/receipt")
        aggregator.publish("dacs/v1/h-0002/command", b"live for two")
        aggregator.publish("dacs/v1/h-0002/statement", b"statement for two")
        aggregator.publish("dacs/v1/h-0002/receipt", b"receipt for two")
        aggregator.publish("dacs/v1/h-0002/telemetry", b"telemetry of two")
        aggregator.publish("dacs/v1/h-0001/command", b"for one", retain=True)
        aggregator.publish("dacs/v1/h-0001/receipt", b"receipt for one")
        first = home.wait_for(lambda m: m.payload == b"for one")
        received = [first, *home.collect(0.3)]
    finally:
        home.close()
        aggregator.close()
    assert {m.payload for m in received} == {b"for one", b"receipt for one"}


def test_the_aggregator_reads_every_home_also_shared(central: Central) -> None:
    everything = _aggregator(central, "aggregator-all")
    shared = _aggregator(central, "aggregator-shared")
    everything.subscribe("dacs/v1/+/telemetry")
    assert shared.subscribe("$share/aggregators/dacs/v1/+/telemetry")[0].value == 1
    one, two = _home(central, "h-0001"), _home(central, "h-0002")
    try:
        one.publish("dacs/v1/h-0001/telemetry", b"1")
        two.publish("dacs/v1/h-0002/telemetry", b"2")
        seen = {everything.wait_for(lambda _m: True).topic for _ in range(2)}
        seen_shared = {shared.wait_for(lambda _m: True).topic for _ in range(2)}
    finally:
        for probe in (one, two, everything, shared):
            probe.close()
    expected = {"dacs/v1/h-0001/telemetry", "dacs/v1/h-0002/telemetry"}
    assert seen == expected
    assert seen_shared == expected


def test_strangers_are_refused_and_homes_use_tls(
    central: Central, pki: Pki, tmp_path: Path
) -> None:
    for username, password in (
        (None, None),
        ("h-0009", "whatever-0123456789"),
        ("h-0001", "wrong"),
    ):
        probe = MqttProbe(central.plain_port, username=username, password=password)
        assert probe.connect().is_failure
    over_tls = MqttProbe(
        central.tls_port,
        username="h-0001",
        password=HOMES["h-0001"],
        ca_file=pki.ca_file,
    )
    assert not over_tls.connect().is_failure
    over_tls.close()
    stranger_ca = make_pki(tmp_path / "other-ca", name="Someone else's CA")
    untrusted = MqttProbe(
        central.tls_port,
        username="h-0001",
        password=HOMES["h-0001"],
        ca_file=stranger_ca.ca_file,
    )
    with pytest.raises(ssl.SSLCertVerificationError, match="certificate verify failed"):
        untrusted.connect()


def test_even_a_bridge_is_confined(central: Central) -> None:
    """A home's broker announcing itself as a bridge (try_private) gets no more rights."""
    aggregator = _aggregator(central)
    aggregator.subscribe("dacs/v1/#")
    rogue_config = "\n".join(
        [
            "connection rogue",
            f"address 127.0.0.1:{central.plain_port}",
            "remote_clientid rogue-h-0001",
            "remote_username h-0001",
            f"remote_password {HOMES['h-0001']}",
            "try_private true",
            "cleansession true",
            "notifications false",
            "topic dacs/v1/+/telemetry out 1",
        ]
    )
    with MosquittoBroker(extra_config=rogue_config) as rogue:
        local = MqttProbe(rogue.port)
        assert not local.connect().is_failure
        # Wait until the bridge is connected: its own topic arrives.
        for _ in range(50):
            local.publish("dacs/v1/h-0001/telemetry", b"own")
            if aggregator.collect(0.1):
                break
        else:
            raise AssertionError("the rogue bridge never connected")
        local.publish("dacs/v1/h-0002/telemetry", b"spoofed through a bridge")
        local.publish("dacs/v1/h-0001/telemetry", b"marker")
        aggregator.wait_for(lambda m: m.payload == b"marker")
        late = aggregator.collect(0.3)
        local.close()
    aggregator.close()
    assert all(m.topic == "dacs/v1/h-0001/telemetry" for m in late)
    assert not any(m.payload == b"spoofed through a bridge" for m in late)


def test_mqtt5_clients_are_confined_too(central: Central) -> None:
    """An MQTT 5 client is answered differently, but still nothing is delivered."""
    aggregator = _aggregator(central)
    aggregator.subscribe("dacs/v1/#")
    home = MqttProbe(
        central.plain_port,
        username="h-0001",
        password=HOMES["h-0001"],
        protocol=mqtt.MQTTv5,
    )
    assert not home.connect().is_failure
    try:
        info = home.client.publish("dacs/v1/h-0002/ack", b"spoofed", qos=1)
        info.wait_for_publish(5)
        home.publish("dacs/v1/h-0001/ack", b"own")
        received = _until(aggregator, lambda m: m.payload == b"own")
    finally:
        home.close()
        aggregator.close()
    assert [m.topic for m in received] == ["dacs/v1/h-0001/ack"]


def test_a_home_cannot_take_the_aggregators_client_id(
    central: Central, pki: Pki
) -> None:
    """Over TLS a home's client id is its user name, whatever it asks for."""
    aggregator = _aggregator(central, client_id="dacs-aggregator-1")
    aggregator.subscribe("dacs/v1/#")
    impostor = MqttProbe(
        central.tls_port,
        username="h-0001",
        password=HOMES["h-0001"],
        client_id="dacs-aggregator-1",
        ca_file=pki.ca_file,
    )
    try:
        assert not impostor.connect().is_failure
        impostor.publish("dacs/v1/h-0001/telemetry", b"{}", qos=1)
        # The aggregator kept its session: it still receives what homes send.
        message = aggregator.messages.get(timeout=5)
        assert message.topic == "dacs/v1/h-0001/telemetry"
        assert aggregator.connected.is_set()
    finally:
        impostor.close()
        aggregator.close()
