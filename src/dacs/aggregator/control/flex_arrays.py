"""The flex-model of many homes built as NumPy columns, not one record per home.

One pass over the homes reads what only a ``HomeView`` can answer (is it
available, is it limited, what does its device allow); the arithmetic on top
(rebound, the baseline a limited home counts with, the gas a curtailed kWh
costs) runs over the arrays. For 10,000 homes that is the control cycle's
largest share of CPU after the MQTT client, so the per-home Python objects
(``HomeFlexModel``) are left out; the values are the same
(``tests/aggregator/control/test_flex_arrays.py`` checks them against the
record-by-record build).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from dacs.aggregator.domain.flex_model import Availability, FlexModel
from dacs.aggregator.domain.substitution import DEFAULT_COP, EnergyPrices
from dacs.protocol import DeviceSummary, Preferences, Telemetry

# A home limited now keeps its place unless another is cheaper by this much
# (EUR/kWh, about 0.2 COP): measured COPs wobble, and swapping homes for a
# wobble costs commands and comfort for nothing.
SWITCHING_MARGIN_EUR_PER_KWH = 0.03
DEFAULT_STEP_W = 100.0  # a device that names no limit step
_NAN = float("nan")
_LIMITED = frozenset(("aggregator", "floor", "gas_only"))


class FlexHome(Protocol):
    """What the columns read of a home (``fleet.HomeView`` is one)."""

    @property
    def home_id(self) -> str:
        """The home."""
        ...

    @property
    def device(self) -> DeviceSummary | None:
        """What its heat pump can do, once it said."""
        ...

    @property
    def telemetry(self) -> Telemetry | None:
        """Its latest telemetry."""
        ...

    @property
    def preferences(self) -> Preferences | None:
        """Its resident's preferences."""
        ...

    @property
    def baseline_w(self) -> float | None:
        """Its power while unlimited (moving average)."""
        ...

    @property
    def cop(self) -> float | None:
        """Its measured COP (moving average)."""
        ...

    @property
    def curtailment_kwh(self) -> float:
        """Its settled curtailment, for fairness."""
        ...

    def availability(self, now: datetime) -> Availability:
        """May it be curtailed now?"""
        ...


def _row(view: FlexHome, now: datetime) -> tuple[object, ...]:
    """What one home contributes: plain numbers, NaN where nothing is known."""
    device = view.device
    telemetry = view.telemetry
    preferences = view.preferences
    power = telemetry.electric_power_w if telemetry is not None else None
    return (
        view.home_id,
        _NAN if view.baseline_w is None else view.baseline_w,
        _NAN if power is None else power,
        telemetry is not None and telemetry.limit_source.value in _LIMITED,
        device.nominal_power_w if device is not None else 0.0,
        device.safety_floor_w if device is not None else 0.0,
        bool(device is not None and device.supports_gas_only),
        device.limit_step_w if device is not None else 0.0,
        preferences.min_compensation_eur_per_kwh if preferences is not None else 0.0,
        view.availability(now) is Availability.AVAILABLE,
        view.curtailment_kwh,
        DEFAULT_COP if view.cop is None else view.cop,
    )


def flex_model_of(
    homes: Iterable[FlexHome],
    now: datetime,
    *,
    rebound_share: float = 0.0,
    prices: EnergyPrices | None = None,
) -> FlexModel:
    """The allocation's input for these homes (see ``Fleet.flex_model``)."""
    rows = [_row(view, now) for view in homes]
    if not rows:
        empty = np.zeros(0)
        return FlexModel(
            home_ids=(),
            baseline_w=empty,
            floor_w=empty,
            gas_only=np.zeros(0, dtype=np.bool_),
            available=np.zeros(0, dtype=np.bool_),
            ask_eur_per_kwh=empty,
            step_w=empty,
            recent_curtailment_kwh=empty,
            substitution_eur_per_kwh=empty,
        )
    columns = list(zip(*rows, strict=True))
    ids = tuple(str(home_id) for home_id in columns[0])
    baseline, power, nominal, floor, step, ask, curtailed, cop = (
        np.array(columns[i], dtype=np.float64) for i in (1, 2, 4, 5, 7, 8, 10, 11)
    )
    limited, gas_only, available = (
        np.array(columns[i], dtype=np.bool_) for i in (3, 6, 9)
    )
    known = ~np.isnan(baseline)
    # A limited home counts with its rebound: releasing it adds that much.
    counted = np.where(
        limited & known, rebound_w(baseline, nominal, rebound_share), baseline
    )
    counted = np.where(np.isnan(counted), power, counted)
    return FlexModel(
        home_ids=ids,
        baseline_w=np.maximum(np.nan_to_num(counted, nan=0.0), 0.0),
        floor_w=floor,
        gas_only=gas_only,
        available=available,
        ask_eur_per_kwh=ask,
        step_w=np.where(step > 0, step, DEFAULT_STEP_W),
        recent_curtailment_kwh=curtailed,
        substitution_eur_per_kwh=substitution(cop, limited, prices),
    )


def rebound_w(
    baseline_w: NDArray[np.float64], nominal_w: NDArray[np.float64], share: float
) -> NDArray[np.float64]:
    """``HomeView.rebound_w`` over arrays: above the baseline, capped by the nominal power."""
    base = np.nan_to_num(baseline_w, nan=0.0)
    rebound = base * (1 + share)
    rebound = np.where(nominal_w > 0, np.minimum(rebound, nominal_w), rebound)
    result: NDArray[np.float64] = np.maximum(rebound, base)
    return result


def substitution(
    cop: NDArray[np.float64], limited: NDArray[np.bool_], prices: EnergyPrices | None
) -> NDArray[np.float64]:
    """The gas a curtailed kWh costs per home, less the margin for staying limited."""
    if prices is None:
        return np.zeros(cop.shape[0])
    cost = np.maximum(
        cop * prices.gas_eur_per_heat_kwh - prices.electricity_eur_per_kwh, 0.0
    )
    result: NDArray[np.float64] = np.where(
        limited, np.maximum(cost - SWITCHING_MARGIN_EUR_PER_KWH, 0.0), cost
    )
    return result
