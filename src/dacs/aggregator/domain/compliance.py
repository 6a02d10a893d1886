"""The grid operator's view of a load trace: per-ISP averages against the caps.

A grid operator settles per imbalance settlement period (ISP, 15 minutes
aligned to the quarter hour): what counts is whether an ISP's *average* load
stayed under its cap. Minute figures come next to it, because a street that
is compliant on average can still trip a fuse for a minute.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
import math

import numpy as np
from numpy.typing import NDArray

from .allocation import TOLERANCE_W
from .envelope import ISP, CapacityInterval

_ISP_S = ISP.total_seconds()
_MINUTE = timedelta(minutes=1)


@dataclass(frozen=True, kw_only=True)
class IspCompliance:
    """One ISP: the average load of the samples in it against its cap."""

    start: datetime
    cap_w: float
    average_w: float
    samples: int  # how many load samples fell in it (fewer: partly covered)

    @property
    def excess_w(self) -> float:
        """How far the average lay over the cap (0 when under or at it)."""
        return max(0.0, self.average_w - self.cap_w)

    @property
    def over(self) -> bool:
        """True when the average lay over the cap."""
        return self.excess_w > TOLERANCE_W


@dataclass(frozen=True, kw_only=True)
class ComplianceReport:
    """Per-ISP and per-minute compliance of one load trace."""

    isps: tuple[IspCompliance, ...]
    minutes: int  # samples under a cap
    minutes_over: int
    worst_minute_excess_w: float
    worst_minute_excess_share: (
        float  # the largest excess as a share of its minute's cap
    )
    energy_over_kwh: float

    @property
    def isps_over(self) -> int:
        """ISPs whose average lay over the cap."""
        return sum(1 for isp in self.isps if isp.over)

    @property
    def worst_isp(self) -> IspCompliance | None:
        """The ISP with the largest excess (None when there are none)."""
        return max(self.isps, key=lambda isp: isp.excess_w, default=None)

    @property
    def worst_isp_excess_w(self) -> float:
        """The largest ISP excess."""
        worst = self.worst_isp
        return worst.excess_w if worst is not None else 0.0

    @property
    def worst_isp_excess_share(self) -> float:
        """The largest ISP excess as a share of its ISP's cap."""
        return max((_share(i.excess_w, i.cap_w) for i in self.isps), default=0.0)

    @property
    def share_minutes_over(self) -> float:
        """Share of the capped minutes that lay over the cap."""
        return self.minutes_over / self.minutes if self.minutes else 0.0


def _share(excess_w: float, cap_w: float) -> float:
    # A 0 W cap (the emergency stop) has no meaningful percentage.
    if excess_w <= TOLERANCE_W:
        return 0.0
    return excess_w / cap_w if cap_w > 0 else math.inf


def isp_caps(
    start: datetime, end: datetime, cap_w_at: Callable[[datetime], float | None]
) -> tuple[CapacityInterval, ...]:
    """The cap of every ISP from ``start`` to ``end``, read at each ISP's start.

    ``start`` is rounded down to the quarter hour; ISPs without a cap are left out.
    """
    epoch = start.timestamp()
    first = start.fromtimestamp(epoch - epoch % _ISP_S, start.tzinfo)
    caps = []
    moment = first
    while moment < end:
        cap = cap_w_at(moment)
        if cap is not None:
            caps.append(CapacityInterval(start=moment, end=moment + ISP, cap_w=cap))
        moment += ISP
    return tuple(caps)


def assess_compliance(
    times: Sequence[datetime],
    load_w: NDArray[np.float64],
    caps: Sequence[CapacityInterval],
    *,
    sample_s: float = 60.0,
) -> ComplianceReport:
    """Compare per-sample loads (W, each the mean over ``sample_s`` from its time) with the caps.

    Samples outside every interval are not capped and do not count; an ISP
    without any sample is left out of the report.
    """
    if len(times) != len(load_w):
        raise ValueError("times and loads must have the same length")
    stamps = np.array([t.timestamp() for t in times], dtype=np.float64)
    starts = np.array([c.start.timestamp() for c in caps], dtype=np.float64)
    ends = np.array([c.end.timestamp() for c in caps], dtype=np.float64)
    cap_values = np.array([c.cap_w for c in caps], dtype=np.float64)
    index = np.searchsorted(starts, stamps, side="right") - 1
    inside = index >= 0
    inside[inside] = stamps[inside] < ends[index[inside]]
    loads = np.asarray(load_w, dtype=np.float64)[inside]
    which = index[inside]
    minute_caps = cap_values[which]
    excess = np.maximum(loads - minute_caps, 0.0)
    over = excess > TOLERANCE_W
    isps = []
    for position, interval in enumerate(caps):
        mask = which == position
        if mask.any():
            isps.append(
                IspCompliance(
                    start=interval.start,
                    cap_w=interval.cap_w,
                    average_w=float(loads[mask].mean()),
                    samples=int(mask.sum()),
                )
            )
    return ComplianceReport(
        isps=tuple(isps),
        minutes=int(loads.size),
        minutes_over=int(over.sum()),
        worst_minute_excess_w=float(excess.max(initial=0.0)),
        worst_minute_excess_share=max(
            (
                _share(float(e), float(c))
                for e, c in zip(excess, minute_caps, strict=True)
            ),
            default=0.0,
        ),
        energy_over_kwh=float(excess[over].sum()) * sample_s / 3600 / 1000,
    )


def held_per_minute(
    samples: Sequence[tuple[datetime, float]], start: datetime, end: datetime
) -> tuple[list[datetime], NDArray[np.float64]]:
    """Measurements at any moments as one load per minute: the reading in force then.

    Each minute from ``start`` takes the newest sample at or before its
    middle; minutes before the first sample are left out (a gap never counts
    as zero load). ``samples`` must be sorted by time.
    """
    times: list[datetime] = []
    loads: list[float] = []
    index = -1
    moment = start
    while moment < end:
        middle = moment + _MINUTE / 2
        while index + 1 < len(samples) and samples[index + 1][0] <= middle:
            index += 1
        if index >= 0:
            times.append(moment)
            loads.append(samples[index][1])
        moment += _MINUTE
    return times, np.array(loads, dtype=np.float64)
