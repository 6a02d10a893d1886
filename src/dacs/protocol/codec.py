"""Bytes on the wire <-> typed messages, refusing anything the schemas do not allow."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from itertools import pairwise
import json
import math
import re
from typing import Any

from dacs.excerpt import quoted
from dacs.text import find_forbidden

from .errors import ProtocolError
from .messages import (
    Ack,
    AckReason,
    AckResult,
    BrokerAddress,
    BrokerMove,
    Cancel,
    Command,
    CommandReason,
    DeviceSummary,
    EnrollmentResponse,
    LimitSource,
    Message,
    MqttCredentials,
    Participation,
    PowerInterval,
    Preferences,
    Receipt,
    Statement,
    Status,
    Telemetry,
    parse_time,
)
from .schema import validate
from .topics import PROTOCOL_MAJOR, Channel

MAX_PAYLOAD_BYTES = 64 * 1024
# Python's json reads NaN, Infinity and 1e999 (inf), which JSON numbers are
# not, and NaN passes every minimum and maximum of a schema; an integer of
# thousands of digits trips Python's conversion limit or overflows a float.
# Such numbers are refused while parsing, before validation.
_MAX_INT_DIGITS = 20
_MAX_NUMBER_CHARS = 64
# No message nests deeper than three levels (command -> envelope -> interval);
# every later check walks the document recursively.
_MAX_DEPTH = 8
# Nearly every payload holds none of these bytes: no escape, no C0 or DEL, no
# lead byte of a C1 character (C2) or of a surrogate (ED), no NUL of
# UTF-16/32. Then no string of it can hold a forbidden character and the
# walk over every string is skipped (dacs.text says what is forbidden and
# why): one scan of one character class in C, a tenth of the walk's cost.
_SUSPECT_BYTES = re.compile(rb"[\x00-\x1f\x7f\\\xc2\xed]")
_SUSPECT_CHARS = re.compile(r"[\x00-\x1f\x7f-\x9f\\\ud800-\udfff]")
# A command may reach at most two days ahead: day-ahead profiles plus margin.
MAX_ENVELOPE_SPAN = timedelta(hours=48)

_CHANNEL_OF_TYPE = {
    "command": Channel.COMMAND,
    "cancel": Channel.COMMAND,
    "broker_move": Channel.COMMAND,
    "ack": Channel.ACK,
    "telemetry": Channel.TELEMETRY,
    "status": Channel.STATUS,
    "preferences": Channel.PREFERENCES,
    "statement": Channel.STATEMENT,
    "receipt": Channel.RECEIPT,
}


def encode(message: Message) -> bytes:
    """The message as compact UTF-8 JSON."""
    return json.dumps(
        message.to_dict(), separators=(",", ":"), ensure_ascii=False
    ).encode()


def load_document(payload: bytes | str) -> dict[str, Any]:
    """Parse a JSON object of bounded size, or raise ProtocolError("malformed")."""
    size = len(payload)
    if size > MAX_PAYLOAD_BYTES:
        raise ProtocolError(
            "malformed", f"payload of {size} bytes exceeds {MAX_PAYLOAD_BYTES} bytes"
        )
    try:
        document = json.loads(
            payload,
            parse_constant=_refuse_constant,
            parse_float=_finite_float,
            parse_int=_bounded_int,
        )
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ProtocolError("malformed", f"not JSON: {err}") from err
    except RecursionError as err:
        raise ProtocolError("malformed", "not JSON: nested too deeply") from err
    if not isinstance(document, dict):
        raise ProtocolError("malformed", "a message must be a JSON object")
    # A document nests no deeper than it has brackets: most have a handful.
    raw = (
        payload.encode("utf-8", "surrogatepass")
        if isinstance(payload, str)
        else payload
    )
    brackets = raw.count(b"{") + raw.count(b"[")
    if brackets > _MAX_DEPTH and _depth_exceeds(document, _MAX_DEPTH):
        raise ProtocolError("malformed", f"nested deeper than {_MAX_DEPTH} levels")
    return document


def _depth_exceeds(document: Any, limit: int) -> bool:
    """True when lists and objects nest deeper than ``limit`` (no recursion)."""
    level: list[Any] = [document]
    for _ in range(limit):
        level = [
            child
            for node in level
            for child in (node.values() if isinstance(node, dict) else node)
            if isinstance(child, dict | list)
        ]
        if not level:
            return False
    return True


def _refuse_constant(name: str) -> float:
    raise ProtocolError("malformed", f"not JSON: {name} is not a number")


def _finite_float(text: str) -> float:
    if len(text) > _MAX_NUMBER_CHARS:
        raise ProtocolError("malformed", f"a number of {len(text)} characters")
    value = float(text)
    if not math.isfinite(value):
        raise ProtocolError("malformed", f"{text} is out of range")
    return value


def _bounded_int(text: str) -> int:
    digits = len(text.lstrip("-"))
    if digits > _MAX_INT_DIGITS:
        raise ProtocolError("malformed", f"an integer of {digits} digits")
    return int(text)


def _may_hold_forbidden_characters(payload: bytes | str) -> bool:
    """False when no string parsed from ``payload`` can hold a forbidden character."""
    if isinstance(payload, str):
        return _SUSPECT_CHARS.search(payload) is not None
    return _SUSPECT_BYTES.search(payload) is not None


def _refuse_control_characters(value: Any, path: str = "") -> None:
    """No string of a message (key or value) may hold a control character or a lone surrogate."""
    found = find_forbidden(value, path)
    if found is not None:
        raise ProtocolError("malformed", f"{found[0]} holds {found[1]}")


def decode(payload: bytes | str, *, channel: Channel | None = None) -> Message:
    """Parse and validate one message; ``channel`` is the topic it arrived on."""
    document = load_document(payload)
    if _may_hold_forbidden_characters(payload):
        if document.get("type") == "broker_move":
            # The broker's certificate keeps its lines; nothing else may.
            _refuse_control_characters_except_pem(document, document.get("broker"))
        else:
            _refuse_control_characters(document)
    version = document.get("v")
    if not isinstance(version, int) or isinstance(version, bool):
        raise ProtocolError("malformed", "missing or non-integer protocol version 'v'")
    if version != PROTOCOL_MAJOR:
        raise ProtocolError(
            "unsupported_version",
            f"protocol version {version} is not supported (this side speaks {PROTOCOL_MAJOR})",
        )
    kind = document.get("type")
    if not isinstance(kind, str) or kind not in _CHANNEL_OF_TYPE:
        raise ProtocolError("malformed", f"unknown message type {quoted(kind)}")
    if channel is not None and _CHANNEL_OF_TYPE[kind] is not channel:
        raise ProtocolError(
            "malformed", f"a {kind} message does not belong on {channel}"
        )
    validate(document, kind)
    try:
        return _BUILDERS[kind](document)
    except (ValueError, OverflowError, TypeError) as err:
        # A time the schema's pattern lets through but no calendar has
        # (30 February, hour 24), or a value no field can hold.
        raise ProtocolError("malformed", f"{kind}: {err}") from err


def decode_enrollment_response(payload: bytes | str) -> EnrollmentResponse:
    """Parse the enrollment API's answer."""
    document = load_document(payload)
    validate(document, "enrollment-response")
    mqtt = document["mqtt"]
    _refuse_control_characters_except_pem(document, mqtt, "mqtt")
    return EnrollmentResponse(
        home_id=document["home_id"],
        topic_prefix=document["topic_prefix"],
        mqtt=MqttCredentials(
            host=mqtt["host"],
            port=mqtt["port"],
            username=mqtt["username"],
            password=mqtt["password"],
            tls=mqtt["tls"],
            ca_certificate=mqtt.get("ca_certificate"),
            broker_id=mqtt.get("broker_id", ""),
        ),
    )


def _refuse_control_characters_except_pem(
    document: dict[str, Any], holder: Any, where: str = "broker"
) -> None:
    """Refuse control characters anywhere, except line breaks in ``holder``'s certificate.

    A PEM certificate is lines of text; nothing else may hold a line break.
    """
    if not isinstance(holder, dict):
        _refuse_control_characters(document)
        return
    pem = holder.get("ca_certificate")
    _refuse_control_characters({**document, where: {**holder, "ca_certificate": None}})
    if isinstance(pem, str):
        _refuse_control_characters(
            pem.replace("\r\n", "").replace("\n", ""), f"{where}.ca_certificate"
        )


def _command(doc: dict[str, Any]) -> Command:
    envelope = tuple(
        PowerInterval(
            start=parse_time(item["start"]),
            duration_s=item["duration_s"],
            max_power_w=float(item["max_power_w"]),
        )
        for item in doc["envelope"]
    )
    command = Command(
        home_id=doc["home_id"],
        command_id=doc["command_id"],
        issued_at=parse_time(doc["issued_at"]),
        expires_at=parse_time(doc["expires_at"]),
        reason=CommandReason(doc["reason"]),
        envelope=envelope,
        epoch=doc.get("epoch"),
    )
    if command.expires_at <= command.issued_at:
        raise ProtocolError("malformed", "expires_at must be after issued_at")
    for earlier, later in pairwise(envelope):
        if later.start < earlier.end:
            raise ProtocolError(
                "malformed", "envelope intervals must be in order and must not overlap"
            )
    if envelope[-1].end - envelope[0].start > MAX_ENVELOPE_SPAN:
        raise ProtocolError("malformed", "an envelope may span at most 48 hours")
    return command


def _cancel(doc: dict[str, Any]) -> Cancel:
    return Cancel(
        home_id=doc["home_id"],
        command_id=doc["command_id"],
        issued_at=parse_time(doc["issued_at"]),
        epoch=doc.get("epoch"),
    )


def _broker_move(doc: dict[str, Any]) -> BrokerMove:
    broker = doc["broker"]
    if broker["tls"] is False and broker.get("ca_certificate"):
        raise ProtocolError(
            "malformed", "broker_move: a CA certificate for a broker without TLS"
        )
    return BrokerMove(
        home_id=doc["home_id"],
        move_id=doc["move_id"],
        issued_at=parse_time(doc["issued_at"]),
        broker=BrokerAddress(
            broker_id=broker["id"],
            host=broker["host"],
            port=broker["port"],
            tls=broker["tls"],
            ca_certificate=broker.get("ca_certificate"),
        ),
    )


def _ack(doc: dict[str, Any]) -> Ack:
    return Ack(
        home_id=doc["home_id"],
        command_id=doc["command_id"],
        ts=parse_time(doc["ts"]),
        result=AckResult(doc["result"]),
        reason_code=AckReason(doc["reason_code"]),
        detail=doc.get("detail", ""),
    )


def _optional_float(value: Any) -> float | None:
    return None if value is None else float(value)


def _telemetry(doc: dict[str, Any]) -> Telemetry:
    return Telemetry(
        home_id=doc["home_id"],
        seq=doc["seq"],
        boot_id=doc.get("boot_id", ""),
        ts=parse_time(doc["ts"]),
        electric_power_w=_optional_float(doc["electric_power_w"]),
        thermal_power_w=_optional_float(doc.get("thermal_power_w")),
        boiler_active=doc.get("boiler_active"),
        boiler_thermal_w=_optional_float(doc.get("boiler_thermal_w")),
        indoor_temp_c=_optional_float(doc.get("indoor_temp_c")),
        outdoor_temp_c=_optional_float(doc.get("outdoor_temp_c")),
        flow_temp_c=_optional_float(doc.get("flow_temp_c")),
        electric_energy_kwh=_optional_float(doc.get("electric_energy_kwh")),
        limit_w=_optional_float(doc["limit_w"]),
        limit_source=LimitSource(doc["limit_source"]),
        command_id=doc.get("command_id"),
        participation=Participation(doc["participation"]),
        comfort_override=doc["comfort_override"],
        device_fault=doc.get("device_fault"),
    )


def _status(doc: dict[str, Any]) -> Status:
    device = doc.get("device")
    return Status(
        home_id=doc["home_id"],
        ts=parse_time(doc["ts"]),
        online=doc["state"] == "online",
        protocol_version=doc.get("protocol_version", ""),
        software=doc.get("software", ""),
        telemetry_interval_s=doc.get("telemetry_interval_s"),
        device=(
            DeviceSummary(
                profile=device["profile"],
                manufacturer=device.get("manufacturer", ""),
                model=device.get("model", ""),
                nominal_power_w=float(device["nominal_power_w"]),
                safety_floor_w=float(device["safety_floor_w"]),
                limit_step_w=float(device["limit_step_w"]),
                supports_gas_only=device["supports_gas_only"],
                native_watchdog=device.get("native_watchdog", False),
            )
            if device is not None
            else None
        ),
    )


def _preferences(doc: dict[str, Any]) -> Preferences:
    paused_until = doc.get("paused_until")
    return Preferences(
        home_id=doc["home_id"],
        ts=parse_time(doc["ts"]),
        participation=Participation(doc["participation"]),
        paused_until=parse_time(paused_until) if paused_until else None,
        comfort_floor_c=float(doc["comfort_floor_c"]),
        min_compensation_eur_per_kwh=float(doc["min_compensation_eur_per_kwh"]),
        max_curtailment_minutes=doc["max_curtailment_minutes"],
    )


def _statement(doc: dict[str, Any]) -> Statement:
    return Statement(
        home_id=doc["home_id"],
        issued_at=parse_time(doc["issued_at"]),
        period=doc["period"],
        delivered_kwh=float(doc["delivered_kwh"]),
        earnings_eur=float(doc["earnings_eur"]),
        events=doc["events"],
        gas_compensation_eur=float(doc.get("gas_compensation_eur", 0.0)),
        final=doc.get("final", False),
    )


def _receipt(doc: dict[str, Any]) -> Receipt:
    stored = tuple((first, last) for first, last in doc["stored"])
    previous = -1
    for first, last in stored:
        # Ascending and apart: a home can drop each range without sorting.
        if first > last or first <= previous:
            raise ProtocolError(
                "malformed", "receipt ranges must be [first, last], ascending, apart"
            )
        previous = last
    return Receipt(
        home_id=doc["home_id"],
        boot_id=doc["boot_id"],
        ts=parse_time(doc["ts"]),
        stored=stored,
    )


_BUILDERS: dict[str, Callable[[dict[str, Any]], Message]] = {
    "command": _command,
    "cancel": _cancel,
    "broker_move": _broker_move,
    "ack": _ack,
    "telemetry": _telemetry,
    "status": _status,
    "preferences": _preferences,
    "statement": _statement,
    "receipt": _receipt,
}
