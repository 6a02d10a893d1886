"""A value quoted in an error message, cut short: a peer's megabyte never reaches a log."""

from __future__ import annotations

QUOTE_CHARS = 60


def quoted(value: object, limit: int = QUOTE_CHARS) -> str:
    """``repr(value)``, or its first ``limit`` characters and how long the value was."""
    text = repr(value)
    if len(text) <= limit:
        return text
    size = len(value) if isinstance(value, str | bytes) else len(text)
    return f"{text[:limit]}... ({size} characters)"


MESSAGE_CHARS = 300


def bounded(message: str, limit: int = MESSAGE_CHARS) -> str:
    """``message``, cut to ``limit`` characters where it quotes too much."""
    if len(message) <= limit:
        return message
    marker = f"... ({len(message)} characters)"
    return message[: limit - len(marker)] + marker
