"""The central broker's ``mosquitto.conf``: TLS for homes, passwords, ACL."""

from __future__ import annotations

from dataclasses import dataclass

from dacs.protocol.codec import MAX_PAYLOAD_BYTES


@dataclass(frozen=True, kw_only=True)
class CentralBrokerOptions:
    """What varies between central broker deployments.

    Paths are as the broker sees them (inside its container, if any). The
    defaults match the ``eclipse-mosquitto`` image's layout under
    ``/mosquitto``.
    """

    tls_port: int = 8883
    tls_address: str | None = None  # None: every interface
    cafile: str = "/mosquitto/config/certs/ca.crt"
    certfile: str = "/mosquitto/config/certs/server.crt"
    keyfile: str = "/mosquitto/config/certs/server.key"
    tls_version: str = "tlsv1.2"  # the minimum accepted
    password_file: str = "/mosquitto/config/passwords"  # noqa: S105 - a path, not a secret
    acl_file: str = "/mosquitto/config/acl"
    persistence_location: str = "/mosquitto/data/"
    autosave_interval_s: int = 300
    # A listener without TLS for the aggregator only; it must not be
    # reachable from the internet. None: no such listener.
    plain_port: int | None = 1883
    plain_address: str | None = "127.0.0.1"
    # Per client: enough for the aggregator's sessions to ride out a restart
    # of the aggregator while every home keeps reporting.
    max_queued_messages: int = 100_000
    # stderr, not stdout: Mosquitto block-buffers stdout when it is not a
    # terminal, so container logs would arrive minutes late.
    log_dest: str | None = "stderr"
    # Commands and acks are small QoS 1 messages: with Nagle's algorithm on,
    # TCP holds each back until the previous segment is acknowledged (the
    # 10,000-home fan-out took 6.0 s instead of 0.95 s; benchmarks/bench_fanout.py).
    tcp_nodelay: bool = True
    # No protocol message is larger (topic and MQTT headers: the extra KiB);
    # a client sending a larger packet is disconnected before it is read.
    max_packet_bytes: int = MAX_PAYLOAD_BYTES + 1024


def render_central_config(options: CentralBrokerOptions) -> str:
    """The text of the central broker's ``mosquitto.conf``."""
    lines = [
        "# DACS-HW central broker, written by 'dacs broker render-config'.",
        "",
        "# Authentication and ACL apply to every listener.",
        "allow_anonymous false",
        f"password_file {options.password_file}",
        f"acl_file {options.acl_file}",
        "",
        "# Homes keep persistent sessions (their bridges connect with clean",
        "# session off): keep them and their queued QoS 1 messages across restarts.",
        "persistence true",
        f"persistence_location {_directory(options.persistence_location)}",
        f"autosave_interval {options.autosave_interval_s}",
        f"max_queued_messages {options.max_queued_messages}",
        "queue_qos0_messages false",
        "",
        "# Nothing larger than the protocol allows reaches anyone.",
        f"max_packet_size {options.max_packet_bytes}",
    ]
    if options.log_dest:
        lines += [f"log_dest {options.log_dest}"]
    if options.tcp_nodelay:
        lines += [
            "",
            "# Small messages leave at once instead of waiting for the previous",
            "# segment's TCP acknowledgement (Mosquitto 2.0 and later).",
            "set_tcp_nodelay true",
        ]
    lines += [
        "",
        "# Homes: MQTT over TLS; they log in with user name and password,",
        "# no client certificate.",
        _listener(options.tls_port, options.tls_address),
        f"cafile {options.cafile}",
        f"certfile {options.certfile}",
        f"keyfile {options.keyfile}",
        "require_certificate false",
        f"tls_version {options.tls_version}",
        "# A home's client id is its user name: no home can take another's",
        "# session or the aggregator's (which connects on its own listener).",
        "use_username_as_clientid true",
    ]
    if options.plain_port is not None:
        lines += [
            "",
            "# The aggregator: plain MQTT, never exposed outside the host or",
            "# the deployment's private network.",
            _listener(options.plain_port, options.plain_address),
        ]
    return "\n".join(lines) + "\n"


def _listener(port: int, address: str | None) -> str:
    return f"listener {port}" if address is None else f"listener {port} {address}"


def _directory(path: str) -> str:
    # Mosquitto joins persistence_location and the file name without a separator.
    return path if path.endswith("/") else f"{path}/"
