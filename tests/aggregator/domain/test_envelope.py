"""Capacity profiles: fixed per time of day, day-ahead per 15 minutes, emergency."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest

from dacs.aggregator.domain.envelope import (
    AMSTERDAM,
    CapacityEnvelope,
    CapacityInterval,
    EnvelopeKind,
    FixedCapacity,
    binding_cap,
)

# Monday 3 February 2025, 17:00 in Amsterdam (16:00 UTC).
EVENING = datetime(2025, 2, 3, 17, 0, tzinfo=AMSTERDAM)


def test_fixed_profile_by_local_time() -> None:
    profile = FixedCapacity(
        blocks=((time(16, 0), 180.0), (time(20, 30), 250.0)), weekdays_only=True
    )
    cap = profile.cap_at(EVENING.astimezone(UTC))
    assert cap is not None
    assert (cap.cap_w, cap.kind) == (180.0, EnvelopeKind.FIXED)
    assert cap.until == datetime(2025, 2, 3, 20, 30, tzinfo=AMSTERDAM)
    late = profile.cap_at(datetime(2025, 2, 3, 23, 0, tzinfo=AMSTERDAM))
    assert late is not None
    assert late.cap_w == 250.0
    assert profile.cap_at(datetime(2025, 2, 3, 9, 0, tzinfo=AMSTERDAM)) is None
    assert (
        profile.cap_at(datetime(2025, 2, 2, 17, 0, tzinfo=AMSTERDAM)) is None
    )  # Sunday
    # Across the DST change the local time still governs.
    summer = profile.cap_at(datetime(2025, 6, 2, 16, 30, tzinfo=UTC))  # 18:30 CEST
    assert summer is not None
    assert summer.cap_w == 180.0


def test_day_ahead_profile_in_quarter_hours() -> None:
    caps = [200.0] * 8 + [150.0] * 8
    event = CapacityEnvelope.day_ahead("da-1", EVENING, caps)
    assert event.end - event.start == timedelta(hours=4)
    first = event.cap_at(EVENING + timedelta(minutes=10))
    assert first is not None
    assert (first.cap_w, first.until) == (200.0, EVENING + timedelta(minutes=15))
    later = event.cap_at(EVENING + timedelta(hours=2, minutes=1))
    assert later is not None
    assert later.cap_w == 150.0
    assert event.cap_at(EVENING + timedelta(hours=4)) is None


def test_most_restrictive_wins_and_emergency_always() -> None:
    fixed = FixedCapacity(blocks=((time(0, 0), 220.0),))
    dynamic = CapacityEnvelope.day_ahead("da-1", EVENING, [180.0] * 4)
    cap = binding_cap(EVENING, fixed=fixed, envelopes=[dynamic])
    assert cap is not None
    assert (cap.cap_w, cap.envelope_id) == (180.0, "da-1")
    loose = CapacityEnvelope.day_ahead("da-2", EVENING, [300.0] * 4)
    cap = binding_cap(EVENING, fixed=fixed, envelopes=[loose])
    assert cap is not None
    assert cap.kind is EnvelopeKind.FIXED
    stop = CapacityEnvelope.emergency_stop("e-1", EVENING, timedelta(minutes=30))
    cap = binding_cap(EVENING, fixed=fixed, envelopes=[loose, stop])
    assert cap is not None
    assert cap.emergency
    assert cap.cap_w == 0.0
    assert binding_cap(EVENING, fixed=None, envelopes=[]) is None


def test_invalid_profiles() -> None:
    with pytest.raises(ValueError, match="sorted"):
        FixedCapacity(blocks=((time(20), 1.0), (time(8), 2.0)))
    with pytest.raises(ValueError, match="negative"):
        FixedCapacity(blocks=((time(8), -1.0),))
    with pytest.raises(ValueError, match="end after"):
        CapacityInterval(start=EVENING, end=EVENING, cap_w=1)
    with pytest.raises(ValueError, match="overlap"):
        CapacityEnvelope(
            envelope_id="x",
            kind=EnvelopeKind.MANUAL,
            intervals=(
                CapacityInterval(
                    start=EVENING, end=EVENING + timedelta(hours=1), cap_w=1
                ),
                CapacityInterval(
                    start=EVENING + timedelta(minutes=30),
                    end=EVENING + timedelta(hours=2),
                    cap_w=1,
                ),
            ),
        )
    with pytest.raises(ValueError, match="time zone"):
        CapacityEnvelope.day_ahead("x", datetime(2025, 2, 3, 17, 0), [1.0])  # noqa: DTZ001 - the point
    with pytest.raises(ValueError, match="at least one"):
        CapacityEnvelope(envelope_id="x", kind=EnvelopeKind.MANUAL, intervals=())
