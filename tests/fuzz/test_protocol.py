"""The home protocol's decoders: every message type on every topic, and the enrollment answer."""

from __future__ import annotations

from importlib import resources
import json
from pathlib import Path
from typing import Any

from hypothesis import given, strategies as st

from dacs.protocol import (
    Channel,
    Message,
    ProtocolError,
    decode,
    decode_enrollment_response,
    encode,
    parse_topic,
)
from dacs.protocol.codec import (
    _may_hold_forbidden_characters,
    _refuse_control_characters,
    load_document,
)
from dacs.protocol.messages import EnrollmentResponse

from .budget import budget
from .inputs import hostile_text, payloads
from .properties import result_or_own_error

EXAMPLES = Path(str(resources.files("dacs.protocol").joinpath("examples")))
VALID = [
    json.loads(path.read_text())["message"]
    for path in sorted(EXAMPLES.glob("valid/*.json"))
]
ENROLLMENT = {
    "home_id": "h-0042",
    "topic_prefix": "dacs/v1/h-0042",
    "mqtt": {
        "host": "broker.example.com",
        "port": 8883,
        "username": "h-0042",
        "password": "s3cret-s3cret-s3cret",
        "tls": True,
        "ca_certificate": "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
    },
}


def _check_message(message: Message | None) -> None:
    """An accepted message is typed and survives its own encoding."""
    if message is not None:
        assert decode(encode(message)) == message


@budget()
@given(payload=payloads(VALID), channel=st.none() | st.sampled_from(Channel))
def test_decode(payload: bytes, channel: Channel | None) -> None:
    message = result_or_own_error(
        lambda: decode(payload, channel=channel), ProtocolError
    )
    _check_message(message)


@budget()
@given(payload=payloads(VALID).map(lambda b: b.decode("utf-8", "replace")))
def test_decode_text(payload: str) -> None:
    _check_message(result_or_own_error(lambda: decode(payload), ProtocolError))


@budget()
@given(
    payload=payloads(VALID)
    | st.text(alphabet=st.characters(codec=None), max_size=30).map(
        lambda text: json.dumps({"s": text}, ensure_ascii=False)
    )
)
def test_the_fast_path_keeps_every_refusal(payload: bytes | str) -> None:
    """A payload the byte scan lets skip the walk holds no forbidden string."""
    try:
        document = load_document(payload)
    except ProtocolError:
        return
    if not _may_hold_forbidden_characters(payload):
        _refuse_control_characters(document)  # must not raise
    else:
        result_or_own_error(lambda: _refuse_control_characters(document), ProtocolError)


@budget()
@given(payload=payloads([ENROLLMENT]))
def test_decode_enrollment_response(payload: bytes) -> None:
    answer = result_or_own_error(
        lambda: decode_enrollment_response(payload), ProtocolError
    )
    if answer is not None:
        assert isinstance(answer, EnrollmentResponse)
        assert 0 < answer.mqtt.port < 65536


@budget()
@given(
    name=st.one_of(
        hostile_text,
        st.lists(
            hostile_text | st.sampled_from(["dacs", "v1", "h-0001", "telemetry"]),
            max_size=6,
        ).map("/".join),
    )
)
def test_parse_topic(name: str) -> None:
    parsed: Any = result_or_own_error(lambda: parse_topic(name), ValueError)
    if parsed is not None:
        home_id, channel = parsed
        assert name == f"dacs/v1/{home_id}/{channel.value}"
