"""The boiler's gas use, counted from the heat it delivered (for the Energy dashboard).

No supported heat pump reports the boiler's gas itself; the DACS profile
counts the boiler's heat. Gas follows from that heat, the boiler's
efficiency and the gas's calorific value, the same way the aggregator's
settlement counts the extra gas it pays back (docs/settlement.md).
"""

from __future__ import annotations

from dataclasses import dataclass

from dacs.aggregator.settlement.config import GAS_HHV_MJ_PER_M3, SettlementConfig

# The settlement's figures, so these m³ match the extra gas it pays back.
# Dutch household gas is metered and billed in m³ of Groningen quality on its
# upper heating value (35.17 MJ/m³); the efficiency is counted on the same one.
BOILER_EFFICIENCY_HHV = SettlementConfig().boiler_efficiency
_MJ_PER_KWH = 3.6


def gas_m3_for_heat(heat_kwh: float) -> float:
    """Cubic metres of gas the boiler burnt to deliver ``heat_kwh``."""
    return heat_kwh * _MJ_PER_KWH / BOILER_EFFICIENCY_HHV / GAS_HHV_MJ_PER_M3


@dataclass(frozen=True, kw_only=True)
class GasMeter:
    """A gas total that only grows, fed with the boiler's heat counter.

    Home Assistant's long-term statistics take every drop of a growing total
    for a new meter. The boiler's counter can drop (a new control board, a
    restarted simulator) or read 0 while unknown; this meter adds only what
    the boiler delivered since the last reading, so the total never drops.
    """

    total_m3: float | None = None
    boiler_heat_kwh: float | None = None  # the counter at the last reading

    def read(self, boiler_heat_kwh: float | None) -> GasMeter:
        """The meter after one more reading of the boiler's heat counter."""
        if boiler_heat_kwh is None or boiler_heat_kwh < 0:
            return self
        if boiler_heat_kwh == 0 and self.boiler_heat_kwh:
            # The register reads 0 while the boiler does not know; a counter
            # that starts again is caught at its next reading, below.
            return self
        if self.total_m3 is None:
            # First reading ever: start at the boiler's lifetime heat, so the
            # total agrees with the boiler's own counter.
            total = gas_m3_for_heat(boiler_heat_kwh)
        elif self.boiler_heat_kwh is None:
            total = self.total_m3
        elif boiler_heat_kwh >= self.boiler_heat_kwh:
            total = self.total_m3 + gas_m3_for_heat(
                boiler_heat_kwh - self.boiler_heat_kwh
            )
        else:
            # The counter started again from zero: all it shows is new heat.
            total = self.total_m3 + gas_m3_for_heat(boiler_heat_kwh)
        return GasMeter(total_m3=total, boiler_heat_kwh=boiler_heat_kwh)
