"""Household electricity use other than the heat pump, from the NEDU E1A profile.

The profile belongs to 2015 on a fixed UTC+1 axis. A moment in another year
is mapped onto the profile day with the same weekday nearest to the same day
of the year, so weekday and weekend shapes and the season both match.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from functools import cache
from importlib import resources

import numpy as np
from numpy.typing import NDArray

_CET = timezone(timedelta(hours=1))
_QUARTERS_PER_DAY = 96
_PROFILE_DAYS = 365
_PROFILE_FIRST_WEEKDAY = 3  # 1 January 2015 was a Thursday


@cache
def e1a_fractions() -> NDArray[np.float64]:
    """The 35,040 quarter-hour fractions of annual use (sum 1)."""
    text = (
        resources.files(__package__)
        .joinpath("data/nedu_e1a_2015_15min.csv")
        .read_text()
    )
    values = [float(line) for line in text.splitlines() if line and line[0].isdigit()]
    fractions = np.array(values, dtype=np.float64)
    if fractions.size != _PROFILE_DAYS * _QUARTERS_PER_DAY:
        raise ValueError(f"E1A profile has {fractions.size} values, expected 35040")
    return fractions


def profile_index(when: datetime) -> int:
    """The quarter hour of the profile that stands for ``when``."""
    if when.tzinfo is None:
        raise ValueError("a household load needs a timezone-aware time")
    local = when.astimezone(_CET)
    day = min(local.timetuple().tm_yday - 1, _PROFILE_DAYS - 1)
    profile_weekday = (_PROFILE_FIRST_WEEKDAY + day) % 7
    shift = (local.weekday() - profile_weekday) % 7
    if shift > 3:
        shift -= 7
    day = min(max(day + shift, 0), _PROFILE_DAYS - 1)
    quarter = (local.hour * 60 + local.minute) // 15
    return day * _QUARTERS_PER_DAY + quarter


def household_power_w(when: datetime, annual_kwh: float) -> float:
    """Mean power (W) of a household using ``annual_kwh`` a year, at ``when``."""
    if annual_kwh < 0:
        raise ValueError("annual consumption cannot be negative")
    fraction = float(e1a_fractions()[profile_index(when)])
    return fraction * annual_kwh * 4 * 1000  # kWh per quarter hour -> W
