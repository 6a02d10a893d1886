"""Commands and cancels stored but not yet confirmed by the broker, newest per home."""

from __future__ import annotations

from collections.abc import Iterable

from dacs.protocol import Cancel, Command, Message


class Outbox:
    """What still has to reach the broker.

    A message stays here from the moment it is stored until the broker
    confirms it (PUBACK), so a lost connection or a stop in the middle of a
    fan-out leaves it here. Only the newest message per home is kept: a newer
    command replaces the one in force at the home and a cancel ends it, so an
    older undelivered message for the same home would be overtaken anyway.
    """

    def __init__(self) -> None:
        """Start empty."""
        self._newest: dict[str, Command | Cancel] = {}

    def __len__(self) -> int:
        """Homes with a message waiting."""
        return len(self._newest)

    def put(self, messages: Iterable[Command | Cancel]) -> None:
        """Keep messages until confirmed; an older one never replaces a newer."""
        for message in messages:
            waiting = self._newest.get(message.home_id)
            if waiting is None or message.issued_at >= waiting.issued_at:
                self._newest[message.home_id] = message

    def waiting(self) -> list[Command | Cancel]:
        """Everything not yet confirmed, oldest first."""
        return sorted(self._newest.values(), key=lambda m: m.issued_at)

    def delivered(self, messages: Iterable[Message]) -> None:
        """Forget messages the broker confirmed (unless a newer one replaced them)."""
        for message in messages:
            if self._newest.get(message.home_id) == message:
                del self._newest[message.home_id]
