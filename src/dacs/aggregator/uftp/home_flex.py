"""What each available home can give in one ISP, from the aggregator's flex model."""

from __future__ import annotations

from collections.abc import Sequence

from dacs.aggregator.control.fleet import HomeView
from dacs.aggregator.domain.flex_model import FlexModel
from dacs.aggregator.settlement.config import SettlementConfig
from dacs.aggregator.settlement.remuneration import cost_eur_per_kwh
from dacs.protocol import Telemetry
from dacs.protocol.rules import DEFAULT_MAX_CURTAILMENT_MINUTES

from .isp import ISP_DURATION
from .offers import HomeFlex

_ISP_MINUTES = int(ISP_DURATION.total_seconds()) // 60


def home_flex(
    views: Sequence[HomeView], model: FlexModel, settlement: SettlementConfig
) -> list[HomeFlex]:
    """Available homes: baseline minus floor, their ask, how many ISPs they may cover.

    ``model`` is the flex model of ``views``, in the same order.
    """
    homes = []
    for index, view in enumerate(views):
        if not model.available[index]:
            continue
        minutes = (
            view.preferences.max_curtailment_minutes
            if view.preferences is not None
            else DEFAULT_MAX_CURTAILMENT_MINUTES
        )
        homes.append(
            HomeFlex(
                home_id=view.home_id,
                reducible_w=max(
                    0.0, float(model.baseline_w[index] - model.floor_w[index])
                ),
                # Offer at what the home costs us: its price plus the gas.
                ask_eur_per_kwh=cost_eur_per_kwh(
                    float(model.ask_eur_per_kwh[index]),
                    _cop(view.telemetry),
                    settlement,
                ),
                max_isps=max(0, int(minutes)) // _ISP_MINUTES,
            )
        )
    return homes


def _cop(telemetry: Telemetry | None) -> float | None:
    """The heat pump's present COP, when its telemetry has heat and power."""
    if telemetry is None:
        return None
    heat, power = telemetry.thermal_power_w, telemetry.electric_power_w
    # Below 100 W the ratio of two small, noisy readings says nothing.
    if heat is None or power is None or power < 100:
        return None
    return heat / power
