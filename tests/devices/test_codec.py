"""Raw registers <-> engineering values, including garbage detection."""

from __future__ import annotations

from hypothesis import given, strategies as st
import pytest

from dacs.devices import HeatPumpInvalidDataError
from dacs.devices.codec import decode, encode, encode_raw
from dacs.devices.modbus_profile import RegisterPoint, RegisterTable, ValueType


def _point(value_type: ValueType, **kwargs: object) -> RegisterPoint:
    count = {ValueType.UINT32: 2, ValueType.INT32: 2}.get(value_type, 1)
    return RegisterPoint(
        table=RegisterTable.INPUT,
        address=10,
        type=value_type,
        count=int(kwargs.pop("count", count)),  # type: ignore[call-overload]
        **kwargs,  # type: ignore[arg-type]
    )


@given(st.integers(-3000, 9500))
def test_int16_tenths_roundtrip(tenths: int) -> None:
    point = _point(ValueType.INT16, scale=0.1, min=-300, max=950)
    assert decode(point, encode(point, tenths / 10)) == pytest.approx(tenths / 10)


@given(st.integers(0, 0xFFFFFFFF), st.booleans())
def test_uint32_roundtrip_both_word_orders(value: int, low_first: bool) -> None:
    point = _point(ValueType.UINT32, low_word_first=low_first)
    words = encode_raw(point, value)
    assert decode(point, words) == value
    assert words[0 if low_first else 1] == value & 0xFFFF


def test_int32_negative() -> None:
    point = _point(ValueType.INT32)
    assert decode(point, encode(point, -123456)) == -123456


def test_missing_sentinel_is_none() -> None:
    """0x8000 on an int16 temperature means "no sensor", not -3276.8 °C."""
    point = _point(ValueType.INT16, scale=0.1, missing=32768, min=-50, max=60)
    assert decode(point, [0x8000]) is None


@pytest.mark.parametrize(
    ("raw", "point"),
    [
        ([65535], _point(ValueType.UINT16, scale=0.1, min=-50, max=95)),  # 6553.5 °C
        ([0x7FFF], _point(ValueType.INT16, scale=0.1, min=-50, max=60)),  # 3276.7 °C
        ([0xFFFF], _point(ValueType.INT16, min=0, max=30000)),  # negative power
        ([7], _point(ValueType.UINT16, values={"a": (0,), "b": (1,)})),  # unknown enum
        ([2], _point(ValueType.BOOL)),  # not a boolean
    ],
)
def test_garbage_is_invalid_data(raw: list[int], point: RegisterPoint) -> None:
    with pytest.raises(HeatPumpInvalidDataError, match="register 10"):
        decode(point, raw)


def test_wrong_register_count_is_invalid() -> None:
    with pytest.raises(HeatPumpInvalidDataError, match="expected 2 values, got 1"):
        decode(_point(ValueType.UINT32), [1])


def test_strings() -> None:
    point = _point(ValueType.STRING, count=4)
    assert decode(point, encode(point, "NIBE")) == "NIBE"
    assert decode(point, encode(point, "AB")) == "AB"
    with pytest.raises(ValueError, match="longer than 8"):
        encode(point, "123456789")
    with pytest.raises(HeatPumpInvalidDataError, match="printable"):
        decode(point, [0x0102, 0x0304, 0, 0])


def test_bits_of_a_flag_register() -> None:
    point = _point(ValueType.BOOL, bit=3)
    assert decode(point, [0b1000]) is True
    assert decode(point, [0b0111]) is False


def test_encode_refuses_out_of_range_and_nan() -> None:
    point = _point(ValueType.UINT16, min=0, max=100)
    with pytest.raises(ValueError, match="outside"):
        encode(point, 101)
    with pytest.raises(ValueError, match="not a finite number"):
        encode(point, float("nan"))
    with pytest.raises(ValueError, match="does not fit"):
        encode(_point(ValueType.UINT16), 70000)
    with pytest.raises(TypeError, match="holds a number"):
        encode(point, "7")
