"""The pure mapping: OpenADR events -> cap events, and refusals with reasons."""

from __future__ import annotations

from datetime import timedelta

from dacs.aggregator.domain.envelope import EnvelopeKind
from dacs.aggregator.openadr.plans import (
    Baseline,
    CapPlan,
    ProgramContext,
    Refusal,
    ResourceGroupView,
    SignalKind,
    cap_event_id,
)
from dacs.aggregator.openadr.signals import plan_event
from dacs.testbed.grid_peers.openadr_vtn import (
    anchor_event,
    baseline_event,
    capacity_limit_event,
    flex_event,
    grid_emergency_event,
)

from .conftest import DSO_EAN, GRID_CP, POINT, START, existing

HOUR = timedelta(hours=1)


def capacity_context(**changes: object) -> ProgramContext:
    values: dict[str, object] = {
        "program_id": "cap-prog",
        "nlflex": False,
        "congestion_points": {GRID_CP: POINT, "CP-OTHER": "tr-2"},
        "now": START,
        "emergency_max_duration": timedelta(hours=6),
    }
    return ProgramContext(**(values | changes))  # type: ignore[arg-type]


GROUP = ResourceGroupView(
    object_id="5f0e8a4e-0000-4000-8000-000000000001",
    name="GROUP-1",
    grid_congestion_point_id=GRID_CP,
    max_duration=timedelta(hours=4),
)
BASELINE = Baseline(
    event_id="b1",
    group_name="GROUP-1",
    active_kw=40.0,
    reserved_kw=0.0,
    published_at=START,
)


def flex_context(**changes: object) -> ProgramContext:
    values: dict[str, object] = {
        "program_id": "nl-prog",
        "nlflex": True,
        "groups": {GROUP.name: GROUP},
        "baselines": {GROUP.name: BASELINE},
    }
    return capacity_context(**(values | changes))


def test_capacity_limit_becomes_a_dynamic_profile() -> None:
    event = existing(
        capacity_limit_event(
            "cap-prog", GRID_CP, start=START + HOUR, caps_kw=[60, 55.5, 50, 60]
        )
    )
    plan = plan_event(event, capacity_context())
    assert isinstance(plan, CapPlan)
    ((point, cap),) = plan.caps
    assert point == POINT
    assert cap.kind is EnvelopeKind.DYNAMIC
    assert [i.cap_w / 1000 for i in cap.intervals] == [60, 55.5, 50, 60]
    assert cap.start == START + HOUR
    assert cap.end == START + 2 * HOUR
    assert cap.envelope_id == cap_event_id("cap-prog", "ev-1", START, POINT)


def test_capacity_limit_in_other_units_is_refused() -> None:
    event = existing(
        capacity_limit_event(
            "cap-prog", GRID_CP, start=START, caps_kw=[60], units="KWH"
        )
    )
    refusal = plan_event(event, capacity_context())
    assert isinstance(refusal, Refusal)
    assert "must be in KW" in refusal.reason


def test_capacity_limit_in_hour_intervals_is_refused() -> None:
    event = existing(
        capacity_limit_event(
            "cap-prog", GRID_CP, start=START, caps_kw=[60], interval=HOUR
        )
    )
    refusal = plan_event(event, capacity_context())
    assert isinstance(refusal, Refusal)
    assert "PT15M" in refusal.reason


def test_capacity_limit_for_an_unknown_point_is_refused() -> None:
    event = existing(
        capacity_limit_event("cap-prog", "CP-NOWHERE", start=START, caps_kw=[60])
    )
    refusal = plan_event(event, capacity_context())
    assert isinstance(refusal, Refusal)
    assert "CP-NOWHERE" in refusal.reason


def test_negative_limit_is_refused() -> None:
    event = existing(
        capacity_limit_event("cap-prog", GRID_CP, start=START, caps_kw=[60, -1])
    )
    refusal = plan_event(event, capacity_context())
    assert isinstance(refusal, Refusal)
    assert ">= 0" in refusal.reason


def test_passed_capacity_limit_is_expired_not_applied() -> None:
    event = existing(
        capacity_limit_event("cap-prog", GRID_CP, start=START - HOUR, caps_kw=[60])
    )
    refusal = plan_event(event, capacity_context())
    assert isinstance(refusal, Refusal)
    assert refusal.expired


def test_capacity_limit_in_an_nlflex_program_is_refused_by_the_profile() -> None:
    event = existing(
        capacity_limit_event("nl-prog", GRID_CP, start=START, caps_kw=[60])
    )
    refusal = plan_event(event, flex_context())
    assert isinstance(refusal, Refusal)
    assert "does not match any event kind" in refusal.reason


def test_grid_emergency_stops_every_point_when_untargeted() -> None:
    event = existing(
        grid_emergency_event("cap-prog", None, start=START, duration=timedelta(0))
    )
    plan = plan_event(event, capacity_context())
    assert isinstance(plan, CapPlan)
    assert {p for p, _ in plan.caps} == {POINT, "tr-2"}
    for _, cap in plan.caps:
        assert cap.kind is EnvelopeKind.EMERGENCY
        assert cap.intervals[0].cap_w == 0
        assert cap.end - cap.start == timedelta(hours=6)  # open-ended: the maximum


def test_grid_emergency_for_one_point() -> None:
    event = existing(
        grid_emergency_event("cap-prog", GRID_CP, start=START, duration=HOUR)
    )
    plan = plan_event(event, capacity_context())
    assert isinstance(plan, CapPlan)
    assert [p for p, _ in plan.caps] == [POINT]
    assert plan.caps[0][1].end == START + HOUR


def test_baseline_event_is_read() -> None:
    event = existing(
        baseline_event("nl-prog", "GROUP-1", active_kw=38.5, reserved_kw=1.25)
    )
    plan = plan_event(event, flex_context())
    assert isinstance(plan, CapPlan)
    assert plan.kind is SignalKind.BASELINE
    assert plan.caps == ()
    assert plan.baseline is not None
    assert (plan.baseline.active_kw, plan.baseline.reserved_kw) == (38.5, 1.25)
    assert plan.congestion_point_id == POINT


def test_anchor_event_is_noted() -> None:
    plan = plan_event(existing(anchor_event("nl-prog")), flex_context())
    assert isinstance(plan, CapPlan)
    assert plan.kind is SignalKind.REPORTING_ANCHOR


def flex(**changes: object) -> object:
    values: dict[str, object] = {
        "window_start": START + timedelta(hours=2),
        "dispatches": [(START + timedelta(hours=5), timedelta(hours=2), 12.5)],
    }
    return flex_event("nl-prog", "GROUP-1", **(values | changes))  # type: ignore[arg-type]


def test_flex_dispatch_caps_baseline_minus_flex_with_adjacent_hours() -> None:
    event = existing(flex())  # type: ignore[arg-type]
    plan = plan_event(event, flex_context(outside_group_kw={POINT: 2.0}))
    assert isinstance(plan, CapPlan)
    ((point, cap),) = plan.caps
    assert point == POINT
    caps = [(i.start - START, i.end - i.start, i.cap_w / 1000) for i in cap.intervals]
    assert caps == [
        (
            timedelta(hours=4),
            HOUR,
            42.0,
        ),  # adjacent hour: baseline (+ homes outside the group)
        (timedelta(hours=5), 2 * HOUR, 29.5),  # 40 - 12.5 + 2
        (timedelta(hours=7), HOUR, 42.0),
    ]
    assert [i.interval_id for i in plan.intervals] == [0, 1, 2]


def test_flex_dispatch_with_a_detached_adjacent_hour_is_refused() -> None:
    event = existing(flex(adjacent_hours=False))  # type: ignore[arg-type]
    body = event.model_dump(by_alias=True, mode="json")
    stray = dict(body["intervals"][0])
    stray["id"] = 1
    stray["intervalPeriod"] = {
        "start": (START + timedelta(hours=9)).isoformat(),
        "duration": "PT1H",
    }
    stray["payloads"] = [{"type": "FLEX", "values": [0.0]}]
    body["intervals"] = [body["intervals"][0], stray]
    refusal = plan_event(type(event).model_validate(body), flex_context())
    assert isinstance(refusal, Refusal)
    assert "adjacent hour must directly abut" in refusal.reason


def test_flex_dispatch_in_kwh_is_refused() -> None:
    refusal = plan_event(existing(flex(units="KWH")), flex_context())  # type: ignore[arg-type]
    assert isinstance(refusal, Refusal)
    assert "units field of 'KW'" in refusal.reason


def test_flex_dispatch_longer_than_the_group_allows_is_refused() -> None:
    event = existing(
        flex(dispatches=[(START + timedelta(hours=5), timedelta(hours=6), 5.0)])
    )  # type: ignore[arg-type]
    refusal = plan_event(event, flex_context())
    assert isinstance(refusal, Refusal)
    assert "MAX_DURATION" in refusal.reason


def test_flex_dispatch_without_baseline_is_refused() -> None:
    refusal = plan_event(existing(flex()), flex_context(baselines={}))  # type: ignore[arg-type]
    assert isinstance(refusal, Refusal)
    assert "no baseline" in refusal.reason


def test_flex_dispatch_for_an_unknown_group_is_refused() -> None:
    refusal = plan_event(existing(flex()), flex_context(groups={}))  # type: ignore[arg-type]
    assert isinstance(refusal, Refusal)
    assert "no resource group" in refusal.reason


def test_passed_flex_dispatch_keeps_its_intervals_for_the_report() -> None:
    plan = plan_event(
        existing(flex()),  # type: ignore[arg-type]
        flex_context(now=START + timedelta(days=1)),
    )
    assert isinstance(plan, CapPlan)
    assert plan.caps == ()
    assert len(plan.intervals) == 3
    assert plan.congestion_point_id == POINT


def test_cap_event_ids_are_short_and_change_with_the_version() -> None:
    first = cap_event_id("p" * 128, "e" * 128, START, POINT)
    again = cap_event_id("p" * 128, "e" * 128, START, POINT)
    changed = cap_event_id("p" * 128, "e" * 128, START + timedelta(seconds=1), POINT)
    assert first == again != changed
    assert len(first) <= 64
    assert DSO_EAN not in first
