"""What one hybrid home is: its house, heat pump, boiler, heating curve and thermostat.

Kept apart from the models that step it (``hybrid``, ``neighbourhood_model``)
so that both can read a home's configuration without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import math

from . import equations as eq
from .boiler import BoilerSpec
from .checks import require_finite
from .heat_pump_model import HeatPumpSpec
from .house import DwellingType, HouseParameters, InsulationLevel
from .occupants import Household

_MIN_SETPOINT_C = 5.0
_MAX_SETPOINT_C = 30.0


def _check_setpoint(value: float) -> None:
    if not (math.isfinite(value) and _MIN_SETPOINT_C <= value <= _MAX_SETPOINT_C):
        raise ValueError(
            f"room setpoint must be between {_MIN_SETPOINT_C} and"
            f" {_MAX_SETPOINT_C} °C, got {value}"
        )


@dataclass(frozen=True, kw_only=True)
class HeatingCurve:
    """Weather compensation: flow temperature as a straight line in outdoor temperature.

    Clipped to ``mild_flow_c`` above ``mild_outdoor_c`` and to
    ``design_flow_c`` below ``design_outdoor_c``.
    """

    mild_outdoor_c: float = 15.0
    mild_flow_c: float = 35.0
    design_outdoor_c: float = -10.0
    design_flow_c: float = 55.0

    def __post_init__(self) -> None:
        """Reject curves that do not slope from mild to design."""
        require_finite(
            mild_outdoor_c=self.mild_outdoor_c,
            mild_flow_c=self.mild_flow_c,
            design_outdoor_c=self.design_outdoor_c,
            design_flow_c=self.design_flow_c,
        )
        if self.design_outdoor_c >= self.mild_outdoor_c:
            raise ValueError("design_outdoor_c must be below mild_outdoor_c")
        if self.design_flow_c < self.mild_flow_c:
            raise ValueError("design_flow_c must not be below mild_flow_c")

    @property
    def slope_k_per_k(self) -> float:
        """Flow temperature rise per kelvin the outdoor temperature falls."""
        return (self.design_flow_c - self.mild_flow_c) / (
            self.mild_outdoor_c - self.design_outdoor_c
        )

    def flow_temp_c(self, outdoor_temp_c: float) -> float:
        """Flow temperature for this outdoor temperature."""
        return eq.flow_temp_c(
            float(outdoor_temp_c),
            self.mild_outdoor_c,
            self.mild_flow_c,
            self.slope_k_per_k,
            self.design_flow_c,
        )


@dataclass(frozen=True, kw_only=True)
class Thermostat:
    """Room thermostat: weather-compensated feed-forward plus proportional action.

    Demand = steady-state heat at the setpoint and the current outdoor
    temperature, plus ``gain_w_per_k`` per kelvin of error beyond half the
    deadband, never negative. The feed-forward holds the setpoint exactly in
    steady weather; the proportional part recovers from disturbances (sun,
    the mass catching up after a cold spell, setpoint changes).
    """

    gain_w_per_k: float = 1000.0
    deadband_k: float = 0.2

    def __post_init__(self) -> None:
        """Reject gains and deadbands that cannot control."""
        require_finite(gain_w_per_k=self.gain_w_per_k, deadband_k=self.deadband_k)
        if self.gain_w_per_k < 0 or self.deadband_k < 0:
            raise ValueError("thermostat gain and deadband must be >= 0")

    def demand_w(
        self, feed_forward_w: float, setpoint_c: float, indoor_c: float
    ) -> float:
        """Heat demand for this error (W, >= 0)."""
        return eq.thermostat_demand_w(
            float(feed_forward_w),
            float(setpoint_c),
            float(indoor_c),
            self.gain_w_per_k,
            self.deadband_k / 2,
        )


@dataclass(kw_only=True)
class HybridHomeConfig:
    """Everything that makes one home.

    Attributes:
        house: Thermal parameters of the dwelling.
        heat_pump: The heat pump.
        boiler: The boiler.
        room_setpoint_c: Initial room setpoint.
        heating_curve: Flow temperature against outdoor temperature.
        thermostat: Heat demand from the room temperature error.
        switch_over_outdoor_c: Below this outdoor temperature the boiler
            heats alone (bivalent-alternative operation); None: never.
        design_delta_t_k: Flow-return difference at design load; scales
            linearly with the delivered heat.
        household: The occupants (schedule, hot water, night setback,
            sensor noise); None: the house's constant mean gains, no hot
            water, an exact thermostat.
        dwelling: The reference dwelling type the house was made from.
        insulation: Its insulation level.
    """

    house: HouseParameters
    heat_pump: HeatPumpSpec
    boiler: BoilerSpec = field(default_factory=BoilerSpec)
    room_setpoint_c: float = 20.0
    heating_curve: HeatingCurve = field(default_factory=HeatingCurve)
    thermostat: Thermostat = field(default_factory=Thermostat)
    switch_over_outdoor_c: float | None = -3.0
    design_delta_t_k: float = 6.0
    household: Household | None = None
    dwelling: DwellingType | None = None  # what the house stands for, if known
    insulation: InsulationLevel | None = None

    def __post_init__(self) -> None:
        """Reject settings the controls cannot use."""
        _check_setpoint(self.room_setpoint_c)
        if self.switch_over_outdoor_c is not None:
            require_finite(switch_over_outdoor_c=self.switch_over_outdoor_c)
        if not (math.isfinite(self.design_delta_t_k) and self.design_delta_t_k >= 0):
            raise ValueError(
                f"design_delta_t_k must be finite and >= 0, got {self.design_delta_t_k}"
            )

    @property
    def mean_gains_w(self) -> float:
        """Internal gains the thermostat's feed-forward assumes (W)."""
        if self.household is None:
            return self.house.internal_gains_w
        return self.household.mean_gains_w

    @property
    def stateful(self) -> bool:
        """Whether the home needs more than the scalar fast loop can do."""
        hp = self.heat_pump
        return (
            self.household is not None
            or hp.min_run_s > 0
            or hp.min_off_s > 0
            or hp.startup_ramp_s > 0
        )

    @property
    def design_heat_w(self) -> float:
        """Heat loss at the heating curve's design point with 20 °C inside."""
        return self.house.design_heat_loss_w(20.0, self.heating_curve.design_outdoor_c)

    def heat_pump_allowed(self, outdoor_temp_c: float) -> bool:
        """Whether the bivalent rule lets the heat pump run at this temperature."""
        return (
            self.switch_over_outdoor_c is None
            or outdoor_temp_c >= self.switch_over_outdoor_c
        )

    def return_temp_c(self, flow_temp_c: float, delivered_heat_w: float) -> float:
        """Return temperature: flow minus a delta-T proportional to the load."""
        load = min(1.0, delivered_heat_w / self.design_heat_w)
        return flow_temp_c - self.design_delta_t_k * load
