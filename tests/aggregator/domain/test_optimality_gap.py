"""The greedy against exact solutions from scipy.optimize.milp (HiGHS).

Two references on the same 200 seeded instances, both with the allocator's
own fairness-adjusted prices and gas-only premium as objective weights:

- *exact*: the problem the allocator solves, with each device's limit grid
  (no limit, floor, multiples of the step between floor and baseline, 0 if
  gas-only) as integer choices. The gap to it is the heuristic's whole loss.
- *relaxed*: a continuous reduction per home plus a binary gas-only choice.
  It ignores the limit steps, so it is a lower bound; the gap to it adds the
  unavoidable cost of rounding to the step (large only for tiny requests).

The thresholds are the measured figures (docs/allocation.md) with margin.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
import pytest
from scipy.optimize import Bounds, LinearConstraint, milp

from dacs.aggregator.domain import (
    Allocation,
    FlexContext,
    FlexModel,
    allocate,
    effective_price_eur_per_kwh,
)

SEED = 20_250_101
INSTANCES = 200
FAIRNESS = 0.05
# HiGHS stops within this relative gap of its bound: far below what is measured.
MIP_GAP = 1e-7


@dataclass(frozen=True)
class Outcome:
    greedy: Allocation
    exact_eur: float | None  # None: infeasible
    relaxed_eur: float | None


def random_instance(rng: np.random.Generator) -> tuple[FlexModel, FlexContext, float]:
    """5-30 homes, mixed floors, steps and gas-only; requests from 2 % to 105 %."""
    n = int(rng.integers(5, 31))
    model = FlexModel(
        home_ids=tuple(f"h{i}" for i in range(n)),
        baseline_w=rng.integers(2, 61, n) * 50.0,
        # Some floors are off the step grid, as real devices' floors are.
        floor_w=rng.integers(6, 19, n) * 50.0 + rng.choice([0.0, 25.0], n),
        gas_only=rng.random(n) < 0.5,
        available=rng.random(n) < 0.85,
        ask_eur_per_kwh=np.round(rng.uniform(0.05, 0.40, n), 3),
        step_w=rng.choice([50.0, 100.0, 250.0], n),
        recent_curtailment_kwh=np.round(rng.uniform(0, 20, n), 1),
    )
    other = float(rng.uniform(0, 5000))
    required = float(rng.uniform(0.02, 1.05)) * float(model.max_reduction_w.sum())
    context = FlexContext(
        cap_w=other + float(model.baseline_w.sum()) - required, other_load_w=other
    )
    premium = float(rng.choice([0.0, 0.0, 0.03]))
    return model, context, premium


def _terms(
    model: FlexModel, context: FlexContext, premium: float
) -> tuple[NDArray[np.float64], float, float, float]:
    price = effective_price_eur_per_kwh(
        model.ask_eur_per_kwh,
        model.recent_curtailment_kwh,
        model.available,
        fairness_weight=FAIRNESS,
    )
    required = max(
        0.0, context.other_load_w + float(model.baseline_w.sum()) - context.cap_w
    )
    return price, required, context.interval_s / 3.6e6, premium


def exact_on_grid(
    model: FlexModel, context: FlexContext, premium: float
) -> float | None:
    """Minimum objective (EUR) over every device-accepted limit, or None."""
    price, required, kwh_per_w, premium = _terms(model, context, premium)
    n = model.size
    b, f, s = model.baseline_w, model.floor_w, model.step_w
    continuous = model.continuous_reduction_w
    jump = model.max_reduction_w - continuous
    k_min = np.floor(f / s) + 1  # the lowest multiple of the step above the floor
    k_max = np.ceil(b / s) - 1  # the highest below the baseline
    on_grid = (continuous > 0) & (k_min <= k_max)
    # x = [at floor u, gas-only z, on grid v, steps k]; reduction = c u + b z + b v - s k.
    eye, zero = np.eye(n), np.zeros((n, n))
    reduction = np.hstack([np.diag(continuous), np.diag(b), np.diag(b), -np.diag(s)])
    objective = (
        price @ reduction + np.r_[np.zeros(n), premium * jump, np.zeros(2 * n)]
    ) * kwh_per_w
    constraints = [
        LinearConstraint(np.hstack([eye, eye, eye, zero]), -np.inf, 1),
        LinearConstraint(
            np.hstack([zero, zero, -np.diag(np.where(on_grid, k_min, 0)), eye]),
            0,
            np.inf,
        ),
        LinearConstraint(
            np.hstack([zero, zero, -np.diag(np.where(on_grid, k_max, 0)), eye]),
            -np.inf,
            0,
        ),
        LinearConstraint(reduction.sum(axis=0)[None, :], required, np.inf),
    ]
    upper = np.r_[
        continuous > 0, jump > 0, on_grid, np.where(on_grid, k_max, 0)
    ].astype(float)
    result = milp(
        objective,
        integrality=np.ones(4 * n),
        bounds=Bounds(np.zeros(4 * n), upper),
        constraints=constraints,
        options={"mip_rel_gap": MIP_GAP},
    )
    return float(result.fun) if result.status == 0 else None


def relaxed(model: FlexModel, context: FlexContext, premium: float) -> float | None:
    """Continuous reduction per home plus a binary gas-only choice, or None."""
    price, required, kwh_per_w, premium = _terms(model, context, premium)
    n = model.size
    b = model.baseline_w
    continuous = model.continuous_reduction_w
    jump = model.max_reduction_w - continuous
    # x = [r, z]: reduction = r + b z, with r <= c (1 - z): gas-only is all or nothing.
    objective = np.r_[price, price * b + premium * jump] * kwh_per_w
    constraints = [
        LinearConstraint(
            np.hstack([np.eye(n), np.diag(continuous)]), -np.inf, continuous
        ),
        LinearConstraint(np.r_[np.ones(n), b][None, :], required, np.inf),
    ]
    result = milp(
        objective,
        integrality=np.r_[np.zeros(n), np.ones(n)],
        bounds=Bounds(np.zeros(2 * n), np.r_[continuous, (jump > 0).astype(float)]),
        constraints=constraints,
        options={"mip_rel_gap": MIP_GAP},
    )
    return float(result.fun) if result.status == 0 else None


def solve_all(seed: int = SEED, count: int = INSTANCES) -> list[Outcome]:
    rng = np.random.default_rng(seed)
    outcomes = []
    for _ in range(count):
        model, context, premium = random_instance(rng)
        outcomes.append(
            Outcome(
                greedy=allocate(
                    model, context, fairness_weight=FAIRNESS, gas_only_premium=premium
                ),
                exact_eur=exact_on_grid(model, context, premium),
                relaxed_eur=relaxed(model, context, premium),
            )
        )
    return outcomes


def gaps(outcomes: list[Outcome], reference: str) -> NDArray[np.float64]:
    """Relative excess cost of the greedy over the reference, feasible instances."""
    values = [
        (o.greedy.objective_eur - ref) / ref
        for o in outcomes
        if (ref := getattr(o, reference)) is not None and ref > 0
    ]
    return np.array(values)


@pytest.fixture(scope="module")
def outcomes() -> list[Outcome]:
    return solve_all()


def test_feasible_exactly_when_the_milp_is(outcomes: list[Outcome]) -> None:
    for o in outcomes:
        assert (o.exact_eur is not None) == (o.relaxed_eur is not None)
        assert (o.greedy.shortfall_w == 0) == (o.exact_eur is not None)
    infeasible = sum(o.exact_eur is None for o in outcomes)
    assert 0 < infeasible < len(outcomes) // 4  # both cases are exercised


def test_gap_to_the_exact_optimum(outcomes: list[Outcome]) -> None:
    gap = gaps(outcomes, "exact_eur")
    assert gap.size > 150
    assert gap.min() > -1e-6  # nothing beats an exact optimum
    # Measured over 10 seeds x 200: mean 0.005-0.043 %, max 0.30-2.7 %, 91-96 %
    # exact (this seed: 0.012 %, 0.65 %, 91 %).
    assert gap.mean() < 0.001
    assert gap.max() < 0.05
    assert np.mean(gap < 1e-6) > 0.85


def test_gap_to_the_continuous_relaxation(outcomes: list[Outcome]) -> None:
    gap = gaps(outcomes, "relaxed_eur")
    exact = gaps(outcomes, "exact_eur")
    assert gap.min() > -1e-6  # a relaxation is a lower bound
    assert (gap >= exact - 1e-6).all()
    # Rounding to 50-250 W steps dominates: a 100 W request met by a 250 W step
    # costs 2.5 times its relaxed price, so only the mean is bounded tightly.
    # Measured over 10 seeds x 200: mean 0.8-2.3 % (this seed: 0.94 %).
    assert gap.mean() < 0.04
