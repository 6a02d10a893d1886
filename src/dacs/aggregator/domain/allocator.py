"""Allocate per-home heat pump limits that keep a congestion point under its cap.

Vocabulary after FlexMeasures: the *flex-model* says what the homes can do
(baselines, safety floors, gas-only, availability, asks), the *flex-context*
says what the grid asks (a cap on the congestion point's load). The method,
its guarantees and its measured optimality gap are in ``docs/allocation.md``;
the conventions for limits (``+inf``: none, ``0``: gas-only) are those of
``Allocation``.

The steps, each in its own module: the effective price (``fairness``), the
cheapest cover of the required reduction in merit order (``merit_order``),
the limits each device accepts (``limit_grid``) and the repair of what
rounding to them costs (``rounding``).
"""

from __future__ import annotations

import math

import numpy as np

from .allocation import TOLERANCE_W, Allocation
from .fairness import DEFAULT_FAIRNESS_WEIGHT, effective_price_eur_per_kwh
from .flex_context import FlexContext
from .flex_model import FlexModel
from .limit_grid import LimitGrid
from .merit_order import cheapest_cover
from .rounding import RoundingRepair

DEFAULT_GAS_ONLY_PREMIUM = 0.0
"""EUR/kWh added to the power a gas-only switch removes below the floor.

Zero: the resident's ask already prices the curtailed energy, whatever the
mode. Raise it to prefer modulating heat pumps over switching compressors off
when the prices are close.
"""


def allocate(
    model: FlexModel,
    context: FlexContext,
    *,
    fairness_weight: float = DEFAULT_FAIRNESS_WEIGHT,
    gas_only_premium: float = DEFAULT_GAS_ONLY_PREMIUM,
) -> Allocation:
    """Choose per-home limits that meet the cap at the lowest effective cost.

    ``fairness_weight`` (EUR/kWh) and ``gas_only_premium`` (EUR/kWh) are
    explained in ``docs/allocation.md``. When the available flexibility is not
    enough, every available home goes to its deepest limit and the allocation
    reports the shortfall.
    """
    if not math.isfinite(gas_only_premium) or gas_only_premium < 0:
        raise ValueError(
            f"gas_only_premium must be a finite number >= 0 EUR/kWh, got {gas_only_premium}"
        )
    # A home the event plan keeps for a later ISP ranks, and is repaired,
    # after the others; the premium is never paid (cost_eur counts asks).
    price = (
        effective_price_eur_per_kwh(
            model.ask_eur_per_kwh,
            model.recent_curtailment_kwh,
            model.available,
            fairness_weight=fairness_weight,
        )
        + model.keep_premium
    )
    # The merit order also counts the gas the boiler burns instead: homes at a
    # low COP give their kWh for less gas. The rounding repair weighs only
    # what is paid (asks and fairness), so a wobble in a measured COP never
    # makes it trade one limited home for another.
    rank = price + model.substitution
    baseline = model.baseline_w
    continuous = model.continuous_reduction_w
    gas_capable = model.available & model.gas_only
    # A gas-only switch removes what is left below the floor: min(floor, baseline).
    jump = np.where(gas_capable, baseline - continuous, 0.0)
    baseline_total = float(baseline.sum())
    required = max(0.0, context.other_load_w + baseline_total - context.cap_w)

    grid = LimitGrid(
        baseline=baseline,
        floor=model.floor_w,
        step=model.step_w,
        available=model.available,
        gas_capable=gas_capable,
        jump=jump,
    )
    limits = np.full(model.size, np.inf)
    flex = np.flatnonzero(continuous + jump > 0)
    if required > TOLERANCE_W and flex.size:
        most = continuous[flex] + jump[flex]
        if float(most.sum()) <= required:
            # Not enough flexibility: every available home at its deepest limit.
            limits[flex] = np.where(jump[flex] > 0, 0.0, model.floor_w[flex])
        else:
            order = flex[np.argsort(rank[flex], kind="stable")]
            target, gas, marginal = cheapest_cover(
                continuous,
                jump,
                rank,
                order,
                premium=gas_only_premium,
                required=required,
            )
            rounding = RoundingRepair(
                grid=grid,
                price=price,
                premium=gas_only_premium,
                required=required,
                order=order,
            )
            limits = grid.limits_for(target, gas, continuous)
            rounding.repair(limits, marginal)

    limited = np.isfinite(limits)
    reduction = np.where(limited, baseline - np.where(limited, limits, 0.0), 0.0)
    gas = (limits == 0) & (model.floor_w > 0)
    total = float(reduction.sum())
    shortfall = required - total
    energy_kwh = reduction * (context.interval_s / 3.6e6)
    # Elementwise products, not `@`: a BLAS dot spawns threads, which costs
    # more than it saves at this size and stalls on a busy machine.
    return Allocation(
        home_ids=model.home_ids,
        limits_w=limits,
        reduction_w=reduction,
        gas_only=gas,
        effective_price_eur_per_kwh=price,
        required_reduction_w=required,
        total_reduction_w=total,
        shortfall_w=shortfall if shortfall > TOLERANCE_W else 0.0,
        forecast_load_w=context.other_load_w + baseline_total - total,
        cost_eur=float((energy_kwh * model.ask_eur_per_kwh).sum()),
        objective_eur=float((energy_kwh * price).sum())
        + gas_only_premium * float(jump[gas].sum()) * (context.interval_s / 3.6e6),
        interval_s=context.interval_s,
    )
