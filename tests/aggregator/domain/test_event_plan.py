"""The event plan: allowances spread over the ISPs, cheap homes kept for the peak."""

from __future__ import annotations

import numpy as np
import pytest

from dacs.aggregator.domain.event_plan import EventPlanError, EventPlanInput, plan_event


def _problem(
    need: list[float],
    reach: list[list[float]],
    cost: list[float],
    allowance: list[float],
) -> EventPlanInput:
    return EventPlanInput(
        need_w=np.array(need),
        reducible_w=np.array(reach),
        cost_eur_per_kwh=np.array(cost),
        allowance_isps=np.array(allowance),
    )


def test_a_cheap_home_with_one_isp_left_is_kept_for_the_peak() -> None:
    # ISP 0 needs one home, ISP 1 needs both; the cheap home may do one ISP.
    problem = _problem(
        need=[1000.0, 2000.0],
        reach=[[1000.0, 1000.0], [1000.0, 1000.0]],
        cost=[0.05, 0.50],
        allowance=[1.0, 2.0],
    )
    plan = plan_event(problem)
    assert plan.shortfall_w == pytest.approx([0.0, 0.0], abs=1e-6)
    assert plan.reduction_w[0] == pytest.approx([0.0, 1000.0], abs=1e-6)
    assert plan.reduction_w[1] == pytest.approx([1000.0, 1000.0], abs=1e-6)
    assert plan.planned_now.tolist() == [False, True]
    assert plan.kept_for_later().tolist() == [True, False]
    assert not plan.short


def test_with_allowance_enough_for_every_isp_the_cheapest_go_first() -> None:
    problem = _problem(
        need=[1000.0, 1000.0],
        reach=[[1000.0, 1000.0], [1000.0, 1000.0]],
        cost=[0.05, 0.50],
        allowance=[8.0, 8.0],
    )
    plan = plan_event(problem)
    assert plan.reduction_w[0] == pytest.approx([1000.0, 1000.0], abs=1e-6)
    assert plan.reduction_w[1] == pytest.approx([0.0, 0.0], abs=1e-6)
    assert not plan.kept_for_later().any()


def test_what_no_home_can_cover_is_the_shortfall_per_isp() -> None:
    problem = _problem(
        need=[500.0, 3000.0],
        reach=[[1000.0, 1000.0], [800.0, 800.0]],
        cost=[0.1, 0.2],
        allowance=[2.0, 2.0],
    )
    plan = plan_event(problem)
    assert plan.shortfall_w == pytest.approx([0.0, 1200.0], abs=1e-6)
    assert plan.short


def test_a_home_that_cannot_reduce_in_an_isp_is_not_planned_there() -> None:
    # Home 0 is resting in ISP 0 (reach 0) and back in ISP 1.
    problem = _problem(
        need=[800.0, 800.0],
        reach=[[0.0, 1000.0], [1000.0, 1000.0]],
        cost=[0.01, 0.5],
        allowance=[2.0, 2.0],
    )
    plan = plan_event(problem)
    assert plan.reduction_w[0, 0] == pytest.approx(0.0, abs=1e-6)
    assert plan.reduction_w[1, 0] == pytest.approx(800.0, abs=1e-6)
    assert plan.reduction_w[0, 1] == pytest.approx(800.0, abs=1e-6)


@pytest.mark.parametrize(
    ("need", "reach", "cost", "allowance", "message"),
    [
        ([1.0], [[1.0, 1.0]], [0.1], [1.0], "do not match"),
        ([1.0], [[1.0]], [0.1, 0.2], [1.0], "one value per home"),
        ([float("nan")], [[1.0]], [0.1], [1.0], "finite"),
        ([1.0], [[-1.0]], [0.1], [1.0], ">= 0"),
        ([1.0], [[1.0]], [float("inf")], [1.0], "finite"),
    ],
)
def test_bad_inputs_are_refused_with_the_field_named(
    need: list[float],
    reach: list[list[float]],
    cost: list[float],
    allowance: list[float],
    message: str,
) -> None:
    with pytest.raises(EventPlanError, match=message):
        _problem(need, reach, cost, allowance)


def test_a_plan_needs_an_isp() -> None:
    with pytest.raises(EventPlanError, match="at least one ISP"):
        plan_event(_problem([], [[], []], [0.1, 0.2], [1.0, 1.0]))
