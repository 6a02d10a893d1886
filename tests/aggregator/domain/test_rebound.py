"""Staggered release: the power added back never exceeds the headroom under the cap."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings, strategies as st
import numpy as np
from numpy.typing import NDArray
import pytest

from dacs.aggregator.domain import (
    FlexContext,
    FlexModel,
    ReleasePlan,
    allocate,
    release_schedule,
)

INF = float("inf")


def _added(
    limits: NDArray[np.float64], baseline: NDArray[np.float64]
) -> NDArray[np.float64]:
    limited = np.isfinite(limits)
    return np.where(limited, np.maximum(baseline - np.where(limited, limits, 0), 0), 0)


def _check_plan(
    plan: ReleasePlan,
    limits: NDArray[np.float64],
    baseline: NDArray[np.float64],
    headroom: NDArray[np.float64],
    max_group_w: float | None,
) -> None:
    added = _added(limits, baseline)
    limited = np.isfinite(limits)
    offsets = plan.release_offset_s
    # Nothing to release for homes without a limit; every limited home is
    # either released at some step or held.
    assert np.isnan(offsets[~limited]).all()
    assert not np.isnan(offsets[limited]).any()
    assert set(plan.held.tolist()) == set(np.flatnonzero(np.isinf(offsets)).tolist())
    released = np.flatnonzero(np.isfinite(offsets))
    grouped = (
        np.concatenate([g.home_indices for g in plan.groups]) if plan.groups else []
    )
    assert sorted(grouped) == sorted(released.tolist())
    steps = offsets[released] / plan.group_interval_s
    np.testing.assert_allclose(steps, np.round(steps))
    # The load never exceeds the cap while the forecast holds: at every step
    # (also the steps after the last group), the power added back so far fits
    # the headroom at that step.
    horizon = int(steps.max()) + headroom.size + 1 if steps.size else headroom.size
    for step in range(horizon):
        now = step * plan.group_interval_s
        so_far = float(added[released][offsets[released] <= now].sum())
        assert so_far == pytest.approx(plan.added_load_at(now))
        # Below zero the load is over the cap already: then nothing is added.
        assert so_far <= max(headroom[min(step, headroom.size - 1)], 0) + 1e-6
    for group in plan.groups:
        assert group.added_load_w == pytest.approx(added[group.home_indices].sum())
        adding_homes = int((added[group.home_indices] > 0).sum())
        if max_group_w is not None and adding_homes > 1:
            assert group.added_load_w <= max_group_w + 1e-6
    # Strict order, deepest reduction first: nothing smaller goes before a
    # bigger one (homes that add nothing go at once).
    adding = released[added[released] > 0]
    if adding.size and plan.held.size:
        assert added[adding].min() >= added[plan.held].max() - 1e-9
    for earlier, later in zip(plan.groups, plan.groups[1:], strict=False):
        early = added[earlier.home_indices]
        if (early > 0).any():
            assert early[early > 0].min() >= added[later.home_indices].max() - 1e-9


@st.composite
def cases(draw: st.DrawFn) -> dict[str, Any]:
    n = draw(st.integers(0, 40))
    baseline = (
        np.array(
            draw(st.lists(st.integers(0, 60), min_size=n, max_size=n)), dtype=float
        )
        * 50
    )
    limits = np.array(
        draw(
            st.lists(
                st.one_of(st.just(INF), st.integers(0, 70).map(lambda x: x * 50.0)),
                min_size=n,
                max_size=n,
            )
        ),
        dtype=float,
    )
    headroom = np.array(
        draw(st.lists(st.floats(-500, 40_000, allow_nan=False), min_size=1, max_size=8))
    )
    return {
        "limits": limits,
        "baseline": baseline,
        "headroom": headroom,
        "max_group_w": draw(st.one_of(st.none(), st.floats(100, 10_000))),
        "group_interval_s": draw(st.sampled_from([30.0, 60.0, 120.0])),
    }


@settings(max_examples=150, deadline=None)
@given(cases())
def test_the_release_never_exceeds_the_headroom(case: dict[str, Any]) -> None:
    headroom = case["headroom"]
    plan = release_schedule(
        case["limits"],
        case["baseline"],
        headroom_w=headroom if headroom.size > 1 else float(headroom[0]),
        group_interval_s=case["group_interval_s"],
        max_group_w=case["max_group_w"],
    )
    _check_plan(plan, case["limits"], case["baseline"], headroom, case["max_group_w"])


def test_groups_follow_the_headroom() -> None:
    limits = np.array([0.0, 500.0, 1000.0, INF, 1500.0])
    baseline = np.full(5, 2000.0)
    # Added loads: 2000, 1500, 1000, -, 500. The cap rises over four minutes.
    plan = release_schedule(
        limits,
        baseline,
        headroom_w=[2500.0, 2500.0, 4000.0, 6000.0],
        group_interval_s=60,
    )
    assert [g.offset_s for g in plan.groups] == [0.0, 120.0, 180.0]
    assert [g.home_indices.tolist() for g in plan.groups] == [[0], [1], [2, 4]]
    assert plan.cumulative_added_w.tolist() == [2000.0, 3500.0, 5000.0]
    assert plan.fully_released
    assert np.isnan(plan.release_offset_s[3])
    assert plan.added_load_at(150) == 3500.0


def test_a_group_never_takes_the_load_over_a_later_dip() -> None:
    limits = np.array([1000.0, 1000.0])
    baseline = np.array([2000.0, 2000.0])
    # There is room for both now, but not in a minute (other load rising).
    plan = release_schedule(limits, baseline, headroom_w=[2500.0, 1200.0, 5000.0])
    assert [g.offset_s for g in plan.groups] == [0.0, 120.0]


def test_max_group_spreads_the_ramp() -> None:
    limits = np.zeros(6)
    baseline = np.full(6, 1000.0)
    plan = release_schedule(limits, baseline, headroom_w=1e9, max_group_w=2000)
    assert [g.home_indices.size for g in plan.groups] == [2, 2, 2]
    assert [g.offset_s for g in plan.groups] == [0.0, 60.0, 120.0]
    # A single home larger than the group size still goes, alone.
    plan = release_schedule(
        [0.0, 0.0], [3000.0, 500.0], headroom_w=1e9, max_group_w=1000
    )
    assert [g.home_indices.tolist() for g in plan.groups] == [[0], [1]]


def test_homes_that_never_fit_are_held() -> None:
    plan = release_schedule(
        [0.0, 0.0, 1800.0], [2000.0, 1500.0, 2000.0], headroom_w=1000
    )
    # 2000 W does not fit 1000 W: in strict order nothing may overtake it.
    assert plan.held.tolist() == [0, 1, 2]
    assert not plan.fully_released
    assert plan.groups == ()
    assert np.isinf(plan.release_offset_s).all()


def test_limits_at_or_above_the_baseline_add_nothing_and_go_at_once() -> None:
    plan = release_schedule([2500.0, 0.0], [2000.0, 2000.0], headroom_w=0)
    assert [g.home_indices.tolist() for g in plan.groups] == [[0]]
    assert plan.held.tolist() == [1]


def test_the_release_after_an_allocated_event_stays_under_the_new_cap() -> None:
    rng = np.random.default_rng(3)
    n = 200
    model = FlexModel(
        home_ids=tuple(f"h{i}" for i in range(n)),
        baseline_w=rng.integers(20, 60, n) * 50.0,
        floor_w=np.full(n, 600.0),
        gas_only=rng.random(n) < 0.5,
        available=np.ones(n, dtype=bool),
        ask_eur_per_kwh=rng.uniform(0.05, 0.3, n),
        step_w=np.full(n, 100.0),
        recent_curtailment_kwh=np.zeros(n),
    )
    other = 60_000.0
    cap = other + float(model.baseline_w.sum()) - 100_000
    allocation = allocate(model, FlexContext(cap_w=cap, other_load_w=other))
    # The event ends: the cap is raised by 60 kW now and by 120 kW in five minutes.
    new_caps = np.array([cap + 60_000] * 5 + [cap + 120_000])
    plan = release_schedule(
        allocation.limits_w,
        model.baseline_w,
        headroom_w=new_caps - allocation.forecast_load_w,
    )
    assert plan.fully_released
    for step, new_cap in enumerate(np.append(new_caps, [new_caps[-1]] * 3)):
        load = allocation.forecast_load_w + plan.added_load_at(step * 60.0)
        assert load <= new_cap + 1e-6
    assert plan.added_load_at(1e9) == pytest.approx(allocation.total_reduction_w)


@pytest.mark.parametrize(
    ("args", "options", "message"),
    [
        (([1.0, 2.0], [2.0]), {"headroom_w": 0}, "one value per home"),
        (([float("nan")], [2.0]), {"headroom_w": 0}, "never NaN"),
        (([-1.0], [2.0]), {"headroom_w": 0}, "limits_w must be >= 0"),
        (([1.0], [-2.0]), {"headroom_w": 0}, "baseline_w must be finite and >= 0"),
        (([1.0], [2.0]), {"headroom_w": float("nan")}, "headroom_w must be a finite"),
        (([1.0], [2.0]), {"headroom_w": []}, "headroom_w must be a finite"),
        (([1.0], [2.0]), {"headroom_w": 0, "group_interval_s": 0}, "group_interval_s"),
        (([1.0], [2.0]), {"headroom_w": 0, "max_group_w": 0}, "max_group_w"),
    ],
)
def test_bad_inputs_are_rejected(
    args: tuple[list[float], list[float]], options: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        release_schedule(*args, **options)
