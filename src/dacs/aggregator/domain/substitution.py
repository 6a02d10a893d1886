"""What a curtailed kWh costs the resident: the boiler's gas, less the electricity saved.

A hybrid heat pump that is limited still heats the house: the boiler makes
the heat the heat pump does not. One electric kWh less means COP kWh of heat
from gas, so a home whose heat pump runs at a high COP gives its flexibility
at a higher cost (more gas per kWh) than one at a low COP. Ranking homes by
this cost is what brings the extra gas of an event close to the best plan's
(``docs/allocation.md``); the resident's own ask comes on top of it.
"""

from __future__ import annotations

from dataclasses import dataclass
import math

# G-gas, higher heating value (35.17 MJ/m³), as in the simulator's boiler.
GAS_HHV_KWH_PER_M3 = 35.17 / 3.6
# A modulating air-water heat pump on a winter evening, when no COP is measured.
DEFAULT_COP = 3.0


@dataclass(frozen=True, kw_only=True)
class EnergyPrices:
    """The resident's prices: Dutch retail tariffs including taxes, 2025."""

    gas_eur_per_m3: float = 1.40
    electricity_eur_per_kwh: float = 0.30
    boiler_efficiency: float = 0.90  # on the higher heating value

    def __post_init__(self) -> None:
        """Prices must be finite and >= 0; the efficiency in (0, 1]."""
        for name in ("gas_eur_per_m3", "electricity_eur_per_kwh"):
            value = getattr(self, name)
            if not math.isfinite(value) or value < 0:
                raise ValueError(f"{name} must be a finite number >= 0, got {value}")
        if not 0 < self.boiler_efficiency <= 1:
            raise ValueError("boiler_efficiency must lie in (0, 1]")

    @property
    def gas_eur_per_heat_kwh(self) -> float:
        """What a kWh of heat from the boiler costs."""
        return self.gas_eur_per_m3 / (GAS_HHV_KWH_PER_M3 * self.boiler_efficiency)


def substitution_cost_eur_per_kwh(cop: float, prices: EnergyPrices) -> float:
    """The net cost of one curtailed electric kWh at ``cop`` (never below 0)."""
    return max(cop * prices.gas_eur_per_heat_kwh - prices.electricity_eur_per_kwh, 0.0)
