"""The capacity envelope: what a congestion point may draw, when, and on whose word.

The flex pyramid's three levels meet here: a fixed capacity per time of day
(the contracted capacity, like a tariff-driven baseline), a dynamic day-ahead
envelope in 15-minute intervals (a request for flexibility, from the grid
operator over OpenADR or GOPACS/UFTP, or an operator's manual event), and the
emergency stop (every participating heat pump to its floor or gas-only at
once). The most restrictive cap wins. Inside the aggregator a cap is always
watts (``cap_w``); other units exist only at the edges that speak them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from enum import StrEnum
from itertools import pairwise
from zoneinfo import ZoneInfo

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
ISP = timedelta(minutes=15)  # the grid operator's imbalance settlement period


class EnvelopeKind(StrEnum):
    """Which level of the flex pyramid a cap belongs to (stored as its value)."""

    FIXED = "fixed"
    DYNAMIC = "dynamic"  # day-ahead, per ISP
    MANUAL = "manual"
    EMERGENCY = "emergency"


@dataclass(frozen=True, kw_only=True)
class CapInForce:
    """The cap on a congestion point's load at one moment, and where it came from."""

    cap_w: float
    kind: EnvelopeKind
    envelope_id: str | None = None
    until: datetime | None = None  # when this cap may change next
    ends: datetime | None = None  # when the envelope behind it ends (None: open-ended)

    @property
    def emergency(self) -> bool:
        """True for the emergency stop."""
        return self.kind is EnvelopeKind.EMERGENCY


@dataclass(frozen=True, kw_only=True)
class FixedCapacity:
    """A capacity per time of day (local time), repeating every day.

    ``blocks`` are (start time, cap W) pairs sorted by time; each holds until
    the next one, the last until midnight, and before the first none applies.
    """

    blocks: tuple[tuple[time, float], ...]
    weekdays_only: bool = False

    def __post_init__(self) -> None:
        """Blocks must be sorted and caps positive."""
        starts = [start for start, _ in self.blocks]
        if starts != sorted(starts) or len(set(starts)) != len(starts):
            raise ValueError(
                "fixed capacity blocks must be sorted by start time, without repeats"
            )
        if any(cap < 0 for _, cap in self.blocks):
            raise ValueError("a capacity cannot be negative")

    def cap_at(self, moment: datetime) -> CapInForce | None:
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
        return CapInForce(cap_w=current, kind=EnvelopeKind.FIXED, until=until_local)


@dataclass(frozen=True, kw_only=True)
class CapacityInterval:
    """One interval of an envelope: the most the congestion point may draw."""

    start: datetime
    end: datetime
    cap_w: float

    def __post_init__(self) -> None:
        """An interval runs forward and has a non-negative cap."""
        if self.end <= self.start:
            raise ValueError("an interval must end after it starts")
        if self.cap_w < 0:
            raise ValueError("a capacity cannot be negative")


@dataclass(frozen=True, kw_only=True)
class CapacityEnvelope:
    """Caps per interval for one congestion point, with an id and an origin.

    ``origin`` names who asked for it (``"api"``, ``"openadr:<program>"``,
    ``"uftp:<dso>"``, ``"demo"``); it is stored with the envelope and shown to
    operators.
    """

    envelope_id: str
    kind: EnvelopeKind
    intervals: tuple[CapacityInterval, ...]
    origin: str = "api"

    def __post_init__(self) -> None:
        """Intervals must be ordered and must not overlap."""
        for earlier, later in pairwise(self.intervals):
            if later.start < earlier.end:
                raise ValueError(
                    "envelope intervals must be in order and must not overlap"
                )
        if not self.intervals:
            raise ValueError("an envelope needs at least one interval")

    @property
    def start(self) -> datetime:
        """When the envelope starts."""
        return self.intervals[0].start

    @property
    def end(self) -> datetime:
        """When the envelope ends."""
        return self.intervals[-1].end

    def cap_at(self, moment: datetime) -> CapInForce | None:
        """The envelope's cap at ``moment``."""
        for interval in self.intervals:
            if interval.start <= moment < interval.end:
                return CapInForce(
                    cap_w=interval.cap_w,
                    kind=self.kind,
                    envelope_id=self.envelope_id,
                    until=interval.end,
                )
        return None

    @classmethod
    def day_ahead(
        cls,
        envelope_id: str,
        start: datetime,
        caps_w: Sequence[float],
        *,
        origin: str = "api",
    ) -> CapacityEnvelope:
        """A day-ahead envelope: one cap per 15-minute interval from ``start``."""
        if start.tzinfo is None:
            raise ValueError("start needs a time zone")
        intervals = tuple(
            CapacityInterval(
                start=start + i * ISP, end=start + (i + 1) * ISP, cap_w=cap
            )
            for i, cap in enumerate(caps_w)
        )
        return cls(
            envelope_id=envelope_id,
            kind=EnvelopeKind.DYNAMIC,
            intervals=intervals,
            origin=origin,
        )

    @classmethod
    def emergency_stop(
        cls,
        envelope_id: str,
        start: datetime,
        duration: timedelta,
        *,
        origin: str = "api",
    ) -> CapacityEnvelope:
        """Every participating heat pump to its floor or gas-only: a cap of 0 W."""
        return cls(
            envelope_id=envelope_id,
            kind=EnvelopeKind.EMERGENCY,
            intervals=(CapacityInterval(start=start, end=start + duration, cap_w=0.0),),
            origin=origin,
        )


def binding_cap(
    moment: datetime,
    *,
    fixed: FixedCapacity | None,
    envelopes: Sequence[CapacityEnvelope],
) -> CapInForce | None:
    """The most restrictive cap in force at ``moment`` (an emergency always binds)."""
    caps = [c for c in (e.cap_at(moment) for e in envelopes) if c is not None]
    emergencies = [c for c in caps if c.emergency]
    if emergencies:
        return emergencies[0]
    if fixed is not None and (fixed_cap := fixed.cap_at(moment)) is not None:
        caps.append(fixed_cap)
    return min(caps, key=lambda c: c.cap_w) if caps else None
