"""Settlement time: 15-minute intervals, local time-of-day blocks and monthly periods.

Months and time-of-day blocks follow the residents' clock (Europe/Amsterdam);
intervals are aligned to the quarter hour, which is the same in UTC and in
local time because the Dutch offsets are whole hours.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
import re
from zoneinfo import ZoneInfo

import numpy as np
from numpy.typing import NDArray

from dacs.aggregator.domain.delivery import SETTLEMENT_INTERVAL

from .errors import BadPeriodError, BadRangeError

LOCAL_TIME = ZoneInfo("Europe/Amsterdam")
INTERVAL_S = int(SETTLEMENT_INTERVAL.total_seconds())
_PERIOD = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
# A settlement query spans at most this long (a month and a margin).
MAX_RANGE = timedelta(days=62)


def month_bounds(period: str) -> tuple[datetime, datetime]:
    """The UTC start and end of a local calendar month written ``YYYY-MM``."""
    match = _PERIOD.fullmatch(period) if isinstance(period, str) else None
    if match is None:
        raise BadPeriodError(
            f"period {period!r} must be a month written YYYY-MM, e.g. 2025-01"
        )
    year, month = int(match.group(1)), int(match.group(2))
    if year < 2000:
        raise BadPeriodError(f"period {period!r} lies before 2000")
    start = datetime(year, month, 1, tzinfo=LOCAL_TIME)
    end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=LOCAL_TIME)
    return start.astimezone(UTC), end.astimezone(UTC)


def period_of(moment: datetime) -> str:
    """The ``YYYY-MM`` period a moment falls in (local calendar)."""
    return moment.astimezone(LOCAL_TIME).strftime("%Y-%m")


def check_range(
    start: datetime, end: datetime, *, longest: timedelta = MAX_RANGE
) -> None:
    """Refuse naive, reversed, empty or over-long ranges."""
    if start.tzinfo is None or end.tzinfo is None:
        raise BadRangeError("start and end need a time zone")
    if end <= start:
        raise BadRangeError(
            f"start ({start.isoformat()}) must lie before end ({end.isoformat()})"
        )
    if end - start > longest:
        raise BadRangeError(f"a range may span at most {longest.days} days")


def floor_interval(moment: datetime) -> datetime:
    """The start of the 15-minute interval holding ``moment``."""
    seconds = int(moment.timestamp()) // INTERVAL_S * INTERVAL_S
    return datetime.fromtimestamp(seconds, tz=UTC)


def interval_starts(start: datetime, end: datetime) -> NDArray[np.int64]:
    """POSIX starts of the whole intervals inside ``[start, end)``."""
    first = -(-int(start.timestamp()) // INTERVAL_S) * INTERVAL_S
    last = int(end.timestamp()) // INTERVAL_S * INTERVAL_S
    return np.arange(first, last, INTERVAL_S, dtype=np.int64)


def time_of_day_blocks(
    starts_s: NDArray[np.int64], block_hours: int
) -> NDArray[np.int64]:
    """The local time-of-day block of each interval (0 .. 24 / block_hours - 1)."""
    hours = np.fromiter(
        (datetime.fromtimestamp(int(s), tz=LOCAL_TIME).hour for s in starts_s),
        dtype=np.int64,
        count=len(starts_s),
    )
    return hours // block_hours
