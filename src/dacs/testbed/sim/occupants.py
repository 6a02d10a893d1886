"""The people in a home: when they are in, what they give off, their hot water.

A :class:`Household` is a handful of documented parameters (sources in
``docs/simulator.md``). Everything that changes from day to day (when they
get up, whether they stay home, how much hot water they use, how much the
appliances run) is drawn from a counter-based hash of ``(seed, day,
channel)``: the same home on the same day always gets the same draws, in the
per-home model and in the vectorised model alike, without any shared random
state.

:func:`household_inputs` turns the schedule into the model's inputs per step:
the room setpoint (night setback), the internal gains (people and appliances)
and the hot water drawn from the boiler. It works on arrays shaped
``(steps, homes)`` (or anything that broadcasts), so one call serves an hour
of a whole neighbourhood and one step of one home.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from functools import cache
import math
from zoneinfo import ZoneInfo

import numpy as np

from .equations import FloatArray, at_least, at_most, flag
from .household_load import e1a_fractions, profile_index

LOCAL = ZoneInfo("Europe/Amsterdam")
_DAY_S = 86_400.0

# People: sensible heat per person (W), awake and asleep; ISO 7730 / EN 16798
# metabolic rates (1.2 met seated ~ 70 W sensible, 0.8 met asleep ~ 45 W).
PERSON_AWAKE_W = 70.0
PERSON_ASLEEP_W = 45.0
# Share of the household's electricity that ends up as heat in the heated
# rooms (the rest leaves with drain water, outdoor lights, ventilation
# exhaust). Estimate.
APPLIANCE_HEAT_SHARE = 0.8
# Hot water: tap water heated from 10 °C; a shower or kitchen tap draws the
# combi boiler's tap power. Estimates (docs/simulator.md).
WATER_J_PER_LITRE_K = 4186.0
HOT_WATER_RISE_K = 50.0
TAP_POWER_W = 18_000.0
MORNING_SHARE = 0.6
EVENING_TAP_MIN = 19 * 60.0
PREHEAT_MIN = 60.0  # the setback ends this long before getting up
LEAVE_MIN = 8 * 60 + 30.0
RETURN_MIN = 17 * 60 + 30.0
WFH_CHANCE = 0.15  # a working day spent at home (ill, home working). Estimate.

# Channels of the per-day hash.
_WAKE, _HOME_TODAY, _APPLIANCES, _HOT_WATER, _EVENING, _RETURN = range(6)


@dataclass(frozen=True, kw_only=True)
class Household:
    """The occupants of one home and their habits.

    Attributes:
        seed: Draws of this home's day-to-day variation.
        occupants: People living there (1-6).
        away_weekdays: Out from about 08:30 to 17:30 on weekdays.
        wake_min: Usual time of getting up, minutes after local midnight.
        sleep_min: Usual bedtime, minutes after local midnight.
        setback_k: Night setback of the thermostat (0: none); the room is
            ``setback_k`` cooler from bedtime until an hour before getting up.
        hot_water_l_per_person: Hot water per person and day, as litres
            heated by 50 K.
        annual_electricity_kwh: The household's electricity (NEDU E1A
            shape), part of which heats the rooms.
        thermostat_offset_k: Calibration error of the room thermostat.
        thermostat_resolution_k: The thermostat's resolution (0: exact).
        meter_gain_error: Relative error of the heat pump's power sensor.
        meter_noise_w: Standard deviation of the power sensor's noise (W).
    """

    seed: int
    occupants: int = 2
    away_weekdays: bool = True
    wake_min: float = 7 * 60.0
    sleep_min: float = 23 * 60.0
    setback_k: float = 0.0
    hot_water_l_per_person: float = 40.0
    annual_electricity_kwh: float = 2_800.0
    thermostat_offset_k: float = 0.0
    thermostat_resolution_k: float = 0.1
    meter_gain_error: float = 0.0
    meter_noise_w: float = 0.0

    def __post_init__(self) -> None:
        """Refuse habits nobody has."""
        for item in fields(self):
            value = getattr(self, item.name)
            if isinstance(value, float) and not math.isfinite(value):
                raise ValueError(f"{item.name} must be finite, got {value}")
        if not 1 <= self.occupants <= 6:
            raise ValueError(f"occupants must be 1-6, got {self.occupants}")
        if not 0 <= self.wake_min < self.sleep_min <= 24 * 60:
            raise ValueError("wake_min must come before sleep_min within the day")
        for name in (
            "setback_k",
            "hot_water_l_per_person",
            "annual_electricity_kwh",
            "thermostat_resolution_k",
            "meter_noise_w",
        ):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if abs(self.meter_gain_error) >= 0.5:
            raise ValueError("meter_gain_error must lie in (-0.5, 0.5)")

    @property
    def mean_gains_w(self) -> float:
        """Mean internal gains over a week (W); what a feed-forward can assume."""
        people = self.occupants * (PERSON_AWAKE_W * 15 / 24 + PERSON_ASLEEP_W * 9 / 24)
        if self.away_weekdays:
            people *= 1 - (5 / 7) * (9 / 24) * (1 - WFH_CHANCE)
        return people + APPLIANCE_HEAT_SHARE * self.annual_electricity_kwh / 8.76


@dataclass(frozen=True)
class HouseholdArrays:
    """The households of many homes as arrays (one element per home)."""

    seed: FloatArray
    occupants: FloatArray
    away_weekdays: FloatArray
    wake_min: FloatArray
    sleep_min: FloatArray
    setback_k: FloatArray
    hot_water_j_per_day: FloatArray
    annual_electricity_kwh: FloatArray
    thermostat_offset_k: FloatArray
    thermostat_resolution_k: FloatArray
    meter_gain_error: FloatArray
    meter_noise_w: FloatArray

    @classmethod
    def of(cls, households: list[Household]) -> HouseholdArrays:
        """Stack households into arrays."""

        def column(name: str) -> FloatArray:
            return np.array([float(getattr(h, name)) for h in households])

        return cls(
            seed=column("seed"),
            occupants=column("occupants"),
            away_weekdays=column("away_weekdays"),
            wake_min=column("wake_min"),
            sleep_min=column("sleep_min"),
            setback_k=column("setback_k"),
            hot_water_j_per_day=column("occupants")
            * column("hot_water_l_per_person")
            * WATER_J_PER_LITRE_K
            * HOT_WATER_RISE_K,
            annual_electricity_kwh=column("annual_electricity_kwh"),
            thermostat_offset_k=column("thermostat_offset_k"),
            thermostat_resolution_k=column("thermostat_resolution_k"),
            meter_gain_error=column("meter_gain_error"),
            meter_noise_w=column("meter_noise_w"),
        )


def day_uniform(seed: FloatArray, day: FloatArray, channel: int) -> FloatArray:
    """A uniform draw in [0, 1) per (seed, day, channel): splitmix64 of the three."""
    with np.errstate(over="ignore"):
        x = (
            np.asarray(seed, dtype=np.float64).astype(np.int64).astype(np.uint64)
            * np.uint64(0x9E3779B97F4A7C15)
            + np.asarray(day, dtype=np.float64).astype(np.int64).astype(np.uint64)
            * np.uint64(0xBF58476D1CE4E5B9)
            + np.uint64(channel) * np.uint64(0x94D049BB133111EB)
        )
        x = x + np.uint64(0x9E3779B97F4A7C15)
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        x = x ^ (x >> np.uint64(31))
    result: FloatArray = (x >> np.uint64(11)).astype(np.float64) / float(1 << 53)
    return result


@dataclass(frozen=True)
class Calendar:
    """Local clock of each step: minute of the day, day number, weekday (0 = Monday)."""

    minute: FloatArray
    day: FloatArray
    weekday: FloatArray
    profile_fraction: FloatArray  # NEDU E1A share of the year in this quarter hour


def calendar(epoch_s: FloatArray) -> Calendar:
    """The local calendar of POSIX times (Europe/Amsterdam, with DST)."""
    times = np.atleast_1d(np.asarray(epoch_s, dtype=np.float64))
    minute = np.empty_like(times)
    day = np.empty_like(times)
    weekday = np.empty_like(times)
    index = np.empty(times.shape, dtype=np.int64)
    for i, t in enumerate(times.tolist()):
        minute[i], day[i], weekday[i], index[i] = _calendar_of(t)
    return Calendar(minute, day, weekday, e1a_fractions()[index])


@cache
def _offset_s(hour_epoch: int) -> float:
    moment = datetime.fromtimestamp(hour_epoch * 3600, tz=LOCAL)
    offset = moment.utcoffset()
    return 0.0 if offset is None else offset.total_seconds()


def _calendar_of(t: float) -> tuple[float, float, float, int]:
    local = t + _offset_s(int(t // 3600))
    day = math.floor(local / _DAY_S)
    minute = (local - day * _DAY_S) / 60.0
    weekday = (day + 3) % 7  # 1970-01-01 was a Thursday
    moment = datetime.fromtimestamp(t, tz=LOCAL)
    return minute, float(day), float(weekday), profile_index(moment)


@dataclass(frozen=True)
class HouseholdInputs:
    """The schedule's inputs to the model for each (step, home)."""

    setpoint_drop_k: FloatArray  # subtract from the room setpoint
    gains_w: FloatArray  # internal gains into the air node
    hot_water_w: FloatArray  # mean hot-water heat drawn from the boiler
    tap_share: FloatArray  # share of the step the boiler serves the tap


@dataclass(frozen=True)
class _DayPlan:
    """One day of every home, drawn once: rows are days, columns homes."""

    wake: FloatArray
    back: FloatArray
    out_today: FloatArray  # 1.0 if the household goes out on this day
    appliance_factor: FloatArray
    morning_min: FloatArray
    evening_at: FloatArray
    evening_min: FloatArray


def _day_plan(
    people: HouseholdArrays, day: FloatArray, weekday: FloatArray
) -> _DayPlan:
    d = day[:, None]
    seed = people.seed[None, :]
    weekend = flag(weekday >= 5.0)[:, None]
    # Getting up: +-30 min around the usual time, an hour later at weekends.
    wake = (
        people.wake_min[None, :]
        + 60.0 * (day_uniform(seed, d, _WAKE) - 0.5)
        + 60.0 * weekend
    )
    stays_home = flag(day_uniform(seed, d, _HOME_TODAY) < WFH_CHANCE)
    daily_j = people.hot_water_j_per_day[None, :] * (
        0.6 + 0.8 * day_uniform(seed, d, _HOT_WATER)
    )
    return _DayPlan(
        wake=wake,
        back=RETURN_MIN + 90.0 * (day_uniform(seed, d, _RETURN) - 0.5),
        out_today=(1.0 - weekend) * people.away_weekdays[None, :] * (1.0 - stays_home),
        # Appliances follow the NEDU profile, scaled +-25 % from day to day.
        appliance_factor=0.75 + 0.5 * day_uniform(seed, d, _APPLIANCES),
        morning_min=MORNING_SHARE * daily_j / TAP_POWER_W / 60.0,
        evening_at=EVENING_TAP_MIN + 120.0 * (day_uniform(seed, d, _EVENING) - 0.5),
        evening_min=(1.0 - MORNING_SHARE) * daily_j / TAP_POWER_W / 60.0,
    )


def household_inputs(
    people: HouseholdArrays, cal: Calendar, dt_s: float
) -> HouseholdInputs:
    """Setpoint drop, internal gains and hot water per step (rows) and home (columns)."""
    days, first, row = np.unique(cal.day, return_index=True, return_inverse=True)
    plan = _day_plan(people, days, cal.weekday[first])
    minute = cal.minute[:, None]
    step_min = dt_s / 60.0
    wake = plan.wake[row]
    sleep = people.sleep_min[None, :]
    awake = flag(minute >= wake) * flag(minute < sleep)
    out = (
        plan.out_today[row] * flag(minute >= LEAVE_MIN) * flag(minute < plan.back[row])
    )
    persons = people.occupants[None, :]
    people_w = (
        (1.0 - out)
        * persons
        * (PERSON_ASLEEP_W + awake * (PERSON_AWAKE_W - PERSON_ASLEEP_W))
    )
    appliances_w = (
        (APPLIANCE_HEAT_SHARE * 4000.0 * cal.profile_fraction)[:, None]
        * people.annual_electricity_kwh[None, :]
        * plan.appliance_factor[row]
    )
    # Night setback from bedtime until an hour before getting up.
    night = at_most(flag(minute >= sleep) + flag(minute < wake - PREHEAT_MIN), 1.0)
    # Hot water: a morning draw after getting up, an evening one around 19:00.
    share = _overlap(minute, step_min, wake + 10.0, plan.morning_min[row]) + _overlap(
        minute, step_min, plan.evening_at[row], plan.evening_min[row]
    )
    share = at_most(share, 1.0)
    return HouseholdInputs(
        setpoint_drop_k=people.setback_k[None, :] * night,
        gains_w=people_w + appliances_w,
        hot_water_w=share * TAP_POWER_W,
        tap_share=share,
    )


def _overlap(
    minute: FloatArray, step_min: float, begin: FloatArray, length: FloatArray
) -> FloatArray:
    """Share of the step ``[minute, minute + step)`` inside ``[begin, begin + length)``."""
    inside = at_most(minute + step_min, begin + length) - at_least(minute, begin)
    result: FloatArray = at_least(inside, 0.0) / step_min
    return result
