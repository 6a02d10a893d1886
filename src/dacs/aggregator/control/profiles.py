"""Capacity profiles of a congestion point: what cap applies when.

The flex pyramid's three levels meet here: a fixed profile (the contracted
capacity per time of day, like a tariff-driven baseline), a dynamic day-ahead
profile in 15-minute intervals (a request for flexibility, e.g. from the grid
operator over OpenADR or GOPACS), and the emergency stop (every participating
heat pump to its floor or gas-only at once). The most restrictive cap wins.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from enum import StrEnum
from itertools import pairwise
from zoneinfo import ZoneInfo

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
ISP = timedelta(minutes=15)


class CapKind(StrEnum):
    """Where a cap came from."""

    FIXED = "fixed"
    DAY_AHEAD = "dynamic"
    MANUAL = "manual"
    EMERGENCY = "emergency"


@dataclass(frozen=True, kw_only=True)
class Cap:
    """A cap on the congestion point's load at one moment, and its origin."""

    cap_kw: float
    kind: CapKind
    event_id: str | None = None
    until: datetime | None = None  # when this cap may change next
    ends: datetime | None = None  # when the event behind it ends (None: open-ended)

    @property
    def emergency(self) -> bool:
        """True for the emergency stop."""
        return self.kind is CapKind.EMERGENCY


@dataclass(frozen=True, kw_only=True)
class FixedProfile:
    """A capacity per time of day (local time), repeating every day.

    ``blocks`` are (start time, cap kW) pairs sorted by time; each holds until
    the next one, the last until midnight, and before the first none applies.
    """

    blocks: tuple[tuple[time, float], ...]
    weekdays_only: bool = False

    def __post_init__(self) -> None:
        """Blocks must be sorted and caps positive."""
        starts = [start for start, _ in self.blocks]
        if starts != sorted(starts) or len(set(starts)) != len(starts):
            raise ValueError(
                "fixed profile blocks must be sorted by start time, without repeats"
            )
        if any(cap < 0 for _, cap in self.blocks):
            raise ValueError("a capacity cannot be negative")

    def cap_at(self, moment: datetime) -> Cap | None:
        """The fixed cap at ``moment``."""
        local = moment.astimezone(AMSTERDAM)
        if self.weekdays_only and local.weekday() >= 5:
            return None
        current: float | None = None
        next_start: time | None = None
        for start, cap in self.blocks:
            if start <= local.time():
                current = cap
            elif next_start is None:
                next_start = start
        if current is None:
            return None
        day = local.date()
        until_local = (
            datetime.combine(day, next_start, AMSTERDAM)
            if next_start is not None
            else datetime.combine(day + timedelta(days=1), time(0), AMSTERDAM)
        )
        return Cap(cap_kw=current, kind=CapKind.FIXED, until=until_local)


@dataclass(frozen=True, kw_only=True)
class CapInterval:
    """One interval of a dynamic profile or a manual event."""

    start: datetime
    end: datetime
    cap_kw: float

    def __post_init__(self) -> None:
        """An interval runs forward and has a non-negative cap."""
        if self.end <= self.start:
            raise ValueError("an interval must end after it starts")
        if self.cap_kw < 0:
            raise ValueError("a capacity cannot be negative")


@dataclass(frozen=True, kw_only=True)
class CapEvent:
    """A dynamic (day-ahead) profile, a manual event or an emergency stop."""

    event_id: str
    kind: CapKind
    intervals: tuple[CapInterval, ...]

    def __post_init__(self) -> None:
        """Intervals must be ordered and must not overlap."""
        for earlier, later in pairwise(self.intervals):
            if later.start < earlier.end:
                raise ValueError(
                    "event intervals must be in order and must not overlap"
                )
        if not self.intervals:
            raise ValueError("an event needs at least one interval")

    @property
    def start(self) -> datetime:
        """When the event starts."""
        return self.intervals[0].start

    @property
    def end(self) -> datetime:
        """When the event ends."""
        return self.intervals[-1].end

    def cap_at(self, moment: datetime) -> Cap | None:
        """The event's cap at ``moment``."""
        for interval in self.intervals:
            if interval.start <= moment < interval.end:
                return Cap(
                    cap_kw=interval.cap_kw,
                    kind=self.kind,
                    event_id=self.event_id,
                    until=interval.end,
                )
        return None

    @classmethod
    def day_ahead(
        cls, event_id: str, start: datetime, caps_kw: Sequence[float]
    ) -> CapEvent:
        """A day-ahead profile: one cap per 15-minute interval from ``start``."""
        if start.tzinfo is None:
            raise ValueError("start needs a time zone")
        intervals = tuple(
            CapInterval(start=start + i * ISP, end=start + (i + 1) * ISP, cap_kw=cap)
            for i, cap in enumerate(caps_kw)
        )
        return cls(event_id=event_id, kind=CapKind.DAY_AHEAD, intervals=intervals)

    @classmethod
    def emergency_stop(
        cls, event_id: str, start: datetime, duration: timedelta
    ) -> CapEvent:
        """Every participating heat pump to its floor or gas-only: a cap of 0 kW."""
        return cls(
            event_id=event_id,
            kind=CapKind.EMERGENCY,
            intervals=(CapInterval(start=start, end=start + duration, cap_kw=0.0),),
        )


def binding_cap(
    moment: datetime, *, fixed: FixedProfile | None, events: Sequence[CapEvent]
) -> Cap | None:
    """The most restrictive cap in force at ``moment`` (an emergency always binds)."""
    caps = [c for c in (e.cap_at(moment) for e in events) if c is not None]
    emergencies = [c for c in caps if c.emergency]
    if emergencies:
        return emergencies[0]
    if fixed is not None and (fixed_cap := fixed.cap_at(moment)) is not None:
        caps.append(fixed_cap)
    return min(caps, key=lambda c: c.cap_kw) if caps else None
