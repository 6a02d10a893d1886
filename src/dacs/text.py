r"""What a string from a peer may not hold: control characters and lone surrogates.

A control character (Unicode category Cc: U+0000-U+001F, U+007F-U+009F)
breaks logs, terminals and PostgreSQL (NUL). A lone UTF-16 surrogate
(category Cs: U+D800-U+DFFF) is no character at all: no UTF-8 encoder
writes one, so every later encode (a log line, the database, an MQTT
publish) fails on it. Python's json reads both a ``\ud800`` escape and,
from bytes, the raw bytes ED A0 80 (it decodes with ``surrogatepass``).
"""

from __future__ import annotations

import re

_FORBIDDEN = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
# Tab, line feed and carriage return are text in a note or a certificate.
_FORBIDDEN_IN_LINES = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


def forbidden_character(text: str, *, lines: bool = False) -> str | None:
    """What ``text`` holds that it may not ("a control character", "a lone surrogate"), or None.

    With ``lines``, tab, line feed and carriage return are allowed.
    """
    found = (_FORBIDDEN_IN_LINES if lines else _FORBIDDEN).search(text)
    if found is None:
        return None
    return (
        "a lone surrogate"
        if "\ud800" <= found.group() <= "\udfff"
        else "a control character"
    )


def find_forbidden(
    value: object, path: str = "", *, lines: bool = False
) -> tuple[str, str] | None:
    """Where in a JSON tree (key or value) a string holds what it may not, and what.

    ``path`` names ``value``; the answer's first part names the string
    (``a.b[2]``, "a key", or "a string" at the top).
    """
    if isinstance(value, str):
        what = forbidden_character(value, lines=lines)
        return None if what is None else (path or "a string", what)
    if isinstance(value, dict):
        for key, item in value.items():
            label = f"{path}.{str(key)[:40]}" if path else str(key)[:40]
            found = find_forbidden(key, "a key", lines=lines) or find_forbidden(
                item, label, lines=lines
            )
            if found is not None:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = find_forbidden(item, f"{path}[{index}]", lines=lines)
            if found is not None:
                return found
    return None
