"""Congestion points whose control step raised: skipped by control until lifted.

A point whose state makes its cycle raise (absurd ratings that slipped
through, a bug) would raise again every cycle: a traceback every few
seconds and, worse, commands half sent. It is quarantined instead: logged
with its traceback once, an alert raised, and skipped by every cycle until
an operator lifts it (``POST /api/v1/congestion-points/{id}/quarantine/lift``)
or its registration changes. Its homes meanwhile fall back as they do
without an aggregator: every limit expires by itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from dacs.excerpt import bounded


@dataclass(frozen=True, kw_only=True)
class QuarantinedPoint:
    """Why and since when a point is skipped."""

    point_id: str
    since: datetime
    reason: str  # the exception, cut short


@dataclass
class PointQuarantine:
    """The quarantined congestion points and what happened to them."""

    quarantined_total: int = 0
    lifted_total: int = 0
    points: dict[str, QuarantinedPoint] = field(default_factory=dict)
    # Changes the service has not yet turned into alerts.
    _changes: list[tuple[QuarantinedPoint, bool]] = field(default_factory=list)

    def holds(self, point_id: str) -> bool:
        """True while ``point_id`` is quarantined."""
        return point_id in self.points

    def enter(
        self, point_id: str, error: BaseException, now: datetime
    ) -> QuarantinedPoint:
        """Quarantine ``point_id`` for ``error``."""
        entry = QuarantinedPoint(
            point_id=point_id,
            since=now,
            reason=bounded(f"{type(error).__name__}: {error}", 200),
        )
        self.points[point_id] = entry
        self.quarantined_total += 1
        self._changes.append((entry, True))
        return entry

    def lift(self, point_id: str) -> bool:
        """Put ``point_id`` back under control; False when it was not quarantined."""
        entry = self.points.pop(point_id, None)
        if entry is None:
            return False
        self.lifted_total += 1
        self._changes.append((entry, False))
        return True

    def take_changes(self) -> list[tuple[QuarantinedPoint, bool]]:
        """Quarantines (True) and lifts (False) since the last call."""
        changes, self._changes = self._changes, []
        return changes
