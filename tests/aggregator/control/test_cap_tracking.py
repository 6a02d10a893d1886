"""A cycle's target: ahead of cap steps, within the ISP's budget, under a learnt margin."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from dacs.aggregator.control.cap_tracking import CapTracker, TrackingSettings, isp_start

T0 = datetime(2025, 1, 20, 16, 0, tzinfo=UTC)
CAP_W = 50_000.0


def _flat(cap_w: float = CAP_W) -> Callable[[datetime], float]:
    return lambda _moment: cap_w


def test_isps_start_on_quarter_hours() -> None:
    assert isp_start(T0 + timedelta(minutes=14, seconds=59)) == T0
    assert isp_start(T0 + timedelta(minutes=15)) == T0 + timedelta(minutes=15)


def test_initial_margin_until_errors_are_measured() -> None:
    tracker = CapTracker()
    target = tracker.target(T0, _flat())
    assert target.margin_w == pytest.approx(0.03 * CAP_W)
    assert target.target_w == pytest.approx(0.97 * CAP_W)
    assert target.budget_w == float("inf")  # nothing measured in this ISP


def test_a_lower_cap_ahead_is_aimed_at_before_it_starts() -> None:
    step = T0 + timedelta(minutes=1)

    def cap_at(moment: datetime) -> float:
        return 60_000.0 if moment < step else 40_000.0

    target = CapTracker().target(T0, cap_at)
    assert target.cap_w == 60_000.0
    assert target.ahead_cap_w == 40_000.0
    assert target.target_w == pytest.approx(40_000.0 * 0.97)
    # Far enough before the step, the cap now holds.
    early = CapTracker().target(step - timedelta(minutes=5), cap_at)
    assert early.ahead_cap_w == 60_000.0


def test_a_minute_over_early_in_an_isp_is_paid_back_before_it_ends() -> None:
    tracker = CapTracker()
    # Five minutes at 56 kW against a 50 kW cap: 30 kW·min over.
    for second in range(0, 301, 60):
        tracker.observe(T0 + timedelta(seconds=second), 56_000.0)
    now = T0 + timedelta(minutes=5)
    budget = tracker.budget_w(now, CAP_W)
    # The ISP may hold 750 kW·min; 280 used; 470 left over 10 minutes.
    assert budget == pytest.approx((CAP_W * 900 - 56_000.0 * 300) / 600)
    target = tracker.target(now, _flat())
    assert target.target_w == pytest.approx(budget - 0.03 * CAP_W)
    # An ISP that stayed under its cap does not lift the target above the cap.
    calm = CapTracker()
    for second in range(0, 301, 60):
        calm.observe(T0 + timedelta(seconds=second), 30_000.0)
    assert calm.target(now, _flat()).target_w == pytest.approx(0.97 * CAP_W)


def test_the_budget_starts_afresh_each_isp_and_near_its_end() -> None:
    tracker = CapTracker()
    tracker.observe(T0, 90_000.0)
    tracker.observe(T0 + timedelta(minutes=14, seconds=30), 90_000.0)
    assert tracker.budget_w(T0 + timedelta(minutes=14, seconds=30), CAP_W) == float(
        "inf"
    )
    tracker.observe(T0 + timedelta(minutes=16), 40_000.0)
    # The new ISP holds one minute of the 90 kW sample, then the 40 kW one.
    now = T0 + timedelta(minutes=17)
    used = 90_000.0 * 60 + 40_000.0 * 60
    assert tracker.budget_w(now, CAP_W) == pytest.approx((CAP_W * 900 - used) / 780)


def test_margin_follows_the_measured_error_within_bounds() -> None:
    settings = TrackingSettings(min_errors=3)
    tracker = CapTracker(settings)
    for minute in range(10):
        at = T0 + timedelta(minutes=minute)
        tracker.predicted(at, 45_000.0)
        # What the homes really drew a minute later: 2 kW more than expected.
        tracker.observe(at + timedelta(minutes=1), 47_000.0)
    assert tracker.margin_w(CAP_W) == pytest.approx(2_000.0)
    # A forecast that is always far too low hits the upper bound.
    wild = CapTracker(settings)
    for minute in range(10):
        at = T0 + timedelta(minutes=minute)
        wild.predicted(at, 30_000.0)
        wild.observe(at + timedelta(minutes=1), 60_000.0)
    assert wild.margin_w(CAP_W) == pytest.approx(0.08 * CAP_W)
    # A forecast that is always too high shrinks it to the lower bound.
    cautious = CapTracker(settings)
    for minute in range(10):
        at = T0 + timedelta(minutes=minute)
        cautious.predicted(at, 45_000.0)
        cautious.observe(at + timedelta(minutes=1), 40_000.0)
    assert cautious.margin_w(CAP_W) == pytest.approx(0.01 * CAP_W)


def test_late_measurements_change_nothing() -> None:
    tracker = CapTracker()
    tracker.observe(T0 + timedelta(minutes=2), 40_000.0)
    tracker.observe(T0 + timedelta(minutes=1), 99_000.0)
    now = T0 + timedelta(minutes=3)
    assert tracker.budget_w(now, CAP_W) == pytest.approx(
        (CAP_W * 900 - 40_000.0 * 180) / 720
    )


def test_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="margins"):
        TrackingSettings(min_margin=0.05, initial_margin=0.03)
    with pytest.raises(ValueError, match="quantile"):
        TrackingSettings(error_quantile=1.0)


def test_finished_isps_are_filed_with_their_mean_and_cap() -> None:
    tracker = CapTracker()
    # First ISP: 10 minutes at 60 kW, 5 at 30 kW: a mean of 50 kW.
    for minute in range(16):
        at = T0 + timedelta(minutes=minute)
        tracker.target(at, _flat())
        tracker.observe(at, 60_000.0 if minute < 10 else 30_000.0)
    assert tracker.isp_mean_w(T0 + timedelta(minutes=16)) == pytest.approx(30_000.0)
    (first,) = tracker.outcomes
    assert first.start == T0
    assert first.mean_w == pytest.approx(50_000.0)
    assert first.cap_w == CAP_W
    assert first.excess_w == 0.0
    # Second ISP over its 40 kW cap by 5 kW on average.
    for minute in range(16, 31):
        at = T0 + timedelta(minutes=minute)
        tracker.target(at, _flat(40_000.0))
        tracker.observe(at, 45_000.0 if minute < 30 else 0.0)
    second = tracker.outcomes[-1]
    assert second.mean_w == pytest.approx((30_000.0 + 14 * 45_000.0) / 15)
    assert second.cap_w == 40_000.0
    assert second.excess_w == pytest.approx(second.mean_w - 40_000.0)
