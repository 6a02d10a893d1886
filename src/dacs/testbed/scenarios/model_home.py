"""The physics a fast-path home needs, from either simulator.

:class:`FastHome` talks to its physics through :class:`HomePhysics`: set the
limit and the mode, read the temperatures and the last step's powers.
:class:`~dacs.testbed.sim.hybrid.HybridHome` (one home, stepped on its own)
already is one; :class:`ModelHome` is one home of a
:class:`~dacs.testbed.sim.neighbourhood_model.NeighbourhoodModel`, stepped
together with the rest of the street by the caller.
"""

from __future__ import annotations

from dataclasses import dataclass
import math
from typing import Protocol

from dacs.devices.models import OperatingMode
from dacs.testbed.sim.home_config import HybridHomeConfig
from dacs.testbed.sim.home_readings import HomeReadings, StepPowers
from dacs.testbed.sim.neighbourhood_model import (
    MODE_CODES,
    NeighbourhoodModel,
    NeighbourhoodStep,
)

_MODES = {code: mode for mode, code in MODE_CODES.items()}


class HomePhysics(Protocol):
    """What the fast path reads from and writes to a simulated home."""

    electric_limit_w: float | None
    mode: OperatingMode

    @property
    def config(self) -> HybridHomeConfig:
        """The home's configuration."""
        ...

    @property
    def indoor_temp_c(self) -> float:
        """Indoor air temperature now."""
        ...

    @property
    def outdoor_temp_c(self) -> float:
        """Outdoor temperature of the latest step."""
        ...

    @property
    def hp_electric_w(self) -> float:
        """Heat pump electric power of the latest step."""
        ...

    @property
    def hp_thermal_w(self) -> float:
        """Heat pump heat of the latest step."""
        ...

    @property
    def electric_energy_wh(self) -> float:
        """Heat pump electricity so far."""
        ...

    @property
    def gas_m3(self) -> float:
        """Gas so far."""
        ...

    @property
    def last_step(self) -> StepPowers | None:
        """The latest step; None before the first."""
        ...

    def step(self, dt_s: float) -> object:
        """Advance by ``dt_s`` seconds."""
        ...


@dataclass(frozen=True)
class ModelStep:
    """One home's share of a :class:`NeighbourhoodStep`."""

    hp_electric_w: float
    hp_thermal_w: float
    boiler_thermal_w: float
    flow_temp_c: float


class ModelHome(HomeReadings[ModelStep]):
    """One home of a neighbourhood model, seen as :class:`HomePhysics`."""

    def __init__(
        self, model: NeighbourhoodModel, index: int, config: HybridHomeConfig
    ) -> None:
        """Home ``index`` of ``model``, made from ``config``."""
        # No outdoor temperature until the street's first step.
        super().__init__(config, math.nan)
        self._model = model
        self._index = index

    @property
    def electric_limit_w(self) -> float | None:
        """The cap on the heat pump (W); None for none."""
        value = float(self._model.electric_limit_w[self._index])
        return None if math.isinf(value) else value

    @electric_limit_w.setter
    def electric_limit_w(self, value: float | None) -> None:
        self._model.set_limit(self._index, value)

    @property
    def mode(self) -> OperatingMode:
        """The operating mode."""
        return _MODES[int(self._model.mode[self._index])]

    @mode.setter
    def mode(self, value: OperatingMode) -> None:
        self._model.set_mode(self._index, value)

    @property
    def indoor_temp_c(self) -> float:
        """Indoor air temperature now."""
        return float(self._model.indoor_c[self._index])

    @property
    def electric_energy_wh(self) -> float:
        """Heat pump electricity so far."""
        return float(self._model.electric_energy_wh[self._index])

    @property
    def gas_m3(self) -> float:
        """Gas so far."""
        return float(self._model.gas_m3[self._index])

    def step(self, dt_s: float) -> object:
        """Refused: the street's model steps every home at once."""
        raise RuntimeError(
            f"home {self._index} of a neighbourhood model cannot step alone"
            f" ({dt_s} s asked); step the model"
        )

    def took(self, step: NeighbourhoodStep) -> None:
        """Take this home's values from the street's step."""
        i = self._index
        self._outdoor_temp_c = step.outdoor_temp_c
        self._last = ModelStep(
            hp_electric_w=float(step.hp_electric_w[i]),
            hp_thermal_w=float(step.hp_thermal_w[i]),
            boiler_thermal_w=float(step.boiler_thermal_w[i]),
            flow_temp_c=self._config.heating_curve.flow_temp_c(step.outdoor_temp_c),
        )
