"""What the VEN tells its operator besides its logs: counters and once-only warnings."""

from __future__ import annotations

from dataclasses import dataclass
import logging


@dataclass
class OpenAdrCounters:
    """Numbers for monitoring."""

    polls: int = 0
    failed_polls: int = 0
    events_applied: int = 0
    events_refused: int = 0
    events_expired: int = 0
    events_cancelled: int = 0
    programs_refused: int = 0
    reports_sent: int = 0
    reports_withheld: int = 0  # built, but the profile rejected them: not sent
    resources_created: int = 0
    notifications: int = 0  # MQTT notifier messages received (each wakes a poll)
    notifier_errors: int = 0  # notifier unusable, connection refused or lost


class OnceWarnings:
    """Warnings given once, not every poll: what a poll finds, the next finds again.

    The VEN's parts share one instance, so a key stands for one problem
    whichever part meets it.
    """

    def __init__(self) -> None:
        """No warning given yet."""
        self._given: set[str] = set()

    def given(self, key: str) -> bool:
        """True once the warning keyed ``key`` has been given."""
        return key in self._given

    def warn(
        self, logger: logging.Logger, key: str, message: str, *args: object
    ) -> None:
        """Log ``message`` at WARNING on ``logger`` unless ``key`` was warned of."""
        if key in self._given:
            return
        self._given.add(key)
        logger.warning(message, *args)
