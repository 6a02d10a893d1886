"""Modbus register maps: every point of every shipped profile, and profile documents.

A heat pump answers any 16-bit words it likes; ``decode`` must give an
engineering value (or None for "missing") or HeatPumpInvalidDataError.
``read_measurements`` over a transport that answers random words must
always give Measurements. ``parse_profile`` reads user-supplied YAML.
"""

from __future__ import annotations

import asyncio
import math
from typing import Any

from hypothesis import given, strategies as st
import pytest

from dacs.devices import HeatPump, ProfileError, builtin_profiles
from dacs.devices.codec import decode
from dacs.devices.errors import HeatPumpError, HeatPumpInvalidDataError
from dacs.devices.modbus_profile import parse_profile

from .budget import budget
from .inputs import json_trees, mutations
from .properties import result_or_own_error

POINTS = sorted(
    {
        (profile_id, name): point
        for profile_id, profile in builtin_profiles().items()
        for name, point in profile.measurements.items()
    }.items()
)
words = st.integers(min_value=0, max_value=0xFFFF)


@budget()
@given(data=st.data())
def test_decode_registers(data: st.DataObject) -> None:
    (_, _), point = data.draw(st.sampled_from(POINTS), label="point")
    count = data.draw(st.sampled_from([point.count, point.count, 0, point.count + 1]))
    raw = data.draw(st.lists(words, min_size=count, max_size=count), label="raw")
    value = result_or_own_error(lambda: decode(point, raw), HeatPumpInvalidDataError)
    if isinstance(value, float):
        assert math.isfinite(value)
        assert point.min is None or value >= point.min
        assert point.max is None or value <= point.max


class RandomRegisters:
    """A transport whose every read answers the words hypothesis drew."""

    host = "127.0.0.1"

    def __init__(self, draw: st.DataObject) -> None:
        self._draw = draw

    async def read(self, _table: Any, _address: int, count: int) -> list[int]:
        return self._draw.draw(st.lists(words, min_size=count, max_size=count))


@pytest.mark.parametrize("profile_id", sorted(builtin_profiles()))
@budget()
@given(data=st.data())
def test_read_measurements(profile_id: str, data: st.DataObject) -> None:
    heat_pump = HeatPump(
        "127.0.0.1",
        profile=builtin_profiles()[profile_id],
        transport=RandomRegisters(data),  # type: ignore[arg-type]
    )
    measurements = result_or_own_error(
        lambda: asyncio.run(heat_pump.read_measurements()), HeatPumpError
    )
    assert measurements is not None


PROFILE_SEEDS = [
    {
        "id": "fuzzed",
        "name": "Fuzzed",
        "version": 1,
        "measurements": {
            "electric_power_w": {
                "table": "input",
                "address": 10,
                "type": "uint16",
                "scale": 1,
                "unit": "W",
                "min": 0,
                "max": 20000,
            },
            "outdoor_temp_c": {
                "table": "input",
                "address": 11,
                "type": "int16",
                "scale": 0.1,
                "unit": "°C",
            },
        },
    }
]


@budget()
@given(document=mutations(PROFILE_SEEDS) | json_trees)
def test_parse_profile(document: Any) -> None:
    result_or_own_error(lambda: parse_profile(document, "fuzzed.yaml"), ProfileError)


def test_every_profile_with_measurements_is_fuzzed() -> None:
    measuring = {p for p, profile in builtin_profiles().items() if profile.measurements}
    assert {profile_id for (profile_id, _), _ in POINTS} == measuring
    assert len(measuring) >= 3
