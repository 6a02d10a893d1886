"""The other load's estimate: the forecast's shape, the meter's level, damped."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dacs.aggregator.control.other_load import OtherLoadEstimate

T0 = datetime(2025, 1, 20, 16, 0, tzinfo=UTC)
STEP_AT = T0 + timedelta(minutes=15)


def _estimate(gain: float = 0.5) -> OtherLoadEstimate:
    return OtherLoadEstimate(
        gain=gain,
        stale_after=timedelta(seconds=90),
        follow_delay=timedelta(seconds=15),
        hold=timedelta(seconds=30),
    )


def _forecast(moment: datetime) -> float:
    """20 kW, stepping to 22 kW at the quarter hour."""
    return 20_000.0 if moment < STEP_AT else 22_000.0


def test_a_forecast_step_is_anticipated_and_kept_after_it_passes() -> None:
    estimate = _estimate()
    # The street draws 1 kW more than the forecast says, steadily.
    before = STEP_AT - timedelta(seconds=40)
    estimate.measured(before - timedelta(seconds=20), 21_000.0)
    assert estimate.at(before, _forecast) == pytest.approx(23_000.0)  # step ahead
    after = STEP_AT + timedelta(seconds=30)
    estimate.measured(STEP_AT + timedelta(seconds=10), 23_000.0)
    # The meter confirms the step: the estimate does not fall back behind it.
    assert estimate.at(after, _forecast) == pytest.approx(23_000.0)


def test_each_measurement_moves_the_error_part_of_the_way() -> None:
    estimate = _estimate(gain=0.5)
    flat = lambda _moment: 10_000.0  # noqa: E731
    estimate.measured(T0, 10_000.0)
    assert estimate.at(T0, flat) == pytest.approx(10_000.0)
    estimate.measured(T0 + timedelta(seconds=60), 14_000.0)  # 4 kW jump
    now = T0 + timedelta(seconds=60)
    assert estimate.at(now, flat) == pytest.approx(12_000.0)
    # Asking again without a new measurement does not move it further.
    assert estimate.at(now + timedelta(seconds=30), flat) == pytest.approx(12_000.0)
    estimate.measured(T0 + timedelta(seconds=120), 14_000.0)
    assert estimate.at(T0 + timedelta(seconds=120), flat) == pytest.approx(13_000.0)


def test_without_a_forecast_the_meter_alone_counts() -> None:
    estimate = _estimate(gain=1.0)
    assert estimate.at(T0, None) == 0.0  # nothing known
    estimate.measured(T0, 15_000.0)
    assert estimate.at(T0 + timedelta(seconds=30), None) == pytest.approx(15_000.0)


def test_a_stale_measurement_gives_way_to_the_forecast() -> None:
    estimate = _estimate()
    estimate.measured(T0, 30_000.0)
    late = T0 + timedelta(minutes=5)
    assert not estimate.fresh(late)
    assert estimate.at(late, _forecast) == 20_000.0
    # After a gap the first new measurement sets the error afresh, undamped.
    estimate.measured(late, 25_000.0)
    assert estimate.at(late, _forecast) == pytest.approx(25_000.0)


def test_older_measurements_and_negative_readings() -> None:
    estimate = _estimate(gain=1.0)
    estimate.measured(T0, 12_000.0)
    estimate.measured(T0 - timedelta(seconds=30), 99_000.0)  # late: ignored
    assert estimate.at(T0, None) == pytest.approx(12_000.0)
    # Heat pumps estimated above the meter: the other load is never negative.
    estimate.measured(T0 + timedelta(seconds=60), -3_000.0)
    assert estimate.at(T0 + timedelta(seconds=60), None) == 0.0


@pytest.mark.parametrize("gain", [0.0, -0.1, 1.5])
def test_the_gain_is_a_share_of_the_way(gain: float) -> None:
    with pytest.raises(ValueError, match="gain"):
        _estimate(gain=gain)
