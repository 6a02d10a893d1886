"""Outdoor conditions for the simulator: a constant or a measured hourly series.

The measured series reads KNMI hourly files converted to CSV (see
``data/README.md``). KNMI reports two kinds of values per hour, and they sit
at different instants:

* the temperature ``T`` is a snapshot taken at the *end* of the hour;
* the global radiation ``Q`` is the *mean* over the hour.

A row stamped with the start of its hour (``timestamp_utc``) therefore
places its temperature at ``timestamp + 1 h`` and its radiation at the
middle of the hour, ``timestamp + 30 min``. Between those instants both are
interpolated linearly. Interpolating hourly means through the mid-hour
points keeps each day's radiation energy: over any stretch that starts and
ends at night the trapezoids add up to exactly the sum of the hourly means.
"""

from __future__ import annotations

from bisect import bisect_right
import csv
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
import math
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

_HOUR_S = 3600.0
_TEMPERATURE_OFFSET_S = _HOUR_S  # KNMI T: snapshot at the end of the hour
_RADIATION_OFFSET_S = _HOUR_S / 2  # KNMI Q: mean over the hour, placed mid-hour
_DEFAULT_FILE = "knmi_de_bilt_2024_2025_hourly.csv"
_COLUMNS = ("timestamp_utc", "temperature_c", "global_radiation_wm2")


@dataclass(frozen=True)
class WeatherSample:
    """Outdoor conditions at one instant."""

    outdoor_temp_c: float
    global_radiation_wm2: float


class Weather(Protocol):
    """Anything that can tell the outdoor conditions at a time."""

    def at(self, when: datetime) -> WeatherSample:
        """Return the conditions at ``when`` (timezone-aware)."""
        ...


@runtime_checkable
class ArrayWeather(Protocol):
    """Weather that can also be sampled for many instants at once."""

    def at_epoch_seconds(
        self, epoch_s: NDArray[np.float64]
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Return outdoor temperatures (°C) and radiation (W/m²) at POSIX times."""
        ...


def epoch_seconds(when: datetime) -> float:
    """Return POSIX seconds of a timezone-aware datetime.

    Raises:
        ValueError: ``when`` is naive; a naive time is ambiguous around DST
            changes, and the weather is stamped in UTC.
    """
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValueError(
            f"{when.isoformat()} has no timezone; pass an aware datetime,"
            " e.g. datetime(..., tzinfo=UTC)"
        )
    return when.timestamp()


@dataclass(frozen=True)
class ConstantWeather:
    """The same outdoor conditions at every instant (tests, steady states)."""

    outdoor_temp_c: float
    global_radiation_wm2: float = 0.0

    def __post_init__(self) -> None:
        """Reject values a house model cannot use."""
        if not math.isfinite(self.outdoor_temp_c):
            raise ValueError(
                f"outdoor_temp_c must be finite, got {self.outdoor_temp_c}"
            )
        if not (
            math.isfinite(self.global_radiation_wm2) and self.global_radiation_wm2 >= 0
        ):
            raise ValueError(
                "global_radiation_wm2 must be finite and >= 0,"
                f" got {self.global_radiation_wm2}"
            )

    def at(self, when: datetime) -> WeatherSample:
        """Return the constant conditions (``when`` must still be aware)."""
        epoch_seconds(when)
        return WeatherSample(self.outdoor_temp_c, self.global_radiation_wm2)

    def at_epoch_seconds(
        self, epoch_s: NDArray[np.float64]
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Return the constant conditions for every instant in ``epoch_s``."""
        shape = np.shape(epoch_s)
        return (
            np.full(shape, self.outdoor_temp_c, dtype=np.float64),
            np.full(shape, self.global_radiation_wm2, dtype=np.float64),
        )


class WeatherSeries:
    """Hourly measured weather, interpolated linearly in time.

    The series covers ``[start, end]``: from the first row's timestamp to one
    hour after the last row's (each row describes the hour it starts). The
    first temperature snapshot lies one hour after ``start``; the hour before
    it holds that first value. With ``wrap=True`` any instant maps onto the
    same position in the series, cycling with a period of ``end - start``,
    and interpolation runs across the seam from the last hour to the first.
    """

    def __init__(
        self,
        timestamps_s: NDArray[np.float64],
        temperature_c: NDArray[np.float64],
        global_radiation_wm2: NDArray[np.float64],
        *,
        wrap: bool = False,
    ) -> None:
        """Build a series from hour-start POSIX times and the hourly values.

        Raises:
            ValueError: arrays differ in length, are empty, hold non-finite
                values or negative radiation, or times are not strictly
                increasing.
        """
        times = np.asarray(timestamps_s, dtype=np.float64)
        temps = np.asarray(temperature_c, dtype=np.float64)
        radiation = np.asarray(global_radiation_wm2, dtype=np.float64)
        if not (times.ndim == temps.ndim == radiation.ndim == 1):
            raise ValueError("weather arrays must be one-dimensional")
        if not (len(times) == len(temps) == len(radiation)) or len(times) == 0:
            raise ValueError(
                "weather arrays must be non-empty and of equal length, got"
                f" {len(times)}, {len(temps)}, {len(radiation)}"
            )
        for name, values in (
            ("timestamps", times),
            ("temperatures", temps),
            ("radiation", radiation),
        ):
            if not np.all(np.isfinite(values)):
                raise ValueError(f"weather {name} contain non-finite values")
        if np.any(radiation < 0):
            raise ValueError("global radiation must be >= 0")
        if np.any(np.diff(times) <= 0):
            raise ValueError("weather timestamps must be strictly increasing")

        self._times = times
        self._temps = temps
        self._radiation = radiation
        self._wrap = wrap
        self._start_s = float(times[0])
        self._end_s = float(times[-1]) + _HOUR_S
        self._period_s = self._end_s - self._start_s
        self._temp_x, self._temp_y = self._knots(times + _TEMPERATURE_OFFSET_S, temps)
        self._rad_x, self._rad_y = self._knots(times + _RADIATION_OFFSET_S, radiation)
        # Plain lists make the scalar look-up in at() cheap; it runs every step.
        self._temp_x_list: list[float] = self._temp_x.tolist()
        self._temp_y_list: list[float] = self._temp_y.tolist()
        self._rad_x_list: list[float] = self._rad_x.tolist()
        self._rad_y_list: list[float] = self._rad_y.tolist()

    def _knots(
        self, x: NDArray[np.float64], y: NDArray[np.float64]
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Extend interpolation knots so that they span [start, end]."""
        if self._wrap:
            # Neighbours across the seam: the period's end is its start.
            before_x = x[-1] - self._period_s
            after_x = x[0] + self._period_s
            before_y, after_y = y[-1], y[0]
        else:
            # Hold the edge values; they lie at most one hour inside the span.
            before_x, after_x = self._start_s, self._end_s
            before_y, after_y = y[0], y[-1]
        # A knot that would coincide with an existing one is left out: a
        # zero-width segment has no slope.
        head = 1 if before_x < x[0] else 0
        tail = 1 if after_x > x[-1] else 0
        xs = np.concatenate(([before_x] * head, x, [after_x] * tail))
        ys = np.concatenate(([before_y] * head, y, [after_y] * tail))
        return xs, ys

    @classmethod
    def from_csv(cls, path: Path, *, wrap: bool = False) -> WeatherSeries:
        """Read a KNMI-derived CSV file.

        The file has ``#`` comment lines, then the header
        ``timestamp_utc,temperature_c,global_radiation_wm2,wind_speed_ms``;
        ``timestamp_utc`` is the start of the hour in ISO 8601 UTC.

        Raises:
            ValueError: the header lacks a column or a row cannot be parsed.
        """
        with path.open(encoding="utf-8", newline="") as handle:
            return cls._parse(handle.read().splitlines(), str(path), wrap=wrap)

    @classmethod
    def default(cls, *, wrap: bool = False) -> WeatherSeries:
        """Return the packaged KNMI series for De Bilt, Dec 2024 to Feb 2025."""
        text = (
            resources.files("dacs.testbed.sim")
            .joinpath("data", _DEFAULT_FILE)
            .read_text(encoding="utf-8")
        )
        return cls._parse(text.splitlines(), _DEFAULT_FILE, wrap=wrap)

    @classmethod
    def _parse(cls, lines: list[str], source: str, *, wrap: bool) -> WeatherSeries:
        rows = csv.DictReader(line for line in lines if not line.startswith("#"))
        missing = set(_COLUMNS) - set(rows.fieldnames or ())
        if missing:
            raise ValueError(f"{source}: missing column(s) {sorted(missing)}")
        times: list[float] = []
        temps: list[float] = []
        radiation: list[float] = []
        for number, row in enumerate(rows, start=2):
            try:
                stamp = datetime.fromisoformat(row["timestamp_utc"])
                if stamp.tzinfo is None:
                    stamp = stamp.replace(tzinfo=UTC)
                times.append(stamp.timestamp())
                temps.append(float(row["temperature_c"]))
                radiation.append(float(row["global_radiation_wm2"]))
            except (TypeError, ValueError) as err:
                raise ValueError(
                    f"{source}: cannot parse data row {number}: {err}"
                ) from err
        return cls(np.array(times), np.array(temps), np.array(radiation), wrap=wrap)

    @property
    def start(self) -> datetime:
        """Start of the first hour covered."""
        return datetime.fromtimestamp(self._start_s, tz=UTC)

    @property
    def end(self) -> datetime:
        """End of the last hour covered."""
        return datetime.fromtimestamp(self._end_s, tz=UTC)

    @property
    def wrap(self) -> bool:
        """Whether instants outside ``[start, end]`` cycle onto the series."""
        return self._wrap

    def __len__(self) -> int:
        """Number of hourly rows."""
        return len(self._times)

    def _position(self, epoch_s: float) -> float:
        if self._wrap:
            return self._start_s + (epoch_s - self._start_s) % self._period_s
        if not self._start_s <= epoch_s <= self._end_s:
            when = datetime.fromtimestamp(epoch_s, tz=UTC).isoformat()
            raise ValueError(
                f"{when} lies outside the weather series ({self.start.isoformat()}"
                f" to {self.end.isoformat()}); construct it with wrap=True to cycle"
            )
        return epoch_s

    def at(self, when: datetime) -> WeatherSample:
        """Return the interpolated conditions at ``when``.

        Raises:
            ValueError: ``when`` is naive, or outside the series without wrap.
        """
        x = self._position(epoch_seconds(when))
        return WeatherSample(
            _interpolate(self._temp_x_list, self._temp_y_list, x),
            _interpolate(self._rad_x_list, self._rad_y_list, x),
        )

    def at_epoch_seconds(
        self, epoch_s: NDArray[np.float64]
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Vectorised :meth:`at` for POSIX times; same interpolation, same errors."""
        x = np.asarray(epoch_s, dtype=np.float64)
        if self._wrap:
            x = self._start_s + np.mod(x - self._start_s, self._period_s)
        elif x.size and (x.min() < self._start_s or x.max() > self._end_s):
            bad = float(x.min() if x.min() < self._start_s else x.max())
            self._position(bad)  # raises the same error as at()
        return (
            np.interp(x, self._temp_x, self._temp_y),
            np.interp(x, self._rad_x, self._rad_y),
        )

    def as_arrays(
        self,
    ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
        """Return the raw rows: hour-start POSIX seconds, temperatures, radiation.

        These are the file's values at the file's stamps; remember that a
        row's temperature was observed at the *end* of its hour. Use
        :meth:`at_epoch_seconds` for values at arbitrary instants.
        """
        return self._times.copy(), self._temps.copy(), self._radiation.copy()


def _interpolate(xs: list[float], ys: list[float], x: float) -> float:
    """Linear interpolation on knots that bracket x (guaranteed by the caller)."""
    i = bisect_right(xs, x) - 1
    if i >= len(xs) - 1:
        return ys[-1]
    x0 = xs[i]
    y0 = ys[i]
    # Same formula as numpy.interp so that the scalar and vector paths agree.
    slope = (ys[i + 1] - y0) / (xs[i + 1] - x0)
    return slope * (x - x0) + y0


def sample_many(
    weather: Weather, times_s: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Outdoor temperature and radiation at many POSIX times, vectorised if it can."""
    if isinstance(weather, ArrayWeather):
        return weather.at_epoch_seconds(times_s)
    samples = [weather.at(datetime.fromtimestamp(t, tz=UTC)) for t in times_s.tolist()]
    return (
        np.array([s.outdoor_temp_c for s in samples], dtype=np.float64),
        np.array([s.global_radiation_wm2 for s in samples], dtype=np.float64),
    )
