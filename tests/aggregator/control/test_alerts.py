"""Anomaly alerts on the synthetic street: raised, kept, cleared."""

from __future__ import annotations

from datetime import timedelta

from dacs.aggregator.control.alerts import Alert, AlertKind, AlertMonitor
from dacs.aggregator.domain.envelope import CapacityEnvelope
from dacs.protocol import (
    Ack,
    AckReason,
    AckResult,
    LimitSource,
    Participation,
    Telemetry,
)

from .test_loop import World


def _report(world: World) -> object:
    report, plan = world.control.cycle(world.now, other_load_at=lambda _: 10_000.0)
    for message in (*plan.commands, *plan.cancels):
        world.control.sent(message)
    return report


def _telemetry(
    world: World,
    home: str,
    *,
    power: float,
    indoor: float = 20.0,
    override: bool = False,
) -> None:
    world.fleet.apply_telemetry(
        Telemetry(
            home_id=home,
            seq=world.seq,
            boot_id="b",
            ts=world.now,
            electric_power_w=power,
            thermal_power_w=None,
            boiler_active=None,
            boiler_thermal_w=None,
            indoor_temp_c=indoor,
            outdoor_temp_c=0.0,
            flow_temp_c=None,
            electric_energy_kwh=None,
            limit_w=None,
            limit_source=LimitSource.AGGREGATOR,
            command_id=None,
            participation=Participation.ON,
            comfort_override=override,
            device_fault=None,
        ),
        world.now,
    )
    world.seq += 1


def _draw_until_alert(
    world: World, monitor: AlertMonitor, home: str, *, power: float
) -> list[Alert]:
    """Report ``power`` every 30 s for up to six and a half minutes, until alerted."""
    raised: list[Alert] = []
    for _ in range(13):
        world.now += timedelta(seconds=30)
        world.report_all()
        _telemetry(world, home, power=power)
        raised, _ = monitor.evaluate(world.fleet, _report(world), world.now)  # type: ignore[arg-type]
        if raised:
            break
    return raised


def _street_with_a_commanded_home() -> tuple[World, AlertMonitor, str, object]:
    """A street under a day-ahead cap after one cycle, and a home it commanded."""
    world = World()
    monitor = AlertMonitor("tr-1", follow_minutes=5)
    world.control.put_in_force(
        CapacityEnvelope.day_ahead("da-1", world.now, [32_000.0] * 8)
    )
    report = _report(world)
    commanded = next(h for h, v in world.fleet.homes.items() if v.command is not None)
    return world, monitor, commanded, report


def test_not_following_offline_implausible_and_cleared() -> None:
    world, monitor, commanded, report = _street_with_a_commanded_home()
    raised, _ = monitor.evaluate(world.fleet, report, world.now)  # type: ignore[arg-type]
    assert raised == []
    # The home keeps drawing 1500 W against its limit for six minutes.
    raised = _draw_until_alert(world, monitor, commanded, power=1500.0)
    assert [a.kind for a in raised] == [AlertKind.NOT_FOLLOWING_LIMIT]
    assert raised[0].home_id == commanded
    # Its comfort guard releases the limit: it follows its resident now.
    _telemetry(world, commanded, power=1500.0, override=True)
    _, cleared = monitor.evaluate(world.fleet, _report(world), world.now)  # type: ignore[arg-type]
    assert [a.kind for a in cleared] == [AlertKind.NOT_FOLLOWING_LIMIT]
    # Back under the aggregator's limit, still above it: the clock starts again.
    raised = _draw_until_alert(world, monitor, commanded, power=1500.0)
    assert [a.kind for a in raised] == [AlertKind.NOT_FOLLOWING_LIMIT]
    # Another home goes silent during the event; a third sends nonsense.
    silent, odd = [h for h in world.ids if h != commanded][:2]
    world.fleet.homes[silent].online = False
    _telemetry(world, odd, power=1200.0, indoor=60.0)
    raised, cleared = monitor.evaluate(world.fleet, _report(world), world.now)  # type: ignore[arg-type]
    assert {(a.kind, a.home_id) for a in raised} == {
        (AlertKind.OFFLINE_DURING_EVENT, silent),
        (AlertKind.IMPLAUSIBLE_TELEMETRY, odd),
    }
    assert cleared == []
    # The home follows its limit again: that alert clears, the others stay.
    _telemetry(world, commanded, power=0.0)
    _, cleared = monitor.evaluate(world.fleet, _report(world), world.now)  # type: ignore[arg-type]
    assert [a.kind for a in cleared] == [AlertKind.NOT_FOLLOWING_LIMIT]
    assert {a.kind for a in monitor.active.values()} == {
        AlertKind.OFFLINE_DURING_EVENT,
        AlertKind.IMPLAUSIBLE_TELEMETRY,
    }


def test_repeated_comfort_overrides() -> None:
    world = World()
    monitor = AlertMonitor("tr-1", comfort_overrides_per_day=3)
    home = world.ids[4]
    raised = []
    for _ in range(3):
        _telemetry(world, home, power=1000.0, override=True)
        raised, _ = monitor.evaluate(world.fleet, _report(world), world.now)  # type: ignore[arg-type]
        world.now += timedelta(minutes=30)
        _telemetry(world, home, power=1000.0, override=False)
        monitor.evaluate(world.fleet, _report(world), world.now)  # type: ignore[arg-type]
        world.now += timedelta(minutes=30)
    assert (AlertKind.REPEATED_COMFORT_OVERRIDE, home) in {
        (a.kind, a.home_id) for a in raised
    }


def test_no_follow_alert_for_a_rejected_command() -> None:
    world, monitor, commanded, report = _street_with_a_commanded_home()
    monitor.evaluate(world.fleet, report, world.now)  # type: ignore[arg-type]
    command = world.fleet.homes[commanded].command
    assert command is not None
    # The home refused the command (opted out a moment before, say): it has no
    # limit to follow, so drawing its full power is no anomaly.
    world.fleet.apply_ack(
        Ack(
            home_id=commanded,
            command_id=command.command_id,
            ts=world.now,
            result=AckResult.REJECTED,
            reason_code=AckReason.OPTED_OUT,
        )
    )
    raised = _draw_until_alert(world, monitor, commanded, power=1500.0)
    assert AlertKind.NOT_FOLLOWING_LIMIT not in {a.kind for a in raised}
