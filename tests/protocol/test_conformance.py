"""Conformance vectors: every valid example parses, every invalid one is refused as stated."""

from __future__ import annotations

from importlib import resources
import json
from pathlib import Path
from typing import Any

import pytest

from dacs.protocol import Channel, ProtocolError, decode, encode
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
        "ack",
        "telemetry",
        "status",
        "preferences",
        "statement",
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
