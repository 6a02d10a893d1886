"""Per-ISP compliance, checked against small cases computed by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
import math

import numpy as np
import pytest

from dacs.aggregator.domain.compliance import (
    assess_compliance,
    held_per_minute,
    isp_caps,
)
from dacs.aggregator.domain.envelope import ISP, CapacityInterval

T0 = datetime(2025, 1, 20, 16, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


def _caps() -> tuple[CapacityInterval, ...]:
    return (
        CapacityInterval(start=T0, end=T0 + ISP, cap_w=1000.0),
        CapacityInterval(start=T0 + ISP, end=T0 + 2 * ISP, cap_w=2000.0),
    )


def _trace() -> tuple[list[datetime], np.ndarray]:
    # 15:59 (no cap), a full first ISP, five minutes of the second, 16:30 (no cap).
    first = [1000.0] * 14 + [1150.0]
    second = [2100.0, 2000.0, 1900.0, 1900.0, 1900.0]
    loads = [5000.0, *first, *second, 5000.0]
    times = [T0 - MINUTE] + [T0 + i * MINUTE for i in range(20)] + [T0 + 2 * ISP]
    return times, np.array(loads)


def test_isp_average_and_minutes() -> None:
    """ISP 1 averages 1010 W over a 1000 W cap; ISP 2 (partly covered) 1960 W under 2000 W."""
    times, loads = _trace()
    report = assess_compliance(times, loads, _caps())
    first, second = report.isps
    assert first.average_w == pytest.approx(1010.0)
    assert first.samples == 15
    assert first.over
    assert second.average_w == pytest.approx(1960.0)
    assert second.samples == 5
    assert not second.over
    assert report.isps_over == 1
    assert report.worst_isp_excess_w == pytest.approx(10.0)
    assert report.worst_isp_excess_share == pytest.approx(0.01)
    # Samples outside every cap do not count; a minute exactly at the cap is not over.
    assert report.minutes == 20
    assert report.minutes_over == 2
    assert report.share_minutes_over == pytest.approx(0.1)
    assert report.worst_minute_excess_w == pytest.approx(150.0)
    assert report.worst_minute_excess_share == pytest.approx(0.15)
    assert report.energy_over_kwh == pytest.approx((150 + 100) / 60 / 1000)


def test_exactly_at_the_cap_is_compliant() -> None:
    """An ISP whose every minute sits exactly at the cap is not over."""
    times = [T0 + i * MINUTE for i in range(15)]
    report = assess_compliance(times, np.full(15, 1000.0), _caps()[:1])
    assert report.isps_over == 0
    assert report.minutes_over == 0
    assert report.energy_over_kwh == 0.0
    assert report.worst_isp_excess_share == 0.0


def test_zero_cap_has_no_percentage() -> None:
    """Over a 0 W cap (the emergency stop) the excess share is infinite, not a division error."""
    caps = (CapacityInterval(start=T0, end=T0 + ISP, cap_w=0.0),)
    report = assess_compliance([T0], np.array([500.0]), caps)
    assert report.worst_minute_excess_w == 500.0
    assert math.isinf(report.worst_minute_excess_share)


def test_isp_caps_are_quarter_aligned() -> None:
    """The caps start at the quarter hour before ``start``; ISPs without a cap are left out."""

    def cap_at(moment: datetime) -> float | None:
        return None if moment == T0 + ISP else 1000.0

    caps = isp_caps(T0 + 7 * MINUTE, T0 + 40 * MINUTE, cap_at)
    assert [c.start for c in caps] == [T0, T0 + 2 * ISP]
    assert all(c.end - c.start == ISP for c in caps)


def test_lengths_must_match() -> None:
    """A trace whose times and loads disagree is refused."""
    with pytest.raises(ValueError, match="same length"):
        assess_compliance([T0], np.array([1.0, 2.0]), _caps())


def test_held_per_minute_takes_the_reading_in_force_and_skips_the_gap_before() -> None:
    t0 = datetime(2025, 1, 20, 16, 0, tzinfo=UTC)
    samples = [
        (t0 + timedelta(minutes=2, seconds=10), 100.0),
        (t0 + timedelta(minutes=3, seconds=40), 300.0),
    ]
    times, loads = held_per_minute(samples, t0, t0 + timedelta(minutes=6))
    # Minutes 0 and 1 have no reading yet; minute 3's middle (3:30) still sees 100.
    assert times == [t0 + timedelta(minutes=m) for m in (2, 3, 4, 5)]
    assert loads.tolist() == [100.0, 100.0, 300.0, 300.0]
