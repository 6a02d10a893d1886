"""What a simulated home reports between steps, read from its latest step.

Two kinds of home keep their state differently but report it the same way:
the stepped :class:`~dacs.testbed.sim.hybrid.HybridHome` (behind the Modbus
simulator) and one home of a
:class:`~dacs.testbed.sim.neighbourhood_model.NeighbourhoodModel` (the
scenario suite's ``ModelHome``). Both keep their latest step here, so the
readings derived from it are written once.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Protocol

from .home_config import HybridHomeConfig


class StepPowers(Protocol):
    """The powers of a home's latest step."""

    @property
    def hp_electric_w(self) -> float:
        """Heat pump electric power (W)."""
        ...

    @property
    def hp_thermal_w(self) -> float:
        """Heat pump heat output (W)."""
        ...

    @property
    def boiler_thermal_w(self) -> float:
        """Boiler heat output (W), hot water included."""
        ...

    @property
    def flow_temp_c(self) -> float:
        """Flow temperature (°C)."""
        ...


class HomeReadings[S: StepPowers](ABC):
    """A home's configuration, its outdoor temperature and its latest step.

    Before the first step no power flows: the powers read 0.
    """

    def __init__(self, config: HybridHomeConfig, outdoor_temp_c: float) -> None:
        """A home made from ``config``, not stepped yet."""
        self._config = config
        self._outdoor_temp_c = outdoor_temp_c
        self._last: S | None = None

    @property
    def config(self) -> HybridHomeConfig:
        """The home's configuration."""
        return self._config

    @property
    def last_step(self) -> S | None:
        """The latest step; None before the first."""
        return self._last

    @property
    @abstractmethod
    def indoor_temp_c(self) -> float:
        """Indoor air temperature now."""

    @property
    def outdoor_temp_c(self) -> float:
        """Outdoor temperature of the latest step (before it: as made)."""
        return self._outdoor_temp_c

    @property
    def hp_electric_w(self) -> float:
        """Heat pump electric power of the latest step."""
        return 0.0 if self._last is None else self._last.hp_electric_w

    @property
    def hp_thermal_w(self) -> float:
        """Heat pump heat output of the latest step."""
        return 0.0 if self._last is None else self._last.hp_thermal_w

    @property
    def boiler_thermal_w(self) -> float:
        """Boiler heat output of the latest step."""
        return 0.0 if self._last is None else self._last.boiler_thermal_w
