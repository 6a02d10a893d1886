"""Homes that send too many refused messages: their messages dropped unread for a while.

A home with a broken (or hostile) controller can send refused messages as
fast as the broker takes them; each costs a decode and a log line. Past
``refusals`` refused messages within ``window_s`` the home is quarantined:
its messages are dropped on their topic alone, without decoding or logging,
until ``release_s`` has passed, then it is heard again (a home that keeps
failing is quarantined again at once). The service raises an alert for
each quarantine and clears it at the release (``quarantine_alerts.py``).

Pure bookkeeping on a monotonic clock; memory is bounded by the homes that
refused something in the last window plus those quarantined.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
import logging
import time

_LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class HomeQuarantineSettings:
    """When a home is quarantined and for how long."""

    refusals: int = 20
    window_s: float = 60.0
    release_s: float = 600.0


@dataclass
class HomeQuarantine:
    """Counts each home's refused messages and holds the quarantined ones."""

    settings: HomeQuarantineSettings = field(default_factory=HomeQuarantineSettings)
    clock: Callable[[], float] = time.monotonic
    quarantined_total: int = 0
    released_total: int = 0
    dropped: int = 0  # messages of a quarantined home, dropped unread
    _refused: dict[str, deque[float]] = field(default_factory=dict)
    _until: dict[str, float] = field(default_factory=dict)
    # Changes the service has not yet turned into alerts: (home, quarantined?).
    _changes: list[tuple[str, bool]] = field(default_factory=list)

    def holds(self, home_id: str) -> bool:
        """True (and the message counted as dropped) while ``home_id`` is quarantined."""
        until = self._until.get(home_id)
        if until is None:
            return False
        if self.clock() < until:
            self.dropped += 1
            return True
        self._release(home_id)
        return False

    def refused(self, home_id: str) -> bool:
        """Count one refused message of ``home_id``; True when it quarantines the home."""
        now = self.clock()
        times = self._refused.setdefault(home_id, deque())
        times.append(now)
        while times and now - times[0] > self.settings.window_s:
            times.popleft()
        self._forget_quiet(now)
        if len(times) < self.settings.refusals:
            return False
        del self._refused[home_id]
        self._until[home_id] = now + self.settings.release_s
        self.quarantined_total += 1
        self._changes.append((home_id, True))
        _LOGGER.warning(
            "%s sent %d refused messages within %.0f s: its messages are"
            " dropped unread for %.0f s",
            home_id,
            self.settings.refusals,
            self.settings.window_s,
            self.settings.release_s,
        )
        return True

    def release(self, home_id: str) -> bool:
        """Hear ``home_id`` again now; False when it was not quarantined."""
        if home_id not in self._until:
            return False
        self._release(home_id)
        return True

    def expire(self) -> None:
        """Release every home whose time is up (also done by its next message)."""
        now = self.clock()
        for home_id in [h for h, until in self._until.items() if now >= until]:
            self._release(home_id)

    @property
    def quarantined(self) -> dict[str, float]:
        """Each quarantined home and the seconds until its release."""
        now = self.clock()
        return {h: max(0.0, until - now) for h, until in self._until.items()}

    def take_changes(self) -> list[tuple[str, bool]]:
        """Quarantines (True) and releases (False) since the last call."""
        changes, self._changes = self._changes, []
        return changes

    def _release(self, home_id: str) -> None:
        del self._until[home_id]
        self.released_total += 1
        self._changes.append((home_id, False))

    def _forget_quiet(self, now: float) -> None:
        # Bounded memory: a home whose last refusal left the window is forgotten.
        if len(self._refused) > 4096:
            for home_id in [
                h
                for h, times in self._refused.items()
                if not times or now - times[-1] > self.settings.window_s
            ]:
                del self._refused[home_id]
