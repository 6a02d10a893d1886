"""One delivery figure per ISP, whichever grid adapter asks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from dacs.aggregator.domain.delivery import IntervalDelivery, deliveries_per_isp

START = datetime(2025, 1, 20, 16, tzinfo=UTC)


def _delivery(start: datetime, minutes: int, kw: float) -> IntervalDelivery:
    return IntervalDelivery(
        start=start,
        end=start + timedelta(minutes=minutes),
        baseline_kw=10.0,
        measured_kw=10.0 - kw,
        delivered_kw=kw,
    )


def test_only_whole_isps_are_an_isps_figure() -> None:
    quarter = _delivery(START, 15, 2.0)
    half_hour = _delivery(START + timedelta(minutes=15), 30, 3.0)
    later = _delivery(START + timedelta(minutes=45), 15, 1.0)
    by_isp = deliveries_per_isp([quarter, half_hour, later])
    assert by_isp == {START: quarter, START + timedelta(minutes=45): later}
