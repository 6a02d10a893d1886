"""The home broker's configuration and its bridge on real brokers."""

from __future__ import annotations

from dataclasses import replace
import json
from pathlib import Path
import stat

import pytest

from dacs.broker import list_users
from dacs.connect import (
    HomeBrokerSettings,
    incoming_topics,
    outgoing_topics,
    prepare_home_broker,
    render_home_broker_config,
)
from dacs.protocol import decode_enrollment_response
from tests.broker.support import (
    AGGREGATOR_PASSWORD,
    AGGREGATOR_USER,
    MqttProbe,
    Pki,
    make_pki,
)

from .conftest import HOME_ID, enrollment_body
from .homes import (
    OTHER_HOME,
    central_broker,
    enrollment_for,
    loopback_settings,
    start_home_broker,
)

ENROLLMENT = decode_enrollment_response(
    json.dumps(enrollment_body(host="broker.example", port=8883, ca_certificate="PEM"))
)


def _directives(text: str) -> list[str]:
    return [line for line in text.splitlines() if line and not line.startswith("#")]


def test_before_enrollment_there_is_no_bridge(tmp_path: Path) -> None:
    settings = HomeBrokerSettings.in_directory(tmp_path)
    directives = _directives(render_home_broker_config(settings, None))
    assert "allow_anonymous false" in directives
    assert f"password_file {tmp_path}/passwords" in directives
    assert "persistence true" in directives
    assert f"persistence_location {tmp_path}/" in directives
    assert "listener 1883" in directives
    assert not [
        d for d in directives if d.startswith(("connection", "topic", "address"))
    ]


def test_the_bridge_carries_only_this_homes_topics(tmp_path: Path) -> None:
    settings = HomeBrokerSettings.in_directory(tmp_path)
    directives = _directives(render_home_broker_config(settings, ENROLLMENT))
    bridge = directives[directives.index("connection dacs-aggregator") :]
    assert [d for d in bridge if d.startswith("topic ")] == [
        "topic dacs/v1/h-0001/ack out 1",
        "topic dacs/v1/h-0001/telemetry out 1",
        "topic dacs/v1/h-0001/status out 1",
        "topic dacs/v1/h-0001/preferences out 1",
        "topic dacs/v1/h-0001/command in 1",
        "topic dacs/v1/h-0001/statement in 1",
        "topic dacs/v1/h-0001/receipt in 1",
    ]
    assert outgoing_topics(HOME_ID)[0] == "dacs/v1/h-0001/ack"
    assert incoming_topics(HOME_ID) == (
        "dacs/v1/h-0001/command",
        "dacs/v1/h-0001/statement",
        "dacs/v1/h-0001/receipt",
    )
    for directive in (
        "address broker.example:8883",
        "remote_username h-0001",
        "remote_password home-one-secret-0123456789",
        f"bridge_cafile {tmp_path}/aggregator-ca.crt",
        "bridge_insecure false",
        "bridge_protocol_version mqttv311",
        "cleansession false",
        "restart_timeout 2 30",
        "notifications true",
        "notifications_local_only true",
        "notification_topic $SYS/broker/connection/dacs-aggregator/state",
    ):
        assert directive in bridge
    assert "max_queued_messages 100000" in directives
    assert "queue_qos0_messages false" in directives
    # Without a CA in the enrollment the system's CAs are trusted.
    public = replace(ENROLLMENT, mqtt=replace(ENROLLMENT.mqtt, ca_certificate=None))
    assert (
        "bridge_cafile /etc/ssl/certs/ca-certificates.crt"
        in render_home_broker_config(settings, public)
    )
    injected = replace(
        ENROLLMENT, mqtt=replace(ENROLLMENT.mqtt, password="x\nuser root")
    )
    with pytest.raises(ValueError, match="password contains white space"):
        render_home_broker_config(settings, injected)


def test_prepare_writes_private_files_once(tmp_path: Path) -> None:
    settings = loopback_settings(tmp_path)
    first = prepare_home_broker(tmp_path, settings, None)
    assert first.changed
    assert not first.bridged
    assert sorted(list_users(settings.password_file)) == [
        "dacs-connect",
        "homeassistant",
    ]
    for private in (
        tmp_path / "local-credentials.json",
        first.config_file,
        settings.password_file,
    ):
        assert stat.S_IMODE(private.stat().st_mode) == 0o600, private
    again = prepare_home_broker(tmp_path, settings, None)
    assert not again.changed
    assert again.credentials == first.credentials
    bridged = prepare_home_broker(tmp_path, settings, ENROLLMENT)
    assert bridged.changed
    assert bridged.bridged
    assert settings.bridge_ca_file.read_text() == "PEM"
    assert not prepare_home_broker(tmp_path, settings, ENROLLMENT).changed
    # Lost credentials: new ones, and a password file that matches them.
    (tmp_path / "local-credentials.json").unlink()
    renewed = prepare_home_broker(tmp_path, settings, ENROLLMENT)
    assert renewed.changed
    assert renewed.credentials != first.credentials


def test_commands_reach_only_their_home(tmp_path: Path, pki: Pki) -> None:
    central = central_broker(tmp_path / "central", pki)
    home = start_home_broker(tmp_path / "home", enrollment_for(central, pki))
    aggregator = MqttProbe(
        central.plain_port, username=AGGREGATOR_USER, password=AGGREGATOR_PASSWORD
    )
    try:
        home.wait_for_bridge()
        assert not aggregator.connect().is_failure
        aggregator.subscribe("dacs/v1/#")
        local = home.integration("integration")
        local.subscribe("dacs/v1/#")
        aggregator.publish(
            f"dacs/v1/{OTHER_HOME}/command", b"for another home", retain=True
        )
        aggregator.publish(f"dacs/v1/{HOME_ID}/statement", b"statement", retain=True)
        aggregator.publish(f"dacs/v1/{HOME_ID}/command", b"for this home", retain=True)
        received = [local.wait_for(lambda m: m.payload == b"for this home")]
        received += local.collect(0.5)
        assert {m.payload for m in received} <= {b"statement", b"for this home"}
        assert b"for another home" not in {m.payload for m in received}
        # The command stays retained on the home broker: a client that
        # connects later (Home Assistant after a restart) still gets it.
        late = home.integration("restarted-integration")
        late.subscribe(f"dacs/v1/{HOME_ID}/command")
        kept = late.wait_for(lambda _m: True)
        assert (kept.payload, kept.retain) == (b"for this home", True)
        late.close()
        # Upwards only the home's own reports travel.
        aggregator.collect(0.2)
        local.publish(f"dacs/v1/{OTHER_HOME}/telemetry", b"not mine to send")
        local.publish(f"dacs/v1/{HOME_ID}/command", b"not upwards")
        local.publish(f"dacs/v1/{HOME_ID}/telemetry", b"telemetry")
        up = aggregator.wait_for(lambda m: m.topic.endswith("/telemetry"))
        assert (up.topic, up.payload) == (f"dacs/v1/{HOME_ID}/telemetry", b"telemetry")
        assert not [m for m in aggregator.collect(0.3) if m.payload != b"telemetry"]
        local.close()
    finally:
        aggregator.close()
        home.broker.cleanup()
        central.broker.cleanup()


def test_the_bridge_refuses_an_untrusted_central(tmp_path: Path, pki: Pki) -> None:
    central = central_broker(tmp_path / "central", pki)
    stranger = make_pki(tmp_path / "stranger", name="Someone else's CA")
    enrollment = enrollment_for(central, stranger)
    home = start_home_broker(tmp_path / "home", enrollment)
    try:
        home.wait_for_bridge(b"0", timeout=10)
        with pytest.raises(AssertionError, match="no matching message"):
            home.wait_for_bridge(b"1", timeout=3)
    finally:
        home.broker.cleanup()
        central.broker.cleanup()
