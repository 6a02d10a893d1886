"""Conformance vectors: every valid example parses, every invalid one is refused as stated."""

from __future__ import annotations

from importlib import resources
import json
from pathlib import Path
from typing import Any

import pytest

from dacs.protocol import (
    BrokerMove,
    Channel,
    ProtocolError,
    Telemetry,
    decode,
    decode_enrollment_response,
    encode,
)
from dacs.protocol.schema import validate

EXAMPLES = Path(str(resources.files("dacs.protocol").joinpath("examples")))
VALID = sorted(EXAMPLES.glob("valid/*.json"))
INVALID = sorted(EXAMPLES.glob("invalid/*.json"))


def _load(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(path.read_text())
    return document


def test_there_are_vectors_for_every_message_type() -> None:
    kinds = {_load(p)["message"]["type"] for p in VALID}
    assert kinds == {
        "command",
        "cancel",
        "broker_move",
        "ack",
        "telemetry",
        "status",
        "preferences",
        "statement",
        "receipt",
    }
    assert len(INVALID) >= 25


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.stem)
def test_valid_examples(path: Path) -> None:
    message_doc = _load(path)["message"]
    validate(message_doc, message_doc["type"])
    message = decode(json.dumps(message_doc))
    assert message.home_id == message_doc["home_id"]
    again = encode(message)
    validate(json.loads(again), message_doc["type"])
    assert decode(again) == message


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.stem)
def test_invalid_examples(path: Path) -> None:
    vector = _load(path)
    payload = vector["raw"] if "raw" in vector else json.dumps(vector["message"])
    channel = Channel(vector["channel"]) if "channel" in vector else None
    with pytest.raises(ProtocolError) as caught:
        decode(payload.encode(), channel=channel)
    assert caught.value.code == vector["expect_code"], str(caught.value)
    assert str(caught.value)  # a reason a person can read


def test_unknown_fields_are_kept_out_of_the_model() -> None:
    vector = _load(EXAMPLES / "valid" / "command-with-gap-and-extra-field.json")[
        "message"
    ]
    message = decode(json.dumps(vector))
    assert "x_vendor" not in json.loads(encode(message))


def test_garbage_bytes() -> None:
    with pytest.raises(ProtocolError, match="not JSON"):
        decode(b"\xff\xfe\x00garbage")


def _enrollment(**mqtt: Any) -> str:
    return json.dumps(
        {
            "home_id": "h-0042",
            "topic_prefix": "dacs/v1/h-0042",
            "mqtt": {
                "host": "mqtt.example.nl",
                "port": 8883,
                "username": "h-0042",
                "password": "0123456789abcdef0123",
                "tls": True,
                "ca_certificate": None,
            }
            | mqtt,
        }
    )


def test_an_enrollment_answer_may_carry_a_pem_but_no_other_control_character() -> None:
    pem = "-----BEGIN CERTIFICATE-----\r\nMIIB\nAAAA\n-----END CERTIFICATE-----\n"
    answer = decode_enrollment_response(_enrollment(ca_certificate=pem))
    assert answer.mqtt.ca_certificate == pem
    for bad in (
        {"ca_certificate": "-----BEGIN CERTIFICATE-----\n\x00\n"},
        {"host": "mqtt.example.nl\n"},
        {"password": "0123456789abcdef\x1b[2J"},
    ):
        with pytest.raises(ProtocolError, match="control character"):
            decode_enrollment_response(_enrollment(**bad))


def _telemetry_bytes(boot_id: bytes) -> bytes:
    document = _load(EXAMPLES / "valid" / "telemetry.json")["message"]
    text = json.dumps(document | {"boot_id": "BOOT"}, ensure_ascii=False).encode()
    return text.replace(b"BOOT", boot_id)


@pytest.mark.parametrize(
    ("boot_id", "what"),
    [
        (b"b-\\ud800", "lone surrogate"),  # a JSON escape of a high surrogate
        (b"b-\\udfff", "lone surrogate"),  # ... and of a low one
        (b"b-\xed\xa0\x80", "lone surrogate"),  # its raw bytes (not UTF-8)
        (b"b-\xed\xbf\xbf", "lone surrogate"),
        (b"b-\xed\xa0\xbd\xed\xb8\x80", "lone surrogate"),  # a pair as CESU-8
        (b"b-\x00", "control character"),  # raw C0 (not JSON at all)
        (b"b-\\u0000", "control character"),
        (b"b-\x7f", "control character"),  # DEL, raw
        (b"b-\xc2\x85", "control character"),  # C1 (NEL), raw
        (b"b-\\u009f", "control character"),
    ],
)
def test_strings_refuse_lone_surrogates_and_control_characters(
    boot_id: bytes, what: str
) -> None:
    for payload in (
        _telemetry_bytes(boot_id),
        _telemetry_bytes(boot_id).decode("utf-8", "surrogatepass"),
    ):
        with pytest.raises(ProtocolError) as caught:
            decode(payload)
        assert caught.value.code == "malformed"
        assert len(str(caught.value)) < 120
        if b"\\" in boot_id or b"\xed" in boot_id or b"\xc2" in boot_id:
            assert what in str(caught.value), str(caught.value)


def test_a_surrogate_pair_and_other_text_are_kept() -> None:
    # A pair written as two escapes is one character outside the BMP; é, a
    # non-breaking space and U+D7FF sit next to the refused ranges.
    for boot_id, expected in (
        (b"b-\\ud83d\\ude00", "b-\U0001f600"),
        ("b-\U0001f600é\u00a0\ud7ff".encode(), "b-\U0001f600é\u00a0\ud7ff"),
    ):
        message = decode(_telemetry_bytes(boot_id))
        assert isinstance(message, Telemetry)
        assert message.boot_id == expected


def test_an_enrollment_answer_refuses_a_lone_surrogate() -> None:
    # json.dumps writes a lone surrogate as its escape.
    for raw in (
        _enrollment(host="mqtt\ud800.nl"),
        _enrollment(password="0123456789abcdef0123\udc00"),
    ):
        with pytest.raises(ProtocolError, match="lone surrogate"):
            decode_enrollment_response(raw)
    payload = _enrollment(host="HOST").encode().replace(b"HOST", b"mqtt\xed\xb0\x80")
    with pytest.raises(ProtocolError, match="lone surrogate"):
        decode_enrollment_response(payload)


def _move(broker: dict[str, Any]) -> bytes:
    return json.dumps(
        {
            "v": 1,
            "type": "broker_move",
            "home_id": "h-0042",
            "move_id": "mv-1",
            "issued_at": "2025-02-02T17:00:00Z",
            "broker": broker,
        }
    ).encode()


def test_a_broker_move_keeps_its_certificate_lines() -> None:
    pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
    broker = {"id": "b2", "host": "10.0.0.2", "port": 8883, "tls": True}
    message = decode(_move(broker | {"ca_certificate": pem}), channel=Channel.COMMAND)
    assert isinstance(message, BrokerMove)
    assert message.broker.ca_certificate == pem
    assert decode(encode(message)) == message
    # A line break anywhere else is refused.
    with pytest.raises(ProtocolError, match="control character"):
        decode(_move(broker | {"id": "b2\n"}))
    with pytest.raises(ProtocolError, match="without TLS"):
        decode(_move(broker | {"tls": False, "ca_certificate": pem}))


def test_an_enrollment_answer_names_its_broker_by_a_valid_id_or_not_at_all() -> None:
    """1.2: ``mqtt.broker_id`` is optional; a present one is a broker id."""
    assert decode_enrollment_response(_enrollment()).mqtt.broker_id == ""
    named = decode_enrollment_response(_enrollment(broker_id="b-2"))
    assert named.mqtt.broker_id == "b-2"
    assert json.loads(json.dumps(named.to_dict()))["mqtt"]["broker_id"] == "b-2"
    for bad in ("B2", "", "-b2", "b" * 33, "b 2"):
        with pytest.raises(ProtocolError):
            decode_enrollment_response(_enrollment(broker_id=bad))
