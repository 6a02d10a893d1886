"""Delivered flexibility per interval: only while limited in an event, never negative."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings, strategies as st
import numpy as np
import pytest

from dacs.aggregator.settlement.config import SettlementConfig
from dacs.aggregator.settlement.delivered import (
    EventWindow,
    HomeIntervals,
    congestion_point_intervals,
    settle_deliveries,
)
from dacs.aggregator.settlement.errors import BadPeriodError, BadRangeError
from dacs.aggregator.settlement.periods import (
    INTERVAL_S,
    check_range,
    floor_interval,
    interval_starts,
    month_bounds,
    period_of,
)

DAY = datetime(2025, 1, 20, tzinfo=UTC)
EVENT = EventWindow(
    event_id="ev-1", start=DAY + timedelta(hours=15), end=DAY + timedelta(hours=17)
)
CONFIG = SettlementConfig(history_days=7, min_history_days=3)


def _home(
    home_id: str,
    *,
    scale: float = 1.0,
    measured_in_event: float = 0.4,
    limited_from: datetime = EVENT.start,
    days: int = 8,
) -> HomeIntervals:
    """A week of history (1.5 kW at 0 °C, 0.1 kW/K less) and a limited event."""
    start = DAY - timedelta(days=days - 1)
    starts = interval_starts(start, DAY + timedelta(days=1))
    hours = (starts % 86_400) / 3600
    outdoor = 4 + 4 * np.sin(2 * np.pi * (starts / 86_400 / 3.3)) + np.cos(hours / 3)
    electric = scale * np.clip(1.5 - 0.1 * outdoor, 0, None)
    boiler = np.zeros(len(starts))
    limited = (starts >= limited_from.timestamp()) & (starts < EVENT.end.timestamp())
    electric = np.where(limited, measured_in_event, electric)
    boiler = np.where(limited, 2.0, boiler)
    return HomeIntervals(
        home_id=home_id,
        starts=starts,
        electric_kw=electric,
        boiler_kw=boiler,
        outdoor_c=outdoor,
        limited=limited,
        excluded=np.zeros(len(starts), dtype=bool),
        boiler_only=np.zeros(len(starts), dtype=bool),
    )


def test_limited_home_delivers_baseline_minus_measured() -> None:
    home = _home("h-1")
    [result] = settle_deliveries([home], [EVENT], DAY, DAY + timedelta(days=1), CONFIG)
    assert len(result.starts) == 8  # two hours of event
    truth = 1.5 - 0.1 * home.outdoor_c[np.isin(home.starts, result.starts)]
    assert result.baseline_kw == pytest.approx(truth, abs=0.03)
    assert result.delivered_kw == pytest.approx(truth - 0.4, abs=0.03)
    assert result.delivered_kwh == pytest.approx(
        float(np.sum(truth - 0.4)) / 4, abs=0.05
    )
    assert result.events == {"ev-1"}
    # The boiler made 2 kW extra heat, capped at 6 x delivered (never binding here).
    assert result.extra_heat_kw == pytest.approx(np.full(8, 2.0), abs=1e-9)


def test_unlimited_intervals_deliver_nothing() -> None:
    late = _home("h-late", limited_from=EVENT.start + timedelta(hours=1))
    [result] = settle_deliveries([late], [EVENT], DAY, DAY + timedelta(days=1), CONFIG)
    assert np.all(result.delivered_kw[:4] == 0)
    assert np.all(result.delivered_kw[4:] > 0.5)


def test_using_more_than_the_baseline_is_zero_not_negative() -> None:
    greedy = _home("h-greedy", measured_in_event=5.0)
    [result] = settle_deliveries(
        [greedy], [EVENT], DAY, DAY + timedelta(days=1), CONFIG
    )
    assert np.all(result.delivered_kw == 0)
    assert result.delivered_kwh == 0
    assert result.events == {"ev-1"}  # it took part, it just did not deliver


def test_no_event_no_settled_intervals() -> None:
    [result] = settle_deliveries(
        [_home("h-1")], [], DAY, DAY + timedelta(days=1), CONFIG
    )
    assert len(result.starts) == 0
    assert congestion_point_intervals([result]) == []


def test_short_history_uses_the_neighbours() -> None:
    newcomer = _home("h-new", scale=2.0, days=2)  # one day of history: too little
    neighbours = [_home(f"h-{i}") for i in range(3)]
    results = settle_deliveries(
        [*neighbours, newcomer], [EVENT], DAY, DAY + timedelta(days=1), CONFIG
    )
    new = results[-1]
    # The newcomer's own day lifts the pooled fit to its level (scale ~2).
    assert new.baseline_kw == pytest.approx(2 * results[0].baseline_kw, rel=0.1)


def test_home_without_any_history_is_paid_nothing() -> None:
    alone = _home("h-alone", days=0)
    [result] = settle_deliveries([alone], [EVENT], DAY, DAY + timedelta(days=1), CONFIG)
    assert np.all(np.isnan(result.baseline_kw))
    assert result.delivered_kwh == 0


def test_congestion_point_sums_the_homes() -> None:
    homes = [_home("h-1"), _home("h-2", scale=2.0)]
    results = settle_deliveries(homes, [EVENT], DAY, DAY + timedelta(days=1), CONFIG)
    intervals = congestion_point_intervals(results)
    assert len(intervals) == 8
    first = intervals[0]
    assert first.start == EVENT.start
    assert first.end - first.start == timedelta(minutes=15)
    assert first.homes_reporting == 2
    assert first.delivered_kw == pytest.approx(
        results[0].delivered_kw[0] + results[1].delivered_kw[0]
    )
    assert first.measured_kw == pytest.approx(0.8)
    assert sum(i.delivered_kwh for i in intervals) == pytest.approx(
        results[0].delivered_kwh + results[1].delivered_kwh
    )


def test_per_home_intervals_skip_silent_ones() -> None:
    home = _home("h-1")
    keep = ~home.limited  # silent during the whole event
    quiet = HomeIntervals(
        home_id="h-quiet",
        starts=home.starts[keep],
        electric_kw=home.electric_kw[keep],
        boiler_kw=home.boiler_kw[keep],
        outdoor_c=home.outdoor_c[keep],
        limited=home.limited[keep],
        excluded=home.excluded[keep],
        boiler_only=home.boiler_only[keep],
    )
    results = settle_deliveries(
        [home, quiet], [EVENT], DAY, DAY + timedelta(days=1), CONFIG
    )
    intervals = congestion_point_intervals(results)
    assert {i.homes_reporting for i in intervals} == {1}
    assert results[1].intervals() == []
    assert len(results[0].intervals()) == 8


def test_mismatched_arrays_are_refused() -> None:
    home = _home("h-1")
    with pytest.raises(ValueError, match="length"):
        HomeIntervals(
            home_id="x",
            starts=home.starts,
            electric_kw=home.electric_kw[:3],
            boiler_kw=home.boiler_kw,
            outdoor_c=home.outdoor_c,
            limited=home.limited,
            excluded=home.excluded,
            boiler_only=home.boiler_only,
        )


@settings(max_examples=30, deadline=None)
@given(
    measured=st.floats(0, 4),
    scale=st.floats(0.2, 3),
    offset_intervals=st.integers(0, 8),
)
def test_delivery_is_never_negative_and_only_while_limited(
    measured: float, scale: float, offset_intervals: int
) -> None:
    home = _home(
        "h-p",
        scale=scale,
        measured_in_event=measured,
        limited_from=EVENT.start + timedelta(minutes=15 * offset_intervals),
    )
    [result] = settle_deliveries([home], [EVENT], DAY, DAY + timedelta(days=1), CONFIG)
    assert np.all(result.delivered_kw >= 0)
    assert np.all(result.delivered_kw[~result.limited] == 0)
    assert np.all(result.extra_heat_kw <= CONFIG.max_cop * result.delivered_kw + 1e-9)
    for interval in result.intervals():
        assert interval.delivered_kw <= interval.baseline_kw + 1e-9


# -- periods -----------------------------------------------------------------


def test_month_bounds_follow_local_time() -> None:
    start, end = month_bounds("2025-03")
    assert start == datetime(2025, 2, 28, 23, tzinfo=UTC)  # CET
    assert end == datetime(2025, 3, 31, 22, tzinfo=UTC)  # CEST
    assert month_bounds("2024-12")[1] == datetime(2024, 12, 31, 23, tzinfo=UTC)
    assert period_of(datetime(2025, 1, 31, 23, 30, tzinfo=UTC)) == "2025-02"


@pytest.mark.parametrize(
    "bad", ["2025-13", "2025-1", "25-01", "", "1999-01", "2025-01-01"]
)
def test_bad_periods(bad: str) -> None:
    with pytest.raises(BadPeriodError, match=r"YYYY-MM|before 2000"):
        month_bounds(bad)


def test_ranges_and_intervals() -> None:
    with pytest.raises(BadRangeError, match="before end"):
        check_range(DAY, DAY)
    with pytest.raises(BadRangeError, match="at most"):
        check_range(DAY, DAY + timedelta(days=90))
    with pytest.raises(BadRangeError, match="time zone"):
        check_range(DAY.replace(tzinfo=None), DAY)
    starts = interval_starts(DAY + timedelta(minutes=5), DAY + timedelta(minutes=50))
    assert starts.tolist() == [DAY.timestamp() + 900, DAY.timestamp() + 1800]
    assert floor_interval(DAY + timedelta(minutes=29)) == DAY + timedelta(minutes=15)
    assert INTERVAL_S == 900
