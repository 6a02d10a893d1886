"""The compiled validator changes speed only: decode accepts and refuses as before.

``validate`` asks jsonschema-rs first and the reference validator
(``jsonschema``) about every document jsonschema-rs refuses. Here decode runs
twice on the same bytes, once as shipped and once with every document sent to
the reference validator (what decode did before the fast path existed), and
the outcomes must be identical: the same message, or the same error.
"""

from __future__ import annotations

from collections.abc import Iterator
import contextlib
from importlib import resources
import json
import math
from pathlib import Path
from typing import Any
from unittest import mock

from hypothesis import HealthCheck, given, settings, strategies as st
import pytest

from dacs.protocol import Channel, ProtocolError, decode, schema as protocol_schema
from dacs.protocol.schema import SCHEMA_NAMES, preload, validate

EXAMPLES = Path(str(resources.files("dacs.protocol").joinpath("examples")))
VECTORS = sorted(EXAMPLES.glob("*/*.json"))
VALID_MESSAGES = [
    json.loads(path.read_text())["message"]
    for path in sorted(EXAMPLES.glob("valid/*.json"))
]


class _RefusesEverything:
    def is_valid(self, _document: Any) -> bool:
        return False


@contextlib.contextmanager
def _reference_only() -> Iterator[None]:
    """Decode as before the fast path: the reference validator decides alone."""
    with mock.patch.object(
        protocol_schema, "_fast_validator", return_value=_RefusesEverything()
    ):
        yield


def _outcome(payload: bytes, channel: Channel | None) -> tuple[str, ...]:
    """What decode makes of the payload, in a form two runs can compare."""
    try:
        message = decode(payload, channel=channel)
    except ProtocolError as err:
        return ("refused", err.code, str(err))
    return ("accepted", repr(message))


def _both(payload: bytes, channel: Channel | None = None) -> tuple[str, ...]:
    fast = _outcome(payload, channel)
    with _reference_only():
        reference = _outcome(payload, channel)
    assert fast == reference
    return fast


@pytest.mark.parametrize("path", VECTORS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_examples_decode_as_with_the_reference_validator(path: Path) -> None:
    vector = json.loads(path.read_text())
    payload = vector["raw"] if "raw" in vector else json.dumps(vector["message"])
    channel = Channel(vector["channel"]) if "channel" in vector else None
    verdict = _both(payload.encode(), channel)
    assert verdict[0] == ("accepted" if path.parent.name == "valid" else "refused")


def test_refusals_keep_the_reference_wording() -> None:
    document = dict(VALID_MESSAGES[0]) | {"home_id": "Not A Home"}
    with pytest.raises(ProtocolError) as caught:
        validate(document, document["type"])
    assert caught.value.code == "malformed"
    assert str(caught.value) == (
        f"{document['type']}: home_id: 'Not A Home' does not match "
        "'^[a-z0-9][a-z0-9-]{2,63}$'"
    )


@pytest.mark.parametrize(
    ("field", "value"),
    [
        # Python's "$" matches before a final newline; jsonschema-rs's does not.
        ("home_id", "h-0042\n"),
        ("ts", "2025-02-02T17:05:10Z\n"),
        # NaN is neither below a minimum nor above a maximum for jsonschema.
        ("indoor_temp_c", float("nan")),
    ],
)
def test_where_the_validators_differ_the_reference_decides(
    field: str, value: Any
) -> None:
    document = next(m for m in VALID_MESSAGES if m["type"] == "telemetry") | {
        field: value
    }
    assert not protocol_schema._fast_validator("telemetry").is_valid(document)
    validate(document, "telemetry")  # the reference validator accepts it
    _both(json.dumps(document).encode(), Channel.TELEMETRY)


def test_a_document_jsonschema_rs_cannot_read_still_gets_an_answer() -> None:
    with pytest.raises(ProtocolError, match="telemetry"):
        validate({1: "a non-string key"}, "telemetry")


def test_preload_builds_every_validator() -> None:
    preload()
    fast = protocol_schema._fast_validator.cache_info().currsize
    reference = protocol_schema._validator.cache_info().currsize
    assert fast >= len(SCHEMA_NAMES)
    assert reference >= len(SCHEMA_NAMES)


# -- mutations of valid messages ---------------------------------------------------

_json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=80),
    st.sampled_from(
        [
            0,
            1,
            -1,
            1.0,
            2.5,
            9007199254740991,
            9007199254740992,
            100000,
            100000.0001,
            -60,
            -60.5,
            "",
            "on",
            "paused",
            "aggregator",
            "2025-02-02T17:05:10Z",
            "2025-02-02T17:05:10.123Z",
            "2025-02-02T17:05:10Z\n",
            "2025-02-02T17:05:10+01:00",
            "2025-02-30T17:05:10Z",
            "h-0042\n",
            "H-0042",
            "2025-13",
            "1.0",
        ]
    ),
)
_json_values = st.recursive(
    _json_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.text(max_size=12), inner, max_size=4),
    ),
    max_leaves=8,
)


def _near(value: Any) -> st.SearchStrategy[Any]:
    """Values close to a valid one: where the two validators might part."""
    if isinstance(value, bool):
        return st.sampled_from([not value, int(value), None, str(value).lower()])
    if isinstance(value, int):
        return st.sampled_from([value + 1, -value - 1, float(value), str(value), 2**64])
    if isinstance(value, float) and math.isfinite(value):
        return st.sampled_from(
            [-value, value * 1e6, int(value), float("nan"), float("inf"), str(value)]
        )
    if isinstance(value, str):
        return st.sampled_from(
            [value + "\n", value.upper(), value[:-1], value + "x", " " + value, ""]
        )
    return _json_values


@st.composite
def _mutants(draw: st.DrawFn) -> dict[str, Any]:
    document = json.loads(json.dumps(draw(st.sampled_from(VALID_MESSAGES))))
    for _ in range(draw(st.integers(1, 3))):
        # Walk into a nested object or list now and then (envelope, device).
        target: Any = document
        while True:
            keys = list(target) if isinstance(target, dict) else range(len(target))
            if not keys:
                break
            key = draw(st.sampled_from(sorted(keys, key=str)))
            if (
                isinstance(target[key], (dict, list))
                and target[key]
                and draw(st.booleans())
            ):
                target = target[key]
                continue
            action = draw(st.sampled_from(["near", "replace", "delete", "add"]))
            if action == "near":
                target[key] = draw(_near(target[key]))
            elif action == "replace":
                target[key] = draw(_json_values)
            elif action == "delete":
                del target[key]
            elif isinstance(target, dict):
                target[draw(st.text(min_size=1, max_size=12))] = draw(_json_values)
            break
    return document


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(document=_mutants(), on_its_channel=st.booleans())
def test_mutated_messages_decode_as_with_the_reference_validator(
    document: dict[str, Any], on_its_channel: bool
) -> None:
    channel = None
    kind = document.get("type")
    if on_its_channel and kind in ("telemetry", "status", "ack"):
        channel = Channel(kind)
    _both(json.dumps(document).encode(), channel)
