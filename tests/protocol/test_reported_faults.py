"""Every field the hardening issue (#18) named, with every value it reported accepted.

The issue found NaN passing every ``minimum``/``maximum`` (telemetry power
and temperatures, a command's ``max_power_w``, the comfort floor and the
minimum compensation, a status's ``safety_floor_w``), NaN, infinity and
``1e308`` in a statement's euros, integers too large for a float, 5,000-digit
numbers past Python's conversion limit, and control characters in every
string (``command_id``, ``software``, device names, ``boot_id``). Each value
is put into a valid example of its message, so nothing else about the
message is wrong: decode must refuse it with ``ProtocolError`` and a short
reason, never accept it or raise anything else.
"""

from __future__ import annotations

from importlib import resources
import json
from pathlib import Path
from typing import Any

import pytest

from dacs.protocol import ProtocolError, decode

EXAMPLES = Path(str(resources.files("dacs.protocol").joinpath("examples")))
_MARK = "@@POISON@@"

# (valid example, path to the field) for every number the issue named.
NUMBERS = [
    ("telemetry", ("electric_power_w",)),
    ("telemetry", ("thermal_power_w",)),
    ("telemetry", ("boiler_thermal_w",)),
    ("telemetry", ("indoor_temp_c",)),
    ("telemetry", ("outdoor_temp_c",)),
    ("telemetry", ("flow_temp_c",)),
    ("telemetry", ("electric_energy_kwh",)),
    ("telemetry", ("limit_w",)),
    ("command", ("envelope", 0, "max_power_w")),
    ("preferences", ("comfort_floor_c",)),
    ("preferences", ("min_compensation_eur_per_kwh",)),
    ("statement", ("earnings_eur",)),
    ("statement", ("gas_compensation_eur",)),
    ("statement", ("delivered_kwh",)),
    ("status-online", ("device", "safety_floor_w")),
    ("status-online", ("device", "nominal_power_w")),
]
# JSON literals Python's json reads: not numbers, infinite, or beyond any range.
POISON_NUMBERS = [
    "NaN",
    "Infinity",
    "-Infinity",
    "1e999",
    "-1e999",
    "1e308",
    "1e30",
    "1" + "0" * 400,  # too large for a float: OverflowError before #18
    "9" * 5000,  # past the integer-conversion limit: ValueError before #18
]
# Every string the issue named.
STRINGS = [
    ("telemetry", ("boot_id",)),
    ("telemetry", ("command_id",)),
    ("command", ("command_id",)),
    ("status-online", ("software",)),
    ("status-online", ("device", "manufacturer")),
    ("status-online", ("device", "model")),
]
CONTROL_CHARACTERS = ["\x00", "\x07", "\x1b", "\n", "\x7f", "\x85", "\x9b"]


def _example(name: str) -> dict[str, Any]:
    path = EXAMPLES / "valid" / f"{name}.json"
    message: dict[str, Any] = json.loads(path.read_text())["message"]
    return message


def _with(message: dict[str, Any], path: tuple[str | int, ...], value: Any) -> None:
    *parents, last = path
    target: Any = message
    for part in parents:
        target = target[part]
    target[last] = value


def _refused(payload: str | bytes) -> ProtocolError:
    with pytest.raises(ProtocolError) as caught:
        decode(payload)
    assert caught.value.code == "malformed", str(caught.value)
    assert 0 < len(str(caught.value)) <= 300, len(str(caught.value))
    return caught.value


@pytest.mark.parametrize(
    ("example", "path"), NUMBERS, ids=lambda v: v if isinstance(v, str) else None
)
@pytest.mark.parametrize("literal", POISON_NUMBERS, ids=lambda v: v[:12])
def test_no_reported_number_is_accepted_in_any_named_field(
    example: str, path: tuple[str | int, ...], literal: str
) -> None:
    message = _example(example)
    _with(message, path, _MARK)
    raw = json.dumps(message).replace(json.dumps(_MARK), literal)
    assert literal in raw
    error = _refused(raw)
    assert "9" * 100 not in str(error)  # a 5,000-digit value is not echoed
    _refused(raw.encode())


@pytest.mark.parametrize(
    ("example", "path"), STRINGS, ids=lambda v: v if isinstance(v, str) else None
)
@pytest.mark.parametrize(
    "character", CONTROL_CHARACTERS, ids=lambda c: f"U+{ord(c):04X}"
)
def test_no_control_character_is_accepted_in_any_named_string(
    example: str, path: tuple[str | int, ...], character: str
) -> None:
    message = _example(example)
    *parents, last = path
    holder: Any = message
    for part in parents:
        holder = holder[part]
    _with(message, path, f"{holder[last][:4]}{character}x")
    # As a JSON escape (what json.dumps writes) and as raw UTF-8 where JSON allows it.
    _refused(json.dumps(message))
    if ord(character) >= 0x7F:
        _refused(json.dumps(message, ensure_ascii=False).encode())


def test_the_unchanged_examples_decode() -> None:
    # The refusals above are the poison's alone: each example is valid as it is.
    for name in {example for example, _ in NUMBERS + STRINGS}:
        decode(json.dumps(_example(name)))
