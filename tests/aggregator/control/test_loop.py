"""The closed loop on a synthetic fleet: caps met, residents respected, release staggered."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest

from dacs.aggregator.control.dispatch import (
    DispatchSettings,
    current_cap_w,
    plan_dispatch,
)
from dacs.aggregator.control.fleet import Fleet
from dacs.aggregator.control.loop import CongestionPointControl
from dacs.aggregator.domain import FlexContext, allocate
from dacs.aggregator.domain.envelope import CapacityEnvelope
from dacs.aggregator.domain.flex_model import Availability
from dacs.protocol import (
    Ack,
    AckReason,
    AckResult,
    Cancel,
    Command,
    CommandReason,
    DeviceSummary,
    Participation,
    PowerInterval,
    Preferences,
    Status,
)

from .followers import followed_telemetry

T0 = datetime(2025, 2, 3, 16, 0, tzinfo=UTC)
HOMES = 20
POWER_W = 1500.0
FLOOR_W = 700.0


def _device() -> DeviceSummary:
    return DeviceSummary(
        profile="dacs",
        manufacturer="Sim",
        model="HP",
        nominal_power_w=2000,
        safety_floor_w=FLOOR_W,
        limit_step_w=100,
        supports_gas_only=True,
        native_watchdog=True,
    )


class World:
    """A fleet whose homes follow their commands exactly, reporting every cycle."""

    def __init__(self) -> None:
        self.fleet = Fleet()
        self.control = CongestionPointControl(
            point_id="tr-1",
            rated_capacity_kw=60.0,
            fleet=self.fleet,
            settings=DispatchSettings(cycle_s=30),
        )
        self.seq = 0
        self.now = T0
        self.ids = [f"h-{i:04d}" for i in range(HOMES)]
        for index, home in enumerate(self.ids):
            self.fleet.add(home, "tr-1")
            self.fleet.apply_status(
                Status(
                    home_id=home,
                    ts=T0,
                    online=True,
                    device=_device(),
                    telemetry_interval_s=10,
                )
            )
            self.fleet.apply_preferences(
                Preferences(
                    home_id=home,
                    ts=T0,
                    min_compensation_eur_per_kwh=0.1 + 0.01 * index,
                    max_curtailment_minutes=240,
                )
            )
        self.report_all()

    def power(self, home: str) -> float:
        cap = current_cap_w(self.fleet.homes[home], self.now)
        return POWER_W if cap is None else min(POWER_W, cap)

    def report_all(self) -> None:
        for home in self.ids:
            cap = current_cap_w(self.fleet.homes[home], self.now)
            self.fleet.apply_telemetry(
                followed_telemetry(
                    home,
                    seq=self.seq,
                    ts=self.now,
                    power_w=self.power(home),
                    limit_w=cap,
                ),
                self.now,
            )
        self.seq += 1

    def step(
        self, other_load_w: float = 10_000.0
    ) -> tuple[object, list[Command], list[Cancel]]:
        report, plan = self.control.cycle(
            self.now, other_load_at=lambda _: other_load_w
        )
        for message in (*plan.commands, *plan.cancels):
            self.control.sent(message)
        self.now += timedelta(seconds=30)
        self.report_all()
        return report, list(plan.commands), list(plan.cancels)

    def load(self, other_load_w: float = 10_000.0) -> float:
        return other_load_w + sum(self.power(h) for h in self.ids)


def test_cap_met_through_an_event_and_released_in_steps() -> None:
    world = World()
    world.control.rated_capacity_kw = 36.0
    assert (
        world.load() == 40_000
    )  # over the rated capacity: the fixed cap already binds
    world.control.put_in_force(
        CapacityEnvelope.day_ahead("da-1", world.now, [32_000.0] * 4)
    )  # one hour at 32 kW
    report, commands, _ = world.step()
    # 8 kW over the cap, plus the initial margin of 3 % under it.
    assert report.target is not None
    assert report.target.margin_w == pytest.approx(0.03 * 32_000)
    assert report.required_reduction_w == pytest.approx(8000 + 0.03 * 32_000)
    assert commands
    assert all(
        c.envelope[0].max_power_w == 0 or c.envelope[0].max_power_w >= FLOOR_W
        for c in commands
    )
    sent = len(commands)
    for _ in range(119):  # the rest of the hour, one cycle per 30 s
        report, commands, cancels = world.step()
        sent += len(commands) + len(cancels)
        assert world.load() <= 32_000 + 1e-6
    assert sent <= 2 * 6  # one envelope to the event's end, renewed at most once
    # After the event the rated 36 kW binds: 4 kW of the 8 kW come back, staggered.
    released = []
    for _ in range(10):
        report, _, cancels = world.step()
        released.append(len(cancels))
        assert world.load() <= 36_000 + 1e-6
    assert sum(released) >= 2
    # The other load falls: everyone is released in the end.
    for _ in range(20):
        world.step(other_load_w=4_000.0)
        assert world.load(other_load_w=4_000.0) <= 36_000 + 1e-6
    assert all(
        current_cap_w(world.fleet.homes[h], world.now) is None for h in world.ids
    )


def test_opted_out_offline_and_paused_homes_are_left_alone() -> None:
    world = World()
    out, paused, silent = world.ids[0], world.ids[1], world.ids[2]
    world.fleet.apply_preferences(
        Preferences(home_id=out, ts=T0, participation=Participation.OFF)
    )
    world.fleet.apply_preferences(
        Preferences(
            home_id=paused,
            ts=T0,
            participation=Participation.PAUSED,
            paused_until=T0 + timedelta(hours=5),
        )
    )
    world.fleet.homes[silent].online = False
    world.control.put_in_force(
        CapacityEnvelope.emergency_stop("stop", world.now, timedelta(minutes=30))
    )
    report, commands, _ = world.step()
    assert {c.home_id for c in commands}.isdisjoint({out, paused, silent})
    assert len(commands) == HOMES - 3
    assert all(c.reason.value == "emergency" for c in commands)
    assert all(c.envelope[0].max_power_w == 0 for c in commands)  # gas-only everywhere
    assert report.shortfall_w > 0  # the cap of 0 cannot be met


def test_measured_load_drives_the_loop() -> None:
    world = World()
    world.control.put_in_force(
        CapacityEnvelope.day_ahead("da-1", world.now, [45_000.0] * 4)
    )
    world.control.record_measurement(
        world.now, 50_000.0
    )  # 20 kW more than the forecast said
    report, commands, _ = world.step()
    assert report.measured_load_w == 50_000.0
    assert report.other_load_w == pytest.approx(20_000.0)
    assert report.required_reduction_w == pytest.approx(5_000.0 + 0.03 * 45_000)
    assert commands
    for bad in (float("nan"), float("inf"), -1.0):
        with pytest.raises(ValueError, match=">= 0 W"):
            world.control.record_measurement(world.now, bad)


def test_acks_and_unknown_homes() -> None:
    world = World()
    world.control.put_in_force(
        CapacityEnvelope.day_ahead("da-1", world.now, [32_000.0] * 4)
    )
    _, commands, _ = world.step()
    first = commands[0]
    assert world.fleet.apply_ack(
        Ack(
            home_id=first.home_id,
            command_id=first.command_id,
            ts=world.now,
            result=AckResult.ACCEPTED,
            reason_code=AckReason.OK,
        )
    )
    assert world.fleet.homes[first.home_id].command_result is AckResult.ACCEPTED
    assert not world.fleet.apply_ack(
        Ack(
            home_id="h-nobody",
            command_id="x",
            ts=world.now,
            result=AckResult.ACCEPTED,
            reason_code=AckReason.OK,
        )
    )
    assert not world.fleet.apply_status(Status(home_id="h-nobody", ts=T0, online=True))


def test_release_fits_the_headroom() -> None:
    """Ten gas-only homes want out; 4 kW of headroom lets two go this cycle."""
    world = World()
    homes = world.fleet.of("tr-1")[:10]
    for view in homes:
        world.control.sent(
            Command(
                home_id=view.home_id,
                command_id=f"c-{view.home_id}",
                issued_at=T0,
                expires_at=T0 + timedelta(hours=2),
                reason=CommandReason.CONGESTION,
                envelope=(PowerInterval(start=T0, duration_s=3600, max_power_w=0.0),),
            )
        )
    allocation = allocate(
        world.fleet.flex_model(homes, world.now),
        FlexContext(cap_w=1e9, other_load_w=0.0),
    )
    plan = plan_dispatch(
        homes,
        allocation,
        now=world.now,
        cap=None,
        cap_w=24_000.0,
        forecast_load_w=20_000.0,
        settings=DispatchSettings(),
    )
    assert len(plan.cancels) == 2
    assert len(plan.held_for_rebound) == 8
    assert plan.commands == ()


def test_a_home_near_its_maximum_is_handed_over_and_then_rests() -> None:
    """Replaced before the home's own guard lifts its limit at once, then left alone."""
    world = World()
    for home in world.ids:
        world.fleet.apply_preferences(
            Preferences(home_id=home, ts=T0, max_curtailment_minutes=30)
        )
    world.control.rated_capacity_kw = 60.0
    world.control.put_in_force(
        CapacityEnvelope.day_ahead("da-1", world.now, [34_000.0] * 8)
    )
    _, commands, _ = world.step()
    first = {c.home_id for c in commands}
    assert first
    # 27 minutes on, the first homes still limited are three minutes from
    # their maximum (others may have been let go when the load fell).
    for _ in range(54):
        world.step()
    first = {h for h in first if world.fleet.homes[h].curtailed_since is not None}
    assert first
    view = world.fleet.homes[min(first)]
    assert view.availability(world.now) is Availability.MAX_DURATION_REACHED
    assert all(
        current_cap_w(world.fleet.homes[h], world.now) is not None for h in first
    ), "still limited while their replacements take over"
    for _ in range(6):  # three minutes: released, staggered, before 30 minutes
        world.step()
        assert world.load() <= 34_000 + 1e-6
    assert all(current_cap_w(world.fleet.homes[h], world.now) is None for h in first)
    # Resting: not curtailed again for half an hour, though the event goes on.
    for _ in range(50):
        _, commands, _ = world.step()
        assert first.isdisjoint(c.home_id for c in commands)
    assert view.resting_until is not None
    while world.now < view.resting_until:
        world.step()
    assert view.availability(world.now) is not Availability.MAX_DURATION_REACHED


def test_stale_telemetry_does_not_make_the_loop_swing() -> None:
    """Homes report once a minute, the meter each minute: the loop must not oscillate.

    Counting the heat pumps' power from before the last commands as if it
    were still drawn made the loop see load that had gone, release, see it
    come back, curtail: a two-minute swing that grew to 30 kW in the demo.
    """
    world = World()
    world.control.rated_capacity_kw = 36.0
    world.control.put_in_force(
        CapacityEnvelope.day_ahead("da-1", world.now, [28_000.0] * 8)
    )
    world.control.record_measurement(world.now, world.load())
    loads = []
    for step in range(120):  # an hour: telemetry and meter once a minute each
        if step % 2 == 0:
            world.report_all()  # from before this cycle's commands
        else:
            world.control.record_measurement(world.now, world.load())
        _, plan = world.control.cycle(world.now)
        for message in (*plan.commands, *plan.cancels):
            world.control.sent(message)
        world.now += timedelta(seconds=30)
        loads.append(world.load())
    settled = loads[10:]
    assert max(settled) <= 28_000 + 1e-6
    swings = [abs(b - a) for a, b in pairwise(settled)]
    assert max(swings) <= 3 * POWER_W  # a few homes moving, not the street


def test_expected_power_follows_commands_sent_after_the_telemetry() -> None:
    world = World()
    view = world.fleet.homes[world.ids[0]]
    view.baseline_w = 1600.0
    sent_at = world.now + timedelta(seconds=5)
    command = Command(
        home_id=view.home_id,
        command_id="c-1",
        issued_at=sent_at,
        expires_at=sent_at + timedelta(hours=1),
        reason=CommandReason.CONGESTION,
        envelope=(PowerInterval(start=sent_at, duration_s=3600, max_power_w=800),),
    )
    world.control.sent(command)
    # Not yet followed: the home still draws what it reported.
    assert view.expected_power_w(sent_at + timedelta(seconds=5)) == POWER_W
    later = sent_at + timedelta(seconds=30)
    assert view.expected_power_w(later) == 800
    view.command_result = AckResult.REJECTED
    assert view.expected_power_w(later) == POWER_W
    view.command_result = AckResult.ACCEPTED
    # Below the safety floor a gas-only device draws nothing.
    assert view.followed_limit_w(300) == 0.0
    assert view.device is not None
    view.device = replace(view.device, supports_gas_only=False)
    assert view.followed_limit_w(300) == FLOOR_W
    # Cancelled: back to what the house asks for, its baseline.
    world.control.sent(Cancel(home_id=view.home_id, command_id="c-1", issued_at=later))
    assert view.expected_power_w(later + timedelta(seconds=30)) == 1600.0
    # Fresh telemetry after the change is the truth again.
    world.now = later + timedelta(seconds=40)
    world.report_all()
    assert view.expected_power_w(world.now) == POWER_W
