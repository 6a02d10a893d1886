"""The load behind a transformer other than the heat pumps: the forecast's shape, the meter's level.

The meter measures the whole street; the heat pumps' part is known from
their telemetry (and from the commands sent since), the rest is households,
shops and chargers. Each measurement gives one reading of that rest. A
forecast of it, where there is one, knows when it will change (the evening
rise, a step at the quarter hour) but not its exact level; the meter knows
the level but only of the past. So the estimate is the forecast for the
time this cycle's commands hold, plus the forecast's error as the meter
measured it, smoothed: each measurement moves the error only part of the
way, because the heat pumps' part is itself an estimate from minute-old
telemetry and a loop that corrects its whole error every cycle, with a
cycle's delay, swings (docs/allocation.md).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

# The other load's forecast: W at a moment.
type OtherLoadAt = Callable[[datetime], float]


@dataclass
class OtherLoadEstimate:
    """One congestion point's estimate of its other load."""

    gain: float  # how far one measurement moves the forecast's error, in (0, 1]
    stale_after: timedelta  # an older measurement no longer counts
    follow_delay: timedelta  # a command takes this long to reach the heat pump
    hold: timedelta  # a cycle's commands hold this long
    _sample: tuple[datetime, float] | None = field(default=None, init=False)
    _taken_in: datetime | None = field(default=None, init=False)
    _error_w: float | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        """The gain is a share of the way."""
        if not 0 < self.gain <= 1:
            raise ValueError("the gain must lie in (0, 1]")

    def measured(self, at: datetime, other_w: float) -> None:
        """The meter at ``at`` less what the heat pumps drew then."""
        if self._sample is None or at >= self._sample[0]:
            self._sample = (at, max(0.0, other_w))

    def fresh(self, now: datetime) -> bool:
        """True while the newest measurement still counts."""
        return self._sample is not None and now - self._sample[0] <= self.stale_after

    def at(self, now: datetime, forecast: OtherLoadAt | None) -> float:
        """The other load while this cycle's commands hold (W, >= 0)."""
        ahead = self._ahead(now, forecast) if forecast is not None else 0.0
        if self._sample is None or not self.fresh(now):
            return max(0.0, ahead)
        at, measured_w = self._sample
        error = measured_w - (forecast(at) if forecast is not None else 0.0)
        if at != self._taken_in:
            previous, taken_in = self._error_w, self._taken_in
            if previous is None or taken_in is None or at - taken_in > self.stale_after:
                self._error_w = error  # nothing recent to damp against
            else:
                self._error_w = previous + self.gain * (error - previous)
            self._taken_in = at
        return max(0.0, ahead + (self._error_w or 0.0))

    def later_w(
        self, moment: datetime, now: datetime, forecast: OtherLoadAt | None
    ) -> float:
        """The other load at a later ``moment``: the forecast there plus today's error.

        Without a forecast the measured level holds (persistence). Call after
        :meth:`at` in the same cycle, which takes the newest measurement in.
        """
        fresh = self.fresh(now)
        if forecast is None:
            return self._sample[1] if fresh and self._sample is not None else 0.0
        error = (self._error_w or 0.0) if fresh else 0.0
        return max(0.0, forecast(moment) + error)

    def _ahead(self, now: datetime, forecast: OtherLoadAt) -> float:
        """The forecast's highest value while this cycle's commands hold."""
        start = now + self.follow_delay
        return max(forecast(start), forecast(start + self.hold))
