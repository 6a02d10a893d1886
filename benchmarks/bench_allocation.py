"""Allocation for 100,000 homes in one congestion-point batch, against a sort.

Goal: under 50 ms, so that a 30-s control cycle can re-allocate a whole
congestion point (or many smaller ones) with time to spare.

Baseline: ``np.argsort`` of the same 100,000 effective prices. A cost-ordered
allocation needs at least that sort, so the ratio says how many sorts the
whole allocation (prices, cover, gas-only choices, rounding to each device's
step, repair, bookkeeping) costs.
"""

from __future__ import annotations

import numpy as np

from dacs.aggregator.domain import Allocation, FlexContext, FlexModel, allocate

from .harness import BenchResult, median_seconds

HOMES = 100_000
GOAL_S = 0.050


def _population(rng: np.random.Generator) -> FlexModel:
    """A winter evening: mixed heat pumps, 60 % gas-only capable, 10 % unavailable."""
    return FlexModel(
        home_ids=tuple(f"home-{i:06d}" for i in range(HOMES)),
        baseline_w=np.round(rng.uniform(300, 3000, HOMES)),
        floor_w=np.round(rng.uniform(300, 900, HOMES)),
        gas_only=rng.random(HOMES) < 0.6,
        available=rng.random(HOMES) < 0.9,
        ask_eur_per_kwh=np.round(rng.uniform(0.05, 0.40, HOMES), 3),
        step_w=rng.choice([50.0, 100.0, 250.0], HOMES),
        recent_curtailment_kwh=rng.gamma(2.0, 5.0, HOMES),
    )


def run() -> list[BenchResult]:
    """Time one allocation that curtails about a third of the flexibility."""
    model = _population(np.random.default_rng(2025))
    other = 40e6
    required = 0.3 * float(model.max_reduction_w.sum())
    context = FlexContext(
        cap_w=other + float(model.baseline_w.sum()) - required, other_load_w=other
    )
    results: list[Allocation] = []

    def one_allocation() -> None:
        results.append(allocate(model, context))

    value = median_seconds(one_allocation, repeats=15, warmup=2)
    prices = results[-1].effective_price_eur_per_kwh.copy()
    baseline = median_seconds(lambda: np.argsort(prices), repeats=15, warmup=2)
    allocation = results[-1]
    assert allocation.shortfall_w == 0
    assert allocation.forecast_load_w <= context.cap_w + 1e-3
    return [
        BenchResult(
            name="allocation: 100,000 homes, one batch",
            unit="s",
            value=value,
            baseline_name="np.argsort of the 100,000 effective prices",
            baseline_value=baseline,
            goal=f"< {GOAL_S * 1000:g} ms wall",
            met=value < GOAL_S,
            notes=(
                f"{allocation.curtailed_count} homes limited"
                f" ({int(allocation.gas_only.sum())} gas-only) for"
                f" {allocation.required_reduction_w / 1e6:.1f} MW;"
                f" overshoot {allocation.total_reduction_w - allocation.required_reduction_w:.1f} W"
            ),
        )
    ]
