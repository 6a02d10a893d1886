"""Enrollment codes: short, unambiguous, typed by people."""

from __future__ import annotations

import re
import secrets

# No 0/O, 1/I/L, 5/S or 8/B: codes are read aloud and typed from paper.
ALPHABET = "ACDEFGHJKMNPQRTUVWXYZ234679"
CODE_PATTERN = re.compile(r"^[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}$")


def new_code() -> str:
    """A fresh code like ``K7QD-2M9X-PT4T`` (about 57 bits)."""
    raw = "".join(secrets.choice(ALPHABET) for _ in range(12))
    return f"{raw[:4]}-{raw[4:8]}-{raw[8:]}"


def normalise_code(text: str) -> str:
    """Accept lower case, spaces and missing dashes; ValueError when not a code."""
    compact = re.sub(r"[\s-]", "", text).upper()
    if len(compact) != 12:
        raise ValueError(
            "an enrollment code has 12 letters and digits, e.g. K7QD-2M9X-PT4T"
        )
    code = f"{compact[:4]}-{compact[4:8]}-{compact[8:]}"
    if not CODE_PATTERN.fullmatch(code):
        raise ValueError("an enrollment code has only letters and digits")
    return code


def new_home_id() -> str:
    """A home id: ``h-`` and 10 lower-case letters and digits."""
    alphabet = "abcdefghjkmnpqrstuvwxyz23456789"
    return "h-" + "".join(secrets.choice(alphabet) for _ in range(10))
