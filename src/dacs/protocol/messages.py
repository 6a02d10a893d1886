"""The messages of the DACS home protocol v1 as immutable typed values.

Every class has ``to_dict()`` producing the JSON document the schema in
``schemas/`` describes; ``dacs.protocol.codec`` parses documents back,
validating them against those schemas first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
import functools
from typing import Any

from .rules import DEFAULT_COMFORT_FLOOR_C, DEFAULT_MAX_CURTAILMENT_MINUTES
from .topics import PROTOCOL_MAJOR, PROTOCOL_VERSION, Channel


# A fan-out formats the same few moments (issue, expiry, envelope starts) for
# thousands of homes: remembering the last ones saves most of that work.
@functools.lru_cache(maxsize=4096)
def format_time(moment: datetime) -> str:
    """RFC 3339 in UTC with a Z, milliseconds only when there are any."""
    if moment.tzinfo is None:
        raise ValueError(f"{moment!r} has no time zone")
    utc = moment.astimezone(UTC)
    spec = "milliseconds" if utc.microsecond else "seconds"
    return utc.isoformat(timespec=spec).replace("+00:00", "Z")


def parse_time(text: str) -> datetime:
    """Parse a timestamp written by format_time (or any RFC 3339 UTC time)."""
    return datetime.fromisoformat(text).astimezone(UTC)


class CommandReason(StrEnum):
    """Why the aggregator limits a home."""

    CONGESTION = "congestion"
    EMERGENCY = "emergency"
    TEST = "test"


class AckResult(StrEnum):
    """The home's verdict on a command."""

    ACCEPTED = "accepted"
    ACCEPTED_FLOOR_APPLIED = "accepted_floor_applied"
    REJECTED = "rejected"


class AckReason(StrEnum):
    """Why the home answered as it did."""

    OK = "ok"
    FLOOR_APPLIED = "floor_applied"  # a limit below the floor was raised to it
    GAS_ONLY = "gas_only"  # a limit below the floor became gas-only
    CANCELLED = "cancelled"  # answer to a cancel message
    MALFORMED = "malformed"
    EXPIRED = "expired"
    REPLAYED = "replayed"  # not newer than a command already seen
    STALE_EPOCH = "stale_epoch"  # from an aggregator that no longer owns the point
    WRONG_HOME = "wrong_home"
    UNSUPPORTED_VERSION = "unsupported_version"
    OPTED_OUT = "opted_out"
    PAUSED = "paused"
    UNKNOWN_COMMAND = "unknown_command"  # cancel for a command not in force
    DEVICE_ERROR = "device_error"


class Participation(StrEnum):
    """The resident's choice about taking part in flexibility events."""

    ON = "on"
    PAUSED = "paused"
    OFF = "off"


class LimitSource(StrEnum):
    """Who caused the limit in force, as reported in telemetry."""

    NONE = "none"
    AGGREGATOR = "aggregator"
    MANUAL = "manual"
    FLOOR = "floor"
    GAS_ONLY = "gas_only"


def _head(home_id: str, kind: str) -> dict[str, Any]:
    return {"v": PROTOCOL_MAJOR, "type": kind, "home_id": home_id}


def _epoch(epoch: int | None) -> dict[str, Any]:
    """The optional fencing token: left out when there is none."""
    return {} if epoch is None else {"epoch": epoch}


@dataclass(frozen=True, kw_only=True)
class PowerInterval:
    """One element of a power envelope: from ``start`` for ``duration_s``, at most ``max_power_w``."""

    start: datetime
    duration_s: int
    max_power_w: float

    @property
    def end(self) -> datetime:
        """When the interval ends (exclusive)."""
        return self.start + timedelta(seconds=self.duration_s)

    def covers(self, moment: datetime) -> bool:
        """True when ``moment`` falls inside the interval."""
        return self.start <= moment < self.end

    def to_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return {
            "start": format_time(self.start),
            "duration_s": self.duration_s,
            "max_power_w": self.max_power_w,
        }


@dataclass(frozen=True, kw_only=True)
class Command:
    """A power envelope for one home's heat pump, valid until ``expires_at``."""

    channel = Channel.COMMAND

    home_id: str
    command_id: str
    issued_at: datetime
    expires_at: datetime
    reason: CommandReason
    envelope: tuple[PowerInterval, ...]
    # The congestion point's ownership epoch (fencing token); None from an
    # aggregator that runs alone and from older senders.
    epoch: int | None = None

    @property
    def ends_at(self) -> datetime:
        """When the command stops limiting: its last interval's end or its expiry."""
        return min(self.expires_at, max(i.end for i in self.envelope))

    def limit_at(self, moment: datetime) -> float | None:
        """The envelope's cap at ``moment``; None outside the envelope or after expiry."""
        if moment >= self.expires_at:
            return None
        for interval in self.envelope:
            if interval.covers(moment):
                return interval.max_power_w
        return None

    def next_change_after(self, moment: datetime) -> datetime | None:
        """The next instant at which the cap may change (for scheduling)."""
        edges = [i.start for i in self.envelope] + [i.end for i in self.envelope]
        edges.append(self.expires_at)
        later = [edge for edge in edges if edge > moment]
        return min(later) if later else None

    def to_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return (
            _head(self.home_id, "command")
            | {
                "command_id": self.command_id,
                "issued_at": format_time(self.issued_at),
                "expires_at": format_time(self.expires_at),
                "reason": self.reason.value,
                "envelope": [interval.to_dict() for interval in self.envelope],
            }
            | _epoch(self.epoch)
        )


@dataclass(frozen=True, kw_only=True)
class Cancel:
    """End a command early."""

    channel = Channel.COMMAND

    home_id: str
    command_id: str
    issued_at: datetime
    epoch: int | None = None  # as a command's

    def to_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return (
            _head(self.home_id, "cancel")
            | {
                "command_id": self.command_id,
                "issued_at": format_time(self.issued_at),
            }
            | _epoch(self.epoch)
        )


@dataclass(frozen=True, kw_only=True)
class Ack:
    """The home's answer to a command or a cancel."""

    channel = Channel.ACK

    home_id: str
    command_id: str
    ts: datetime
    result: AckResult
    reason_code: AckReason
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The JSON form."""
        body = _head(self.home_id, "ack") | {
            "command_id": self.command_id,
            "ts": format_time(self.ts),
            "result": self.result.value,
            "reason_code": self.reason_code.value,
        }
        if self.detail:
            body["detail"] = self.detail[:500]
        return body


@dataclass(frozen=True, kw_only=True)
class Telemetry:
    """One periodic measurement report; ``seq`` lets the receiver drop duplicates."""

    channel = Channel.TELEMETRY

    home_id: str
    seq: int
    boot_id: str
    ts: datetime
    # A measurement the device does not offer is None (JSON null), never a guess.
    electric_power_w: float | None = None
    thermal_power_w: float | None = None
    boiler_active: bool | None = None
    boiler_thermal_w: float | None = None
    indoor_temp_c: float | None = None
    outdoor_temp_c: float | None = None
    flow_temp_c: float | None = None
    electric_energy_kwh: float | None = None
    limit_w: float | None = None
    limit_source: LimitSource = LimitSource.NONE
    command_id: str | None = None
    participation: Participation = Participation.ON
    comfort_override: bool = False
    device_fault: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return _head(self.home_id, "telemetry") | {
            "seq": self.seq,
            "boot_id": self.boot_id,
            "ts": format_time(self.ts),
            "electric_power_w": self.electric_power_w,
            "thermal_power_w": self.thermal_power_w,
            "boiler_active": self.boiler_active,
            "boiler_thermal_w": self.boiler_thermal_w,
            "indoor_temp_c": self.indoor_temp_c,
            "outdoor_temp_c": self.outdoor_temp_c,
            "flow_temp_c": self.flow_temp_c,
            "electric_energy_kwh": self.electric_energy_kwh,
            "limit_w": self.limit_w,
            "limit_source": self.limit_source.value,
            "command_id": self.command_id,
            "participation": self.participation.value,
            "comfort_override": self.comfort_override,
            "device_fault": self.device_fault,
        }


@dataclass(frozen=True, kw_only=True)
class DeviceSummary:
    """What the aggregator needs to know about a home's heat pump."""

    profile: str
    manufacturer: str
    model: str
    nominal_power_w: float
    safety_floor_w: float
    limit_step_w: float
    supports_gas_only: bool
    native_watchdog: bool

    def to_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return {
            "profile": self.profile,
            "manufacturer": self.manufacturer[:64],
            "model": self.model[:64],
            "nominal_power_w": self.nominal_power_w,
            "safety_floor_w": self.safety_floor_w,
            "limit_step_w": self.limit_step_w,
            "supports_gas_only": self.supports_gas_only,
            "native_watchdog": self.native_watchdog,
        }


@dataclass(frozen=True, kw_only=True)
class Status:
    """Online (with capabilities) or offline (the last will)."""

    channel = Channel.STATUS

    home_id: str
    ts: datetime
    online: bool
    device: DeviceSummary | None = None
    telemetry_interval_s: int | None = None
    software: str = ""
    protocol_version: str = PROTOCOL_VERSION

    def to_dict(self) -> dict[str, Any]:
        """The JSON form."""
        body = _head(self.home_id, "status") | {
            "ts": format_time(self.ts),
            "state": "online" if self.online else "offline",
        }
        if self.protocol_version:
            body["protocol_version"] = self.protocol_version
        if self.software:
            body["software"] = self.software
        if self.telemetry_interval_s is not None:
            body["telemetry_interval_s"] = self.telemetry_interval_s
        if self.device is not None:
            body["device"] = self.device.to_dict()
        return body


@dataclass(frozen=True, kw_only=True)
class Preferences:
    """The resident's choices, as the home announces them."""

    channel = Channel.PREFERENCES

    home_id: str
    ts: datetime
    participation: Participation = Participation.ON
    paused_until: datetime | None = None
    comfort_floor_c: float = DEFAULT_COMFORT_FLOOR_C
    min_compensation_eur_per_kwh: float = 0.0
    max_curtailment_minutes: int = DEFAULT_MAX_CURTAILMENT_MINUTES

    def __post_init__(self) -> None:
        """A pause needs an end: participation never stays paused forever."""
        if self.participation is Participation.PAUSED and self.paused_until is None:
            raise ValueError("a paused participation needs paused_until")

    def to_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return _head(self.home_id, "preferences") | {
            "ts": format_time(self.ts),
            "participation": self.participation.value,
            "paused_until": (
                format_time(self.paused_until) if self.paused_until else None
            ),
            "comfort_floor_c": self.comfort_floor_c,
            "min_compensation_eur_per_kwh": self.min_compensation_eur_per_kwh,
            "max_curtailment_minutes": self.max_curtailment_minutes,
        }


@dataclass(frozen=True, kw_only=True)
class Statement:
    """Flexibility delivered by a home in a month, and what it earned."""

    channel = Channel.STATEMENT

    home_id: str
    issued_at: datetime
    period: str  # YYYY-MM
    delivered_kwh: float
    earnings_eur: float
    events: int
    gas_compensation_eur: float = 0.0
    final: bool = False

    def to_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return _head(self.home_id, "statement") | {
            "issued_at": format_time(self.issued_at),
            "period": self.period,
            "delivered_kwh": round(self.delivered_kwh, 4),
            "earnings_eur": round(self.earnings_eur, 4),
            "gas_compensation_eur": round(self.gas_compensation_eur, 4),
            "events": self.events,
            "final": self.final,
        }


type SeqRange = tuple[int, int]  # inclusive: (first, last)


@dataclass(frozen=True, kw_only=True)
class Receipt:
    """Telemetry of one boot the aggregator has committed to its database.

    ``stored`` holds inclusive (first, last) ranges of ``seq``, ascending and
    apart. A home forgets what a receipt names and sends the rest again.
    """

    channel = Channel.RECEIPT

    home_id: str
    boot_id: str
    ts: datetime
    stored: tuple[SeqRange, ...]

    def covers(self, seq: int) -> bool:
        """True when ``seq`` lies in one of the ranges."""
        return any(first <= seq <= last for first, last in self.stored)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return _head(self.home_id, "receipt") | {
            "boot_id": self.boot_id,
            "ts": format_time(self.ts),
            "stored": [[first, last] for first, last in self.stored],
        }


@dataclass(frozen=True, kw_only=True)
class BrokerAddress:
    """One central broker as a home reaches it."""

    broker_id: str
    host: str
    port: int
    tls: bool = True
    ca_certificate: str | None = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return {
            "id": self.broker_id,
            "host": self.host,
            "port": self.port,
            "tls": self.tls,
            "ca_certificate": self.ca_certificate,
        }


@dataclass(frozen=True, kw_only=True)
class BrokerMove:
    """Move to another central broker (since 1.2): same account, same topics.

    Sent on the command channel, retained on the broker the home leaves: a
    home that was offline during the move hears it at its next connection.
    The command in force is not replaced at the home (it is not a command).
    """

    channel = Channel.COMMAND

    home_id: str
    move_id: str
    issued_at: datetime
    broker: BrokerAddress

    def to_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return _head(self.home_id, "broker_move") | {
            "move_id": self.move_id,
            "issued_at": format_time(self.issued_at),
            "broker": self.broker.to_dict(),
        }


@dataclass(frozen=True, kw_only=True)
class MqttCredentials:
    """Where and as whom a home connects to the central broker."""

    host: str
    port: int
    username: str
    password: str = field(repr=False)
    tls: bool = True
    ca_certificate: str | None = field(default=None, repr=False)
    # Which central broker (since 1.2); empty from an aggregator with one.
    broker_id: str = ""


@dataclass(frozen=True, kw_only=True)
class EnrollmentResponse:
    """What a home receives for a valid enrollment code."""

    home_id: str
    mqtt: MqttCredentials
    topic_prefix: str

    def to_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return {
            "home_id": self.home_id,
            "topic_prefix": self.topic_prefix,
            "mqtt": {
                "host": self.mqtt.host,
                "port": self.mqtt.port,
                "username": self.mqtt.username,
                "password": self.mqtt.password,
                "tls": self.mqtt.tls,
                "ca_certificate": self.mqtt.ca_certificate,
            }
            | ({"broker_id": self.mqtt.broker_id} if self.mqtt.broker_id else {}),
        }


type HomeMessage = Ack | Telemetry | Status | Preferences
type AggregatorMessage = Command | Cancel | BrokerMove | Statement | Receipt
type Message = HomeMessage | AggregatorMessage
