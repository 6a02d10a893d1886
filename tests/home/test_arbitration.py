"""The order of authority, checked over all combinations."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, strategies as st
import pytest

from dacs.home import Guard, ResidentSettings, decide
from dacs.protocol import (
    Command,
    CommandReason,
    LimitSource,
    Participation,
    PowerInterval,
)

T0 = datetime(2025, 2, 2, 17, 0, tzinfo=UTC)


def _command(cap: float, *, minutes: int = 60) -> Command:
    return Command(
        home_id="h-001",
        command_id="c-1",
        issued_at=T0 - timedelta(minutes=5),
        expires_at=T0 + timedelta(minutes=minutes + 10),
        reason=CommandReason.CONGESTION,
        envelope=(PowerInterval(start=T0, duration_s=minutes * 60, max_power_w=cap),),
    )


@given(
    participation=st.sampled_from(Participation),
    guard=st.sampled_from([Guard.NONE, Guard.COMFORT, Guard.MAX_DURATION]),
    cap=st.floats(0, 5000),
    manual=st.one_of(st.none(), st.floats(0, 5000)),
    offset_min=st.integers(-30, 90),
)
def test_authority(
    participation: Participation,
    guard: Guard,
    cap: float,
    manual: float | None,
    offset_min: int,
) -> None:
    now = T0 + timedelta(minutes=offset_min)
    settings = ResidentSettings(
        participation=participation,
        paused_until=T0 + timedelta(hours=3)
        if participation is Participation.PAUSED
        else None,
        manual_limit_w=manual,
    )
    decision = decide(
        now=now, settings=settings, command=_command(cap), guard_tripped=guard
    )
    in_envelope = 0 <= offset_min < 60
    aggregator_allowed = participation is Participation.ON and guard is Guard.NONE
    if decision.source is LimitSource.AGGREGATOR:
        # Only a participating, unguarded home inside the envelope is ever limited by it.
        assert aggregator_allowed
        assert in_envelope
        assert decision.max_power_w == cap
        assert manual is None or cap <= manual
    elif decision.source is LimitSource.MANUAL:
        assert decision.max_power_w == manual
    else:
        assert decision.max_power_w is None
        assert manual is None
    if aggregator_allowed and in_envelope:
        expected = cap if manual is None else min(cap, manual)
        assert decision.max_power_w == expected
    if not aggregator_allowed:
        assert decision.command_id is None


def test_after_expiry_nothing_binds() -> None:
    command = _command(800, minutes=60)
    decision = decide(
        now=command.expires_at,
        settings=ResidentSettings(),
        command=command,
        guard_tripped=Guard.NONE,
    )
    assert decision.max_power_w is None


def test_a_pause_that_has_ended_counts_as_participation() -> None:
    settings = ResidentSettings(participation=Participation.PAUSED, paused_until=T0)
    decision = decide(
        now=T0, settings=settings, command=_command(900), guard_tripped=Guard.NONE
    )
    assert decision.source is LimitSource.AGGREGATOR
    assert settings.settled(T0).participation is Participation.ON


def test_guard_names_the_reason() -> None:
    opted_out = ResidentSettings(participation=Participation.OFF)
    assert (
        decide(
            now=T0, settings=opted_out, command=_command(900), guard_tripped=Guard.NONE
        ).guard
        is Guard.OPTED_OUT
    )
    paused = ResidentSettings(
        participation=Participation.PAUSED, paused_until=T0 + timedelta(hours=1)
    )
    assert (
        decide(
            now=T0, settings=paused, command=_command(900), guard_tripped=Guard.NONE
        ).guard
        is Guard.PAUSED
    )


def test_invalid_settings() -> None:
    with pytest.raises(ValueError, match="pause needs an end"):
        ResidentSettings(participation=Participation.PAUSED)
    with pytest.raises(ValueError, match="comfort floor"):
        ResidentSettings(comfort_floor_c=5)
    with pytest.raises(ValueError, match="compensation"):
        ResidentSettings(min_compensation_eur_per_kwh=-1)
    with pytest.raises(ValueError, match="maximum curtailment"):
        ResidentSettings(max_curtailment_minutes=5000)
    with pytest.raises(ValueError, match="negative"):
        ResidentSettings(manual_limit_w=-1)
