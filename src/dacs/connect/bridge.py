"""The home broker's ``mosquitto.conf``: a local listener and the bridge.

The home broker is the only MQTT peer of the Home Assistant integration. It
keeps QoS 1 messages on disk while the uplink is down and bridges exactly
this home's topics to the central broker over TLS, logged in with the
credentials from enrollment. Before enrollment it runs without a bridge.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from dacs.protocol import Channel, EnrollmentResponse, topic
from dacs.protocol.topics import AGGREGATOR_TO_HOME, HOME_TO_AGGREGATOR

BRIDGE_CONNECTION = "dacs-aggregator"
# Mosquitto publishes "1" (up) or "0" (down) here, retained, on the home broker.
BRIDGE_STATE_TOPIC = f"$SYS/broker/connection/{BRIDGE_CONNECTION}/state"
# Messages in the store: retained ones plus those queued for offline sessions.
STORE_COUNT_TOPIC = "$SYS/broker/store/messages/count"
RETAINED_COUNT_TOPIC = "$SYS/broker/retained messages/count"
DEFAULT_SYSTEM_CA_FILE = Path("/etc/ssl/certs/ca-certificates.crt")
BRIDGE_QOS = 1


@dataclass(frozen=True, kw_only=True)
class HomeBrokerSettings:
    """Where the home broker keeps its files and how it behaves."""

    password_file: Path
    persistence_dir: Path
    # Written from the enrollment's CA certificate, when it brings one.
    bridge_ca_file: Path
    # Used when the enrollment brings no CA: the central broker then has a
    # certificate from a public CA.
    system_ca_file: Path = DEFAULT_SYSTEM_CA_FILE
    listen_port: int = 1883
    listen_address: str | None = None  # None: every interface of the container
    run_as_user: str | None = None
    # Persistence is written every minute and at shutdown: a power cut loses
    # at most a minute of queued telemetry, and an SD card is spared.
    autosave_interval_s: int = 60
    sys_interval_s: int = 10
    # Per client, so also the bridge's queue: a day of telemetry at one
    # message per second fits.
    max_queued_messages: int = 100_000
    # Decorrelated-jitter back-off between bridge reconnection attempts, so a
    # restarted central broker is not hit by every home at once.
    restart_timeout_s: tuple[int, int] = (2, 30)
    keepalive_s: int = 60
    # stderr: Mosquitto block-buffers stdout when it is not a terminal.
    log_dest: str | None = "stderr"

    @classmethod
    def in_directory(cls, broker_dir: Path) -> HomeBrokerSettings:
        """Default settings with every file under ``broker_dir``.

        Change tunables with ``dataclasses.replace``.
        """
        return cls(
            password_file=broker_dir / "passwords",
            persistence_dir=broker_dir,
            bridge_ca_file=broker_dir / "aggregator-ca.crt",
        )


def outgoing_topics(home_id: str) -> tuple[str, ...]:
    """The topics the bridge forwards from the home to the central broker."""
    return tuple(topic(home_id, c) for c in Channel if c in HOME_TO_AGGREGATOR)


def incoming_topics(home_id: str) -> tuple[str, ...]:
    """The topics the bridge subscribes to on the central broker."""
    return tuple(topic(home_id, c) for c in Channel if c in AGGREGATOR_TO_HOME)


def bridge_cafile(settings: HomeBrokerSettings, enrollment: EnrollmentResponse) -> Path:
    """The CA file the bridge trusts for this enrollment."""
    if enrollment.mqtt.ca_certificate:
        return settings.bridge_ca_file
    return settings.system_ca_file


def render_home_broker_config(
    settings: HomeBrokerSettings, enrollment: EnrollmentResponse | None
) -> str:
    """The text of the home broker's ``mosquitto.conf``."""
    lines = [
        "# DACS Connect home broker; rewritten by the add-on at every start.",
        "allow_anonymous false",
        f"password_file {settings.password_file}",
        "persistence true",
        f"persistence_location {_directory(settings.persistence_dir)}",
        f"autosave_interval {settings.autosave_interval_s}",
        f"max_queued_messages {settings.max_queued_messages}",
        "queue_qos0_messages false",
        f"sys_interval {settings.sys_interval_s}",
    ]
    if settings.run_as_user is not None:
        lines.append(f"user {settings.run_as_user}")
    if settings.log_dest:
        lines.append(f"log_dest {settings.log_dest}")
    lines += [
        "",
        "# For the Home Assistant integration (and this add-on's status page).",
        _listener(settings.listen_port, settings.listen_address),
    ]
    if enrollment is not None:
        lines += ["", *_bridge(settings, enrollment)]
    return "\n".join(lines) + "\n"


def _bridge(settings: HomeBrokerSettings, enrollment: EnrollmentResponse) -> list[str]:
    home_id = enrollment.home_id
    mqtt = enrollment.mqtt
    for name, value in (
        ("host", mqtt.host),
        ("username", mqtt.username),
        ("password", mqtt.password),
    ):
        _check_config_value(name, value)
    base, cap = settings.restart_timeout_s
    lines = [
        "# The uplink: only this home's topics, QoS 1, over TLS.",
        f"connection {BRIDGE_CONNECTION}",
        f"address {mqtt.host}:{mqtt.port}",
        f"remote_clientid dacs-connect-{home_id}",
        f"remote_username {mqtt.username}",
        f"remote_password {mqtt.password}",
        f"bridge_cafile {bridge_cafile(settings, enrollment)}",
        "bridge_insecure false",
        "bridge_tls_version tlsv1.2",
        "bridge_protocol_version mqttv311",
        "# Keep the session on both ends: queued messages survive an outage.",
        "cleansession false",
        "# Announce the bridge to the central Mosquitto: it then forwards the",
        "# retain flag of live messages, so a command stays retained here too",
        "# (a plain MQTT 3.1.1 client gets live messages with retain=0).",
        "try_private true",
        f"restart_timeout {base} {cap}",
        f"keepalive_interval {settings.keepalive_s}",
        "start_type automatic",
        "notifications true",
        "notifications_local_only true",
        f"notification_topic {BRIDGE_STATE_TOPIC}",
    ]
    lines += [f"topic {name} out {BRIDGE_QOS}" for name in outgoing_topics(home_id)]
    lines += [f"topic {name} in {BRIDGE_QOS}" for name in incoming_topics(home_id)]
    return lines


def _check_config_value(name: str, value: str) -> None:
    # A value with white space or a line break would end the directive early
    # or inject another one into the broker's configuration.
    if any(c.isspace() or not c.isprintable() for c in value):
        raise ValueError(
            f"the enrollment's broker {name} contains white space or control "
            "characters and cannot be written to mosquitto.conf"
        )


def _listener(port: int, address: str | None) -> str:
    return f"listener {port}" if address is None else f"listener {port} {address}"


def _directory(path: Path) -> str:
    # Mosquitto appends the file name to persistence_location as it is.
    return f"{str(path).rstrip('/')}/"
