"""The property every decoder must keep: a typed result or its own short error."""

from __future__ import annotations

from collections.abc import Callable

from .inputs import MAX_MESSAGE_CHARS

type Errors = type[Exception] | tuple[type[Exception], ...]


def attempt[T](call: Callable[[], T], errors: Errors) -> T | Exception:
    """``call()``'s result, or the error of ``errors`` it raised, its message checked short.

    Any other exception propagates: hypothesis reports it, with the input.
    """
    try:
        return call()
    except errors as err:
        refused = err
    message = str(refused)
    assert message, f"{type(refused).__name__} without a message"
    assert len(message) <= MAX_MESSAGE_CHARS, (
        f"{type(refused).__name__} message of {len(message)} characters: "
        f"{message[:120]}..."
    )
    return refused


def result_or_own_error[T](call: Callable[[], T], errors: Errors) -> T | None:
    """``call()``'s result, or None when it raised one of ``errors`` (see ``attempt``)."""
    outcome = attempt(call, errors)
    return None if isinstance(outcome, Exception) else outcome
