"""What the VEN tells its operator besides its logs: counters and once-only warnings."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
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
    naive_timestamps: int = 0  # timestamps without a zone the VTN sent, read as UTC


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


class Reachability(StrEnum):
    """How the VTN answered the last poll, in the words of the VEN's status."""

    NOT_YET_POLLED = "not yet polled"
    CONNECTED = "connected"
    UNREACHABLE = "unreachable"
    CREDENTIALS_REFUSED = "refused our credentials"
    ANSWERS_REFUSED = "answered with something the VEN cannot use"


@dataclass
class VtnStatus:
    """What the VEN knows of its VTN: reachable or why not, and what it lacks.

    A missing optional capability (resource groups, notifiers, report upload)
    is not a failed poll: the VTN answered, without that part.
    """

    reachability: Reachability = Reachability.NOT_YET_POLLED
    missing: dict[str, str] = field(default_factory=dict)  # capability -> why

    def without(self, logger: logging.Logger, capability: str, why: str) -> None:
        """Turn ``capability`` off; warn the first time only."""
        if capability in self.missing:
            return
        self.missing[capability] = why
        logger.warning("OpenADR: %s; the VEN goes on without it (%s)", capability, why)

    def offers(self, capability: str) -> bool:
        """False once the VTN has shown it does not offer ``capability``."""
        return capability not in self.missing

    @property
    def lines(self) -> list[str]:
        """The status as an operator reads it, one line per fact."""
        return [
            f"VTN {self.reachability.value}",
            *(f"{capability} not offered by this VTN" for capability in self.missing),
        ]
