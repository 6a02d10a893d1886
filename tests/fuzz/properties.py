"""The property every decoder must keep: a typed result or its own short error."""

from __future__ import annotations

from collections.abc import Callable

from .inputs import MAX_MESSAGE_CHARS


def result_or_own_error[T](
    call: Callable[[], T], errors: type[BaseException] | tuple[type[BaseException], ...]
) -> T | None:
    """``call()``'s result, or None when it raised one of ``errors`` with a short message.

    Any other exception propagates: hypothesis reports it, with the input.
    """
    try:
        return call()
    except errors as err:
        message = str(err)
        assert message, f"{type(err).__name__} without a message"
        assert len(message) <= MAX_MESSAGE_CHARS, (
            f"{type(err).__name__} message of {len(message)} characters: "
            f"{message[:120]}..."
        )
        return None
