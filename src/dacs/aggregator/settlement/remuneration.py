"""What a resident is paid: delivered kWh at their price, plus the gas it cost them.

* Price per kWh: the higher of the resident's own ask
  (``min_compensation_eur_per_kwh`` in their preferences) and the aggregator's
  tariff. The allocation only curtails a home whose ask it accepted, so the
  ask is a floor; the tariff lifts residents who asked little.
* Gas: while its heat pump is limited, a hybrid's boiler makes up the heat.
  Extra boiler heat = boiler output above its own baseline, only in limited
  intervals, only where the heat pump would have run, and at most the
  not-drawn electricity times ``max_cop``. Gas (m³) = heat / boiler
  efficiency / calorific value; paid at the gas price.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
import math

import numpy as np

from .baseline import FloatArray
from .config import SettlementConfig


def extra_boiler_heat_kw(
    *,
    boiler_measured_kw: FloatArray,
    boiler_baseline_kw: FloatArray,
    electric_baseline_kw: FloatArray,
    delivered_kw: FloatArray,
    max_cop: float,
) -> FloatArray:
    """Boiler heat per interval caused by the limit (kW, >= 0; NaN inputs give 0)."""
    measured = np.nan_to_num(np.asarray(boiler_measured_kw, dtype=np.float64))
    baseline = np.nan_to_num(np.asarray(boiler_baseline_kw, dtype=np.float64))
    electric = np.nan_to_num(np.asarray(electric_baseline_kw, dtype=np.float64))
    delivered = np.nan_to_num(np.asarray(delivered_kw, dtype=np.float64))
    extra = np.maximum(0.0, measured - baseline)
    extra = np.minimum(extra, max_cop * np.maximum(0.0, delivered))
    result: FloatArray = np.where(electric > 0.0, extra, 0.0)
    return result


def price_eur_per_kwh(ask_eur_per_kwh: float | None, config: SettlementConfig) -> float:
    """The resident's price: their ask or the tariff, whichever is higher."""
    ask = (
        ask_eur_per_kwh
        if ask_eur_per_kwh is not None and math.isfinite(ask_eur_per_kwh)
        else 0.0
    )
    return max(ask, 0.0, config.tariff_eur_per_kwh)


def gas_m3(heat_kwh: float, config: SettlementConfig) -> float:
    """Gas burned to make ``heat_kwh`` of boiler heat."""
    return max(0.0, heat_kwh) / config.boiler_efficiency / config.gas_kwh_per_m3


# What a heat pump's COP is taken to be when its telemetry says nothing (a hybrid
# heat pump's seasonal COP at Dutch winter temperatures).
TYPICAL_COP = 3.0


def cost_eur_per_kwh(
    ask_eur_per_kwh: float | None, cop: float | None, config: SettlementConfig
) -> float:
    """What a kWh not drawn by a home costs the aggregator: the resident's price plus gas.

    Each kWh the heat pump does not draw is ``cop`` kWh of heat the boiler
    makes instead, and the resident is compensated for that gas.
    """
    if cop is None or not math.isfinite(cop):
        cop = TYPICAL_COP
    heat_kwh = min(max(cop, 1.0), config.max_cop)
    gas_eur = gas_m3(heat_kwh, config) * config.gas_price_eur_per_m3
    return price_eur_per_kwh(ask_eur_per_kwh, config) + gas_eur


@dataclass(frozen=True, kw_only=True)
class HomeSettlement:
    """One home's figures for a period."""

    home_id: str
    period: str
    delivered_kwh: float
    price_eur_per_kwh: float
    earnings_eur: float
    extra_heat_kwh: float
    extra_gas_m3: float
    gas_compensation_eur: float
    events: int

    @property
    def total_eur(self) -> float:
        """What the resident receives."""
        return self.earnings_eur + self.gas_compensation_eur


def settle_home(
    *,
    home_id: str,
    period: str,
    delivered_kwh: float,
    extra_heat_kwh: float,
    events: int,
    ask_eur_per_kwh: float | None,
    config: SettlementConfig,
) -> HomeSettlement:
    """Apply the price rule and the gas compensation to a home's delivered energy."""
    if not (math.isfinite(delivered_kwh) and delivered_kwh >= 0):
        raise ValueError(f"delivered_kwh must be >= 0, got {delivered_kwh}")
    if not (math.isfinite(extra_heat_kwh) and extra_heat_kwh >= 0):
        raise ValueError(f"extra_heat_kwh must be >= 0, got {extra_heat_kwh}")
    if events < 0:
        raise ValueError(f"events must be >= 0, got {events}")
    price = price_eur_per_kwh(ask_eur_per_kwh, config)
    gas = gas_m3(extra_heat_kwh, config)
    return HomeSettlement(
        home_id=home_id,
        period=period,
        delivered_kwh=delivered_kwh,
        price_eur_per_kwh=price,
        earnings_eur=round(delivered_kwh * price, 4),
        extra_heat_kwh=extra_heat_kwh,
        extra_gas_m3=gas,
        gas_compensation_eur=round(gas * config.gas_price_eur_per_m3, 4),
        events=events,
    )


def totals(settlements: Iterable[HomeSettlement]) -> tuple[float, float, float]:
    """Delivered kWh, earnings and gas compensation summed over homes."""
    items = list(settlements)
    return (
        sum(s.delivered_kwh for s in items),
        sum(s.earnings_eur for s in items),
        sum(s.gas_compensation_eur for s in items),
    )
