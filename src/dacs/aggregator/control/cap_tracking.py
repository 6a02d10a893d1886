"""Aim each cycle where the grid operator measures: the 15-minute mean, ahead of cap steps.

The grid operator settles a congestion point per ISP (15 minutes) on the
mean load against the cap, so a cycle's target is not simply the cap now:

- **ahead**: the lowest cap within ``lead_s``; a command reaches a home
  within a cycle and its heat pump settles within a minute, so curtailing
  only when a lower cap starts is a minute too late (pre-curtailment);
- **budget**: what the rest of the ISP may draw on average so that the ISP's
  mean stays under its cap, from the energy measured so far in it; a minute
  over early in an ISP is paid back before the ISP ends;
- **margin**: the load the homes will actually draw differs from what the
  allocation expects (the household load moves, compressors cycle); the
  margin is a high quantile of that measured error over the last half hour,
  bounded between ``min_margin`` and ``max_margin`` of the cap.

``docs/allocation.md`` explains the choices and shows their effect.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
import math

import numpy as np

from dacs.aggregator.domain.envelope import ISP

_ISP_S = ISP.total_seconds()


@dataclass(frozen=True, kw_only=True)
class TrackingSettings:
    """How a cycle's target is set under the cap."""

    lead_s: float = 120.0  # look this far ahead for a lower cap
    initial_margin: float = 0.03  # share of the cap, until errors are measured
    min_margin: float = 0.01
    max_margin: float = 0.08
    error_quantile: float = 0.95
    error_window: int = 60  # predictions kept: half an hour of 30-s cycles
    min_errors: int = 6  # fewer measured errors: the initial margin holds
    response_s: float = 60.0  # a prediction is checked this long after it was made
    # Below this much ISP left, the budget cannot be met by control any more:
    # the cap itself is the target and the next ISP starts afresh.
    min_budget_s: float = 60.0

    def __post_init__(self) -> None:
        """Settings must make sense: shares in [0, 1), times > 0."""
        if not 0 <= self.min_margin <= self.initial_margin <= self.max_margin < 1:
            raise ValueError("margins must satisfy 0 <= min <= initial <= max < 1")
        if not 0 < self.error_quantile < 1:
            raise ValueError("error_quantile must lie in (0, 1)")
        if self.lead_s < 0 or self.response_s <= 0 or self.error_window < 1:
            raise ValueError("lead_s >= 0, response_s > 0 and error_window >= 1")


@dataclass(frozen=True, kw_only=True)
class IspOutcome:
    """One finished ISP as the grid operator settles it: the mean load against the cap."""

    start: datetime
    mean_w: float
    cap_w: float

    @property
    def excess_w(self) -> float:
        """How far the mean was over the cap (0 when under)."""
        return max(0.0, self.mean_w - self.cap_w)


@dataclass(frozen=True, kw_only=True)
class CycleTarget:
    """What one cycle aims at, and why."""

    cap_w: float  # the cap in force now
    ahead_cap_w: float  # the lowest cap from now to now + lead
    budget_w: float  # the mean the rest of this ISP may draw (+inf: no constraint)
    margin_w: float
    target_w: float  # min(cap, ahead, budget) - margin, never below 0


class CapTracker:
    """One congestion point's ISP energy so far and its measured forecast error."""

    def __init__(self, settings: TrackingSettings | None = None) -> None:
        """Start with no ISP measured and the initial margin."""
        self.settings = settings or TrackingSettings()
        self._errors: deque[float] = deque(maxlen=self.settings.error_window)
        self._pending: deque[tuple[datetime, float]] = deque(maxlen=64)
        self._isp_start: datetime | None = None
        self._isp_energy_ws = 0.0
        self._last: tuple[datetime, float] | None = None
        self._isp_cap_w: float | None = None  # the lowest cap a cycle saw in this ISP
        self.outcomes: deque[IspOutcome] = deque(maxlen=96)  # the last day's ISPs

    def observe(self, at: datetime, load_w: float) -> None:
        """A transformer measurement: adds to the ISP's energy and checks predictions."""
        if self._last is not None and at <= self._last[0]:
            return  # late or repeated: the newer state stands
        start = isp_start(at)
        if self._isp_start != start:
            # A new ISP: the last sample (or, with none, this one) is taken to
            # have held since the ISP began; a gap never counts as zero load.
            level = self._last[1] if self._last is not None else load_w
            self._close_isp(level)
            self._isp_start = start
            self._isp_energy_ws = level * (at - start).total_seconds()
        elif self._last is not None:
            self._isp_energy_ws += self._last[1] * (at - self._last[0]).total_seconds()
        self._last = (at, load_w)
        due = at - timedelta(seconds=self.settings.response_s)
        while self._pending and self._pending[0][0] <= due:
            _, predicted = self._pending.popleft()
            self._errors.append(load_w - predicted)

    def _close_isp(self, level_w: float) -> None:
        """File the ISP that just ended, if a cycle saw its cap."""
        if self._isp_start is None or self._last is None or self._isp_cap_w is None:
            self._isp_cap_w = None
            return
        end = self._isp_start + ISP
        energy_ws = (
            self._isp_energy_ws + level_w * (end - self._last[0]).total_seconds()
        )
        self.outcomes.append(
            IspOutcome(
                start=self._isp_start, mean_w=energy_ws / _ISP_S, cap_w=self._isp_cap_w
            )
        )
        self._isp_cap_w = None

    def _used_ws(self, now: datetime) -> float | None:
        """Energy the current ISP has drawn up to ``now`` (None: none measured in it)."""
        if self._isp_start is None or self._last is None:
            return None
        if isp_start(now) != self._isp_start:
            return None
        at, load_w = self._last
        return self._isp_energy_ws + load_w * max(0.0, (now - at).total_seconds())

    def isp_mean_w(self, now: datetime) -> float | None:
        """The current ISP's mean load so far (None before any measurement in it)."""
        used_ws = self._used_ws(now)
        if used_ws is None or self._isp_start is None or self._last is None:
            return None
        elapsed_s = (now - self._isp_start).total_seconds()
        return used_ws / elapsed_s if elapsed_s > 0 else self._last[1]

    def predicted(self, at: datetime, load_w: float) -> None:
        """What the cycle at ``at`` expects the load to be once the homes follow."""
        if math.isfinite(load_w):
            self._pending.append((at, load_w))

    def margin_w(self, cap_w: float) -> float:
        """The margin under ``cap_w``: a high quantile of the recent error, bounded."""
        settings = self.settings
        if len(self._errors) < settings.min_errors:
            share = settings.initial_margin
            return share * cap_w
        quantile = float(
            np.quantile(np.fromiter(self._errors, float), settings.error_quantile)
        )
        return min(
            max(quantile, settings.min_margin * cap_w), settings.max_margin * cap_w
        )

    def budget_w(self, now: datetime, isp_cap_w: float) -> float:
        """The mean the rest of the current ISP may draw to keep its mean under the cap."""
        used_ws = self._used_ws(now)
        if used_ws is None or self._isp_start is None:
            return math.inf  # nothing measured in this ISP yet
        remaining_s = (self._isp_start + ISP - now).total_seconds()
        if remaining_s < self.settings.min_budget_s:
            return math.inf
        return (isp_cap_w * _ISP_S - used_ws) / remaining_s

    def target(self, now: datetime, cap_at: Callable[[datetime], float]) -> CycleTarget:
        """This cycle's target; ``cap_at`` gives the cap in force at a moment (W)."""
        cap_w = cap_at(now)
        if self._isp_start == isp_start(now):
            self._isp_cap_w = (
                cap_w if self._isp_cap_w is None else min(self._isp_cap_w, cap_w)
            )
        ahead = min(
            cap_w,
            cap_at(now + timedelta(seconds=self.settings.lead_s)),
            cap_at(now + timedelta(seconds=self.settings.lead_s / 2)),
        )
        budget = self.budget_w(now, cap_w)
        margin = self.margin_w(ahead)
        target = max(0.0, min(cap_w, ahead, budget) - margin)
        return CycleTarget(
            cap_w=cap_w,
            ahead_cap_w=ahead,
            budget_w=budget,
            margin_w=margin,
            target_w=target,
        )


def isp_start(moment: datetime) -> datetime:
    """The start of the ISP holding ``moment`` (ISPs are aligned to quarter hours)."""
    return moment.replace(
        minute=moment.minute - moment.minute % 15, second=0, microsecond=0
    )
