"""The perfect-foresight plan on problems small enough to solve by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from dacs.aggregator.domain.envelope import ISP, CapacityInterval
from dacs.testbed.scenarios.best_plan import HomeOptions, best_plan
from dacs.testbed.sim.boiler import GAS_HHV_J_PER_M3

START = datetime(2025, 1, 20, 16, 0, tzinfo=UTC)
TIMES = tuple(START + timedelta(minutes=m) for m in range(30))


def _options(
    floor_w: float = 500.0, *, gas_only: bool = True, max_isps: int = 8
) -> HomeOptions:
    return HomeOptions(
        floor_w=floor_w,
        gas_only=gas_only,
        max_isps=max_isps,
        available_until=None,
        boiler_efficiency=0.9,
    )


def _caps(*caps_w: float) -> tuple[CapacityInterval, ...]:
    return tuple(
        CapacityInterval(start=START + i * ISP, end=START + (i + 1) * ISP, cap_w=cap)
        for i, cap in enumerate(caps_w)
    )


def _gas_m3(reduction_w: float, cop: float, isps: int = 1) -> float:
    return reduction_w * cop * 900 * isps / 0.9 / GAS_HHV_J_PER_M3


def test_the_home_with_the_lower_cop_gives_the_reduction() -> None:
    power = np.array([[1500.0] * 30, [1500.0] * 30])
    heat = np.array([[4500.0] * 30, [3000.0] * 30])  # COP 3 and 2
    plan = best_plan(
        _caps(2500.0, 3000.0),
        times=TIMES,
        home_power_w=power,
        home_heat_w=heat,
        other_w=np.zeros(30),
        homes=[_options(), _options()],
    )
    # 500 W less in the first ISP, from the home whose heat costs less gas.
    assert plan.extra_gas_m3 == pytest.approx(_gas_m3(500.0, 2.0), rel=1e-6)
    assert not plan.flexibility_short
    assert plan.optimal


def test_a_reduction_between_zero_and_the_floor_needs_gas_only() -> None:
    # One home at 1000 W with a 800 W floor: 300 W less is only possible by
    # switching it off (gas-only), which costs its whole power.
    plan = best_plan(
        _caps(700.0),
        times=TIMES[:15],
        home_power_w=np.full((1, 15), 1000.0),
        home_heat_w=np.full((1, 15), 3000.0),
        other_w=np.zeros(15),
        homes=[_options(800.0)],
    )
    assert plan.extra_gas_m3 == pytest.approx(_gas_m3(1000.0, 3.0), rel=1e-6)


def test_short_flexibility_is_the_least_excess() -> None:
    plan = best_plan(
        _caps(500.0),
        times=TIMES[:15],
        home_power_w=np.full((1, 15), 1000.0),
        home_heat_w=np.full((1, 15), 3000.0),
        other_w=np.full(15, 800.0),
        homes=[_options(gas_only=False, floor_w=400.0)],
    )
    # Down to the floor: 400 W + 800 W other load against 500 W.
    assert plan.flexibility_short
    assert plan.shortfall_w[0] == pytest.approx(700.0, abs=1e-6)


def test_the_resident_maximum_limits_the_isps_curtailed() -> None:
    plan = best_plan(
        _caps(500.0, 500.0),
        times=TIMES,
        home_power_w=np.full((1, 30), 1000.0),
        home_heat_w=np.full((1, 30), 3000.0),
        other_w=np.zeros(30),
        homes=[_options(max_isps=1)],
    )
    assert plan.flexibility_short
    assert sorted(plan.shortfall_w.round(6)) == [0.0, 500.0]
