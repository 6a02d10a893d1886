"""Settings of the settlement: prices, the boiler's gas, the baseline's history."""

from __future__ import annotations

from dataclasses import dataclass
import math

# Dutch G-gas, higher heating value (the simulator's boiler counts the same way).
GAS_HHV_MJ_PER_M3 = 35.17


@dataclass(frozen=True, kw_only=True)
class SettlementConfig:
    """How delivered flexibility is measured and paid.

    Attributes:
        tariff_eur_per_kwh: The aggregator's own price per delivered kWh; a
            resident is paid this or their own ask, whichever is higher.
        gas_price_eur_per_m3: What a cubic metre of gas costs the resident
            (all-in consumer price).
        boiler_efficiency: Boiler heat out per gas in, on the higher heating
            value (a condensing boiler: about 0.90 seasonal).
        gas_calorific_mj_per_m3: Energy in a cubic metre of gas, on the same
            heating value as ``boiler_efficiency``.
        history_days: Days of telemetry before a settled day the baseline is
            fitted on.
        min_history_days: Days of eligible own telemetry a home needs for its
            own fit; below it the neighbourhood's pooled fit is used.
        block_hours: Length of a time-of-day block (local time); 24 is one
            block for the whole day.
        max_cop: Upper bound on the heat a kWh of not-drawn electricity can
            have produced; extra boiler heat beyond it is not compensated.
        statement_interval_h: Hours between automatic statement rounds (the
            running month, and the last month until it is final); 0 turns
            them off (statements then go out only through the API).
    """

    tariff_eur_per_kwh: float = 0.25
    gas_price_eur_per_m3: float = 1.40
    boiler_efficiency: float = 0.90
    gas_calorific_mj_per_m3: float = GAS_HHV_MJ_PER_M3
    history_days: int = 14
    min_history_days: float = 3.0
    block_hours: int = 4
    max_cop: float = 6.0
    statement_interval_h: float = 24.0

    def __post_init__(self) -> None:
        """Refuse settings that would make payments meaningless."""
        for name in ("tariff_eur_per_kwh", "gas_price_eur_per_m3"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a number >= 0, got {value}")
        if not (
            math.isfinite(self.boiler_efficiency) and 0 < self.boiler_efficiency <= 1.1
        ):
            raise ValueError(
                f"boiler_efficiency must lie in (0, 1.1], got {self.boiler_efficiency}"
            )
        if not (
            math.isfinite(self.gas_calorific_mj_per_m3)
            and 20 <= self.gas_calorific_mj_per_m3 <= 60
        ):
            raise ValueError(
                "gas_calorific_mj_per_m3 must lie in [20, 60], got "
                f"{self.gas_calorific_mj_per_m3}"
            )
        if not 1 <= self.history_days <= 120:
            raise ValueError(
                f"history_days must lie in [1, 120], got {self.history_days}"
            )
        if not (
            math.isfinite(self.min_history_days)
            and 0 <= self.min_history_days <= self.history_days
        ):
            raise ValueError("min_history_days must lie in [0, history_days]")
        if self.block_hours not in (1, 2, 3, 4, 6, 8, 12, 24):
            raise ValueError(
                f"block_hours must divide a day (1, 2, 3, 4, 6, 8, 12, 24), got {self.block_hours}"
            )
        if not (math.isfinite(self.max_cop) and self.max_cop >= 1):
            raise ValueError(f"max_cop must be >= 1, got {self.max_cop}")
        if not (
            math.isfinite(self.statement_interval_h) and self.statement_interval_h >= 0
        ):
            raise ValueError(
                f"statement_interval_h must be >= 0, got {self.statement_interval_h}"
            )

    @property
    def gas_kwh_per_m3(self) -> float:
        """Heat in a cubic metre of gas, in kWh."""
        return self.gas_calorific_mj_per_m3 / 3.6
