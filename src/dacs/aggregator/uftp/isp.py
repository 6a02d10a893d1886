"""Imbalance settlement periods (ISPs): UFTP's numbered 15-minute slots of a local day.

ISP 1 starts at local midnight; a day has 92, 96 or 100 ISPs (daylight saving
days are shorter or longer), so ISP times are counted in elapsed time from
midnight, not on the wall clock.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

ISP_DURATION = timedelta(minutes=15)
MAX_ISPS = 100  # the longest day (daylight saving time ends)


def day_bounds(period: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """UTC start and end of a local day."""
    start = datetime.combine(period, time(0), zone).astimezone(UTC)
    end = datetime.combine(period + timedelta(days=1), time(0), zone).astimezone(UTC)
    return start, end


def isp_count(period: date, zone: ZoneInfo) -> int:
    """How many ISPs the local day has."""
    start, end = day_bounds(period, zone)
    return int((end - start) / ISP_DURATION)


def isp_start(period: date, isp: int, zone: ZoneInfo) -> datetime:
    """UTC start of ISP number ``isp`` (1-based) of the local day."""
    if not 1 <= isp <= isp_count(period, zone):
        raise ValueError(f"ISP {isp} does not exist on {period}")
    return day_bounds(period, zone)[0] + (isp - 1) * ISP_DURATION


def isp_at(moment: datetime, zone: ZoneInfo) -> tuple[date, int]:
    """The local day and ISP number that contain ``moment``."""
    period = moment.astimezone(zone).date()
    start, _ = day_bounds(period, zone)
    return period, int((moment - start) / ISP_DURATION) + 1


def expand(spans: Iterable[tuple[int, int, int]]) -> dict[int, int]:
    """ISP -> power from UFTP's (start, duration, power) elements.

    Raises ValueError when an ISP appears twice or a duration is not positive
    or longer than a day.
    """
    powers: dict[int, int] = {}
    for start, duration, power in spans:
        if duration < 1:
            raise ValueError(f"ISP duration {duration} at ISP {start} is not positive")
        if duration > MAX_ISPS:
            # Not counted out one by one: a Duration of 10**15 would take days.
            raise ValueError(f"a span of {duration} ISPs is longer than any day")
        for isp in range(start, start + duration):
            if isp in powers:
                raise ValueError(f"ISP {isp} is given more than once")
            powers[isp] = power
    return powers
