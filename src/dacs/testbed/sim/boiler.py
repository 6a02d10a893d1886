"""Condensing gas boiler: heat out, natural gas in.

Gas is Dutch natural gas of Groningen quality (G-gas), counted in normal
cubic metres (0 °C, 1.01325 bar) with its higher heating value (HHV,
*bovenwaarde*) of 35.17 MJ/m³; the lower heating value (*onderwaarde*) is
31.65 MJ/m³. The boiler's efficiency is therefore on HHV: a condensing
boiler at low return temperatures reaches about 96 % HHV (107 % LHV); 90 %
HHV is a typical seasonal value.
"""

from __future__ import annotations

from dataclasses import dataclass
import math

GAS_HHV_J_PER_M3 = 35.17e6
GAS_LHV_J_PER_M3 = 31.65e6


@dataclass(frozen=True, kw_only=True)
class BoilerSpec:
    """What a boiler can do.

    Attributes:
        max_thermal_w: Largest space-heating output.
        efficiency: Heat out per gas in, on the higher heating value.
        min_thermal_w: Lowest output at which the burner modulates; below it
            the burner cycles on and off.
        hot_water_efficiency: Tap-water heat out per gas in (HHV) of the
            combi boiler's hot-water side, including its start losses.
    """

    max_thermal_w: float = 24_000.0
    efficiency: float = 0.90
    min_thermal_w: float = 4_000.0
    hot_water_efficiency: float = 0.80

    def __post_init__(self) -> None:
        """Reject specs a boiler cannot have."""
        if not (math.isfinite(self.max_thermal_w) and self.max_thermal_w > 0):
            raise ValueError(f"max_thermal_w must be > 0, got {self.max_thermal_w}")
        if not (math.isfinite(self.efficiency) and 0 < self.efficiency <= 1):
            raise ValueError(
                f"efficiency (on HHV) must be in (0, 1], got {self.efficiency}"
            )
        if not (
            math.isfinite(self.hot_water_efficiency)
            and 0 < self.hot_water_efficiency <= 1
        ):
            raise ValueError(
                "hot_water_efficiency (on HHV) must be in (0, 1],"
                f" got {self.hot_water_efficiency}"
            )
        if not (
            math.isfinite(self.min_thermal_w)
            and 0 <= self.min_thermal_w <= self.max_thermal_w
        ):
            raise ValueError(
                "min_thermal_w must be >= 0 and <= max_thermal_w"
                f" ({self.max_thermal_w}), got {self.min_thermal_w}"
            )


@dataclass(frozen=True)
class BoilerOutput:
    """Mean heat output and gas input over a step."""

    thermal_w: float
    gas_w: float
    gas_m3_per_h: float


def burn(spec: BoilerSpec, heat_w: float) -> BoilerOutput:
    """Deliver ``heat_w`` (capped at the boiler's maximum) and return the gas used.

    Below ``min_thermal_w`` the burner cycles at its minimum; over a step the
    mean output still equals the request. Cycling losses are not modelled.

    Raises:
        ValueError: ``heat_w`` is negative or not finite.
    """
    if not (math.isfinite(heat_w) and heat_w >= 0):
        raise ValueError(f"heat_w must be finite and >= 0, got {heat_w}")
    thermal = min(heat_w, spec.max_thermal_w)
    gas = thermal / spec.efficiency
    return BoilerOutput(thermal, gas, gas * 3600.0 / GAS_HHV_J_PER_M3)
