"""MQTT topics of the DACS home protocol v1: one subtree per home."""

from __future__ import annotations

from enum import StrEnum
import re

from dacs.excerpt import quoted

PROTOCOL_MAJOR = 1
PROTOCOL_VERSION = "1.2"  # 1.1 added the telemetry receipt, 1.2 the broker move
PREFIX = f"dacs/v{PROTOCOL_MAJOR}"

# Home ids become topic levels and broker user names: keep them plain.
HOME_ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{2,63}$")


class Channel(StrEnum):
    """The last topic level: which kind of message flows there."""

    COMMAND = "command"  # aggregator -> home, QoS 1, retained (command or cancel)
    ACK = "ack"  # home -> aggregator, QoS 1
    TELEMETRY = "telemetry"  # home -> aggregator, QoS 1
    STATUS = "status"  # home -> aggregator, QoS 1, retained, last will
    PREFERENCES = "preferences"  # home -> aggregator, QoS 1, retained
    STATEMENT = "statement"  # aggregator -> home, QoS 1, retained
    RECEIPT = "receipt"  # aggregator -> home, QoS 0 (since 1.1): telemetry stored


HOME_TO_AGGREGATOR = frozenset(
    {Channel.ACK, Channel.TELEMETRY, Channel.STATUS, Channel.PREFERENCES}
)
AGGREGATOR_TO_HOME = frozenset({Channel.COMMAND, Channel.STATEMENT, Channel.RECEIPT})
RETAINED = frozenset(
    {Channel.COMMAND, Channel.STATUS, Channel.PREFERENCES, Channel.STATEMENT}
)


def validate_home_id(home_id: str) -> str:
    """Return ``home_id`` or raise ValueError when it cannot be a topic level."""
    if not HOME_ID_PATTERN.fullmatch(home_id):
        raise ValueError(
            f"invalid home id {quoted(home_id)}: 3-64 characters, lower-case letters, "
            "digits and '-', starting with a letter or digit"
        )
    return home_id


def home_root(home_id: str) -> str:
    """The topic subtree of one home, e.g. ``dacs/v1/h-0001``."""
    return f"{PREFIX}/{validate_home_id(home_id)}"


def topic(home_id: str, channel: Channel) -> str:
    """The topic of one channel of one home."""
    return f"{home_root(home_id)}/{channel.value}"


def wildcard(channel: Channel) -> str:
    """A subscription to one channel of every home (for the aggregator)."""
    return f"{PREFIX}/+/{channel.value}"


def parse_topic(name: str) -> tuple[str, Channel]:
    """Split a v1 topic into (home id, channel); ValueError for anything else."""
    parts = name.split("/")
    if len(parts) != 4 or f"{parts[0]}/{parts[1]}" != PREFIX:
        raise ValueError(f"{quoted(name)} is not a DACS v1 home topic")
    try:
        channel = Channel(parts[3])
    except ValueError:
        raise ValueError(
            f"{quoted(name)}: unknown channel {quoted(parts[3])}"
        ) from None
    return validate_home_id(parts[2]), channel
