"""EAN codes as the Dutch market uses them: EAN13 for parties, EAN18 for connections (GS1)."""

from __future__ import annotations


def _check_digit_ok(digits: str) -> bool:
    # GS1 check digit: weights 3, 1, 3, ... from the right, before the check digit.
    *body, check = (int(d) for d in digits)
    total = sum(d * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return (10 - total % 10) % 10 == check


def _is_ean(value: object, length: int) -> bool:
    return (
        isinstance(value, str)
        and len(value) == length
        and value.isascii()
        and value.isdigit()
        and _check_digit_ok(value)
    )


def is_ean13(value: object) -> bool:
    """True for a market party code (DSO, service provider)."""
    return _is_ean(value, 13)


def is_ean18(value: object) -> bool:
    """True for a grid connection code (a home's connection)."""
    return _is_ean(value, 18)


def with_check_digit(body: str) -> str:
    """Complete a 12- or 17-digit body with its check digit (tests, demos)."""
    if not body.isascii() or not body.isdigit():
        raise ValueError("an EAN body is digits only")
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return body + str((10 - total % 10) % 10)
