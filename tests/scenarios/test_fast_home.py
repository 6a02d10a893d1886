"""The fast path's home: the home controller's rules on the simulated physics."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from dacs.protocol import (
    AckReason,
    AckResult,
    Command,
    CommandReason,
    LimitSource,
    Participation,
    PowerInterval,
)
from dacs.testbed.scenarios.fast_home import FastHome
from dacs.testbed.sim.simulated_heat_pump import SimulatedHomeOptions, build_home

START = datetime(2025, 1, 20, 16, 0, tzinfo=UTC)


def _home(profile: str = "dacs") -> FastHome:
    physics = build_home(SimulatedHomeOptions(profile=profile, start=START))
    home = FastHome("h-1", physics, profile)
    for _ in range(30):  # a running heat pump on a winter evening
        home.evaluate(physics.time)
        home.step(10.0)
    return home


def _command(now: datetime, max_power_w: float, minutes: int = 60) -> Command:
    return Command(
        home_id="h-1",
        command_id=f"c-{now:%H%M%S}-{max_power_w:.0f}",
        issued_at=now,
        expires_at=now + timedelta(minutes=minutes + 5),
        reason=CommandReason.CONGESTION,
        envelope=(
            PowerInterval(start=now, duration_s=minutes * 60, max_power_w=max_power_w),
        ),
    )


def test_a_limit_reaches_the_physics_and_the_telemetry() -> None:
    home = _home()
    now = home.physics.time
    limit = home.capabilities.safety_floor_w + 100
    assert home.physics.hp_electric_w > limit
    ack = home.receive(_command(now, limit), now)
    assert ack.result is AckResult.ACCEPTED
    home.step(60.0)
    assert home.physics.hp_electric_w <= limit + 1e-6
    telemetry = home.telemetry(home.physics.time)
    assert (telemetry.limit_w, telemetry.limit_source) == (
        limit,
        LimitSource.AGGREGATOR,
    )
    assert home.curtailed


def test_below_the_floor_is_gas_only_and_the_limit_expires() -> None:
    home = _home()
    now = home.physics.time
    ack = home.receive(_command(now, 50, minutes=2), now)
    assert ack.reason_code is AckReason.GAS_ONLY
    home.step(10.0)
    assert home.physics.hp_electric_w == 0
    assert home.telemetry(home.physics.time).limit_source is LimitSource.GAS_ONLY
    later = now + timedelta(minutes=3)
    home.evaluate(later)
    assert not home.curtailed
    assert home.physics.electric_limit_w is None


def test_opting_out_releases_at_once_and_refuses_new_commands() -> None:
    home = _home()
    now = home.physics.time
    home.receive(_command(now, 600), now)
    home.change_settings(replace(home.settings, participation=Participation.OFF), now)
    assert home.physics.electric_limit_w is None
    assert not home.curtailed
    refused = home.receive(_command(now + timedelta(seconds=1), 600), now)
    assert (refused.result, refused.reason_code) == (
        AckResult.REJECTED,
        AckReason.OPTED_OUT,
    )
    assert home.preferences(now).participation is Participation.OFF


def test_the_maximum_curtailment_releases_and_is_reported() -> None:
    home = _home()
    home.change_settings(
        replace(home.settings, max_curtailment_minutes=30), home.physics.time
    )
    now = home.physics.time
    home.receive(_command(now, 600, minutes=120), now)
    for step in range(1, 200):
        home.evaluate(now + timedelta(seconds=10 * step))
        home.step(10.0)
    telemetry = home.telemetry(home.physics.time)
    assert telemetry.limit_w is None
    assert telemetry.comfort_override is True


@pytest.mark.parametrize("profile", ["dacs", "nibe_s", "daikin_homehub"])
def test_status_declares_what_the_profile_offers(profile: str) -> None:
    home = _home(profile)
    status = home.status(home.physics.time, 60)
    assert status.device is not None
    assert status.device.profile == profile
    assert 0 < status.device.safety_floor_w <= status.device.nominal_power_w
