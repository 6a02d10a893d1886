"""The live stream's cycle frame carries the event plan's outlook."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from dacs.aggregator.api.stream import cycle_json
from dacs.aggregator.control.loop import CycleReport
from dacs.aggregator.control.planner import PlanView

T0 = datetime(2025, 2, 3, 16, 0, tzinfo=UTC)


def _report(plan: PlanView | None) -> CycleReport:
    return CycleReport(
        time=T0,
        congestion_point_id="tr-1",
        cap=None,
        cap_w=60_000.0,
        measured_load_w=None,
        heat_pump_load_w=20_000.0,
        other_load_w=30_000.0,
        forecast_load_w=50_000.0,
        required_reduction_w=0.0,
        shortfall_w=0.0,
        curtailed_homes=0,
        commands=0,
        cancels=0,
        held_for_rebound=0,
        plan=plan,
    )


def test_a_short_plan_says_how_much_and_from_when() -> None:
    plan = PlanView(
        made_at=T0,
        isps=6,
        kept_for_later=3,
        shortfall_w=1234.0,
        short_from=T0 + timedelta(minutes=45),
    )
    frame = cycle_json(_report(plan), rated_capacity_kw=60.0, homes=[])
    assert frame["plan"] == {
        "made_at": "2025-02-03T16:00:00Z",
        "isps": 6,
        "kept_for_later": 3,
        "shortfall_kw": 1.234,
        "short_from": "2025-02-03T16:45:00Z",
    }


def test_no_plan_where_no_allowance_binds() -> None:
    assert cycle_json(_report(None), rated_capacity_kw=60.0, homes=[])["plan"] is None
