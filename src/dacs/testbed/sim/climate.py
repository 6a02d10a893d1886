"""A whole year of weather from the packaged winter, for annual figures.

The packaged KNMI record covers only December to February. Annual gas and
electricity need the other nine months, so :class:`NormalYear` keeps the
winter's hour-to-hour weather (fronts, cold snaps, sunny days) and moves its
level to each month's climate normal: the temperature is shifted by (normal
of the month - mean of the winter), the radiation scaled by (normal of the
month / mean of the winter). Normals are interpolated between mid-month
points, so there are no steps at month boundaries.

The normals are KNMI De Bilt 1991-2020 monthly means, **from memory, not
verified offline** (check against KNMI's "Klimaatviewer" before relying on
them); docs/simulator.md says so next to every figure that uses them.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np

from .equations import FloatArray
from .weather import WeatherSample, WeatherSeries, epoch_seconds

# KNMI De Bilt 1991-2020 monthly mean temperature (°C) and global radiation
# (W/m², monthly mean), January first. From memory; see the module docstring.
NORMAL_TEMPERATURE_C = (
    3.6,
    4.0,
    6.6,
    10.0,
    13.5,
    16.3,
    18.4,
    18.0,
    14.9,
    11.0,
    7.0,
    4.2,
)
NORMAL_RADIATION_WM2 = (
    23.0,
    45.0,
    88.0,
    145.0,
    185.0,
    192.0,
    188.0,
    160.0,
    110.0,
    62.0,
    30.0,
    18.0,
)
_YEAR_S = 365.2425 * 86_400.0
_MID_MONTH = (np.arange(12) + 0.5) / 12.0  # fraction of the year


class NormalYear:
    """The winter's weather, moved month by month to the climate normals."""

    def __init__(self, winter: WeatherSeries | None = None) -> None:
        """Build on ``winter`` (the packaged KNMI winter by default), wrapped."""
        source = winter or WeatherSeries.default(wrap=True)
        times, temps, radiation = source.as_arrays()
        self._winter = WeatherSeries(times, temps, radiation, wrap=True)
        self._winter_temp = float(np.mean(temps))
        self._winter_radiation = float(np.mean(radiation))
        phase = np.concatenate(
            ([_MID_MONTH[-1] - 1.0], _MID_MONTH, [_MID_MONTH[0] + 1.0])
        )
        self._phase = phase
        t = np.array(NORMAL_TEMPERATURE_C)
        r = np.array(NORMAL_RADIATION_WM2)
        self._temp = np.concatenate(([t[-1]], t, [t[0]]))
        self._radiation = np.concatenate(([r[-1]], r, [r[0]]))

    @property
    def winter_mean_c(self) -> float:
        """Mean temperature of the winter the year is built on."""
        return self._winter_temp

    def at_epoch_seconds(self, epoch_s: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Outdoor temperature and radiation at POSIX times."""
        x = np.asarray(epoch_s, dtype=np.float64)
        temps, radiation = self._winter.at_epoch_seconds(x)
        fraction = _year_fraction(x)
        normal_t = np.interp(fraction, self._phase, self._temp)
        normal_r = np.interp(fraction, self._phase, self._radiation)
        return (
            temps - self._winter_temp + normal_t,
            radiation * (normal_r / self._winter_radiation),
        )

    def at(self, when: datetime) -> WeatherSample:
        """The conditions at ``when`` (timezone-aware)."""
        t, r = self.at_epoch_seconds(np.array([epoch_seconds(when)]))
        return WeatherSample(float(t[0]), float(r[0]))


def _year_fraction(epoch_s: FloatArray) -> FloatArray:
    """Position within the calendar year, 0 at 1 January 00:00 UTC."""
    years = epoch_s.astype(np.int64).astype("datetime64[s]").astype("datetime64[Y]")
    begin = years.astype("datetime64[s]").astype(np.float64)
    result: FloatArray = (epoch_s - begin) / _YEAR_S
    return result
