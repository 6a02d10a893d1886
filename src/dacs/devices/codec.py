"""Convert between raw Modbus register values and engineering values."""

from __future__ import annotations

import math

from .errors import HeatPumpInvalidDataError
from .modbus_profile import RegisterPoint, ValueType

type EngineeringValue = float | int | bool | str | None


def decode(point: RegisterPoint, raw: list[int]) -> EngineeringValue:
    """Decode a point's registers (or bits); None when the device says "missing".

    Raises HeatPumpInvalidDataError when the value lies outside the point's
    physically possible range: garbage is never passed on as a measurement.
    """
    if len(raw) != point.count:
        raise HeatPumpInvalidDataError(
            f"register {point.address}: expected {point.count} values, got {len(raw)}"
        )
    if point.type is ValueType.STRING:
        return _decode_string(raw)
    if point.type is ValueType.BOOL:
        word = raw[0]
        if point.bit is not None:
            return bool((word >> point.bit) & 1)
        if word not in (0, 1):
            raise HeatPumpInvalidDataError(
                f"register {point.address}: {word} is not a boolean (0 or 1)"
            )
        return bool(word)
    words = raw[::-1] if point.low_word_first else raw
    integer = _to_int(point.type, words)
    if point.missing is not None and _to_unsigned(point.type, words) == (
        point.missing & _mask(point.type)
    ):
        return None
    if point.values:
        if integer not in point.names_by_raw:
            raise HeatPumpInvalidDataError(
                f"register {point.address}: {integer} is not one of "
                f"{sorted(point.names_by_raw)}"
            )
        return integer
    value = integer * point.scale
    if (point.min is not None and value < point.min) or (
        point.max is not None and value > point.max
    ):
        raise HeatPumpInvalidDataError(
            f"register {point.address}: {value:g}{point.unit or ''} is outside the "
            f"possible range {point.min}..{point.max}"
        )
    return int(value) if point.scale == 1 else round(value, 6)


def encode(point: RegisterPoint, value: float | bool | str) -> list[int]:
    """Encode an engineering value into the point's registers, range-checked."""
    if point.type is ValueType.STRING:
        if not isinstance(value, str):
            raise TypeError(f"register {point.address} holds text")
        return _encode_string(value, point.count)
    if point.type is ValueType.BOOL:
        return [1 if value else 0]
    if isinstance(value, str):
        raise TypeError(f"register {point.address} holds a number")
    number = float(value)
    if math.isnan(number) or math.isinf(number):
        raise ValueError(f"register {point.address}: {value} is not a finite number")
    if (point.min is not None and number < point.min) or (
        point.max is not None and number > point.max
    ):
        raise ValueError(
            f"register {point.address}: {number:g} is outside {point.min}..{point.max}"
        )
    integer = round(number / point.scale)
    return encode_raw(point, integer)


def encode_raw(point: RegisterPoint, integer: int) -> list[int]:
    """Encode a raw integer (an enumeration value or a sentinel) into registers."""
    words = _from_int(point.type, integer, point.address)
    return words[::-1] if point.low_word_first else words


def _mask(value_type: ValueType) -> int:
    return 0xFFFFFFFF if value_type in (ValueType.UINT32, ValueType.INT32) else 0xFFFF


def _to_unsigned(value_type: ValueType, raw: list[int]) -> int:
    if value_type in (ValueType.UINT32, ValueType.INT32):
        return (raw[0] << 16) | raw[1]
    return raw[0]


def _to_int(value_type: ValueType, raw: list[int]) -> int:
    unsigned = _to_unsigned(value_type, raw)
    if value_type is ValueType.INT16 and unsigned >= 0x8000:
        return unsigned - 0x10000
    if value_type is ValueType.INT32 and unsigned >= 0x80000000:
        return unsigned - 0x100000000
    return unsigned


def _from_int(value_type: ValueType, integer: int, address: int) -> list[int]:
    bounds = {
        ValueType.UINT16: (0, 0xFFFF),
        ValueType.INT16: (-0x8000, 0x7FFF),
        ValueType.UINT32: (0, 0xFFFFFFFF),
        ValueType.INT32: (-0x80000000, 0x7FFFFFFF),
        ValueType.BOOL: (0, 1),
    }
    low, high = bounds[value_type]
    if not low <= integer <= high:
        raise ValueError(f"register {address}: {integer} does not fit {value_type}")
    unsigned = integer & _mask(value_type)
    if value_type in (ValueType.UINT32, ValueType.INT32):
        return [unsigned >> 16, unsigned & 0xFFFF]
    return [unsigned]


def _decode_string(raw: list[int]) -> str:
    data = b"".join(word.to_bytes(2, "big") for word in raw)
    text = data.split(b"\x00", 1)[0].decode("ascii", errors="replace").strip()
    if any(ch == "\ufffd" or not ch.isprintable() for ch in text):
        raise HeatPumpInvalidDataError(f"register text {text!r} is not printable ASCII")
    return text


def _encode_string(text: str, count: int) -> list[int]:
    data = text.encode("ascii")
    if len(data) > count * 2:
        raise ValueError(f"{text!r} is longer than {count * 2} characters")
    data = data.ljust(count * 2, b"\x00")
    return [int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data), 2)]
