"""The column-wise alert pass raises and clears what the per-home pass it replaced did."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
import random

import pytest

from dacs.aggregator.control.alerts import Alert, AlertKind, AlertMonitor
from dacs.aggregator.control.dispatch import current_cap_w
from dacs.aggregator.control.fleet import Fleet
from dacs.aggregator.control.loop import CycleReport
from dacs.aggregator.domain.envelope import CapInForce, EnvelopeKind
from dacs.protocol import (
    AckResult,
    Command,
    CommandReason,
    DeviceSummary,
    LimitSource,
    PowerInterval,
    Telemetry,
)
from dacs.protocol.rules import follows_limit

START = datetime(2026, 1, 14, 16, 0, tzinfo=UTC)


class _PerHomeMonitor(AlertMonitor):
    """The alert pass before the columns, home by home (kept as the oracle)."""

    def evaluate(
        self, fleet: Fleet, report: CycleReport, now: datetime
    ) -> tuple[list[Alert], list[Alert]]:
        """Alerts raised and cleared by this cycle."""
        found: dict[tuple[AlertKind, str], Alert] = {}

        def flag(kind: AlertKind, home_id: str | None, message: str) -> None:
            alert = Alert(
                kind=kind,
                congestion_point_id=self.congestion_point_id,
                home_id=home_id,
                message=message,
                raised_at=now,
            )
            found[alert.key] = self.active.get(alert.key, alert)

        event_running = (
            report.cap is not None and report.cap.kind is not EnvelopeKind.FIXED
        )
        for view in fleet.of(self.congestion_point_id):
            telemetry = view.telemetry
            cap = current_cap_w(view, now)
            power = telemetry.electric_power_w if telemetry else None
            # A home whose comfort guard released the limit follows its
            # resident, as it must: that is counted as a comfort override.
            released = telemetry is not None and telemetry.comfort_override
            # A home that refused its command has no limit to follow.
            refused = view.command_result is AckResult.REJECTED
            if (
                cap is not None
                and power is not None
                and not released
                and not refused
                and view.reachable(now)
                and not follows_limit(power, cap)
            ):
                since = self._above_since.setdefault(view.home_id, now)
                if now - since >= timedelta(minutes=self.follow_minutes):
                    flag(
                        AlertKind.NOT_FOLLOWING_LIMIT,
                        view.home_id,
                        f"draws {power:.0f} W against a limit of {cap:.0f} W since {since:%H:%M}",
                    )
            else:
                self._above_since.pop(view.home_id, None)
            if event_running and view.device is not None and not view.reachable(now):
                flag(
                    AlertKind.OFFLINE_DURING_EVENT,
                    view.home_id,
                    "offline during a flexibility event",
                )
            if telemetry is not None and view.device is not None:
                nominal = view.device.nominal_power_w
                indoor = telemetry.indoor_temp_c
                if (power is not None and power > 1.5 * nominal + 500) or (
                    indoor is not None and not 5.0 <= indoor <= 35.0
                ):
                    flag(
                        AlertKind.IMPLAUSIBLE_TELEMETRY,
                        view.home_id,
                        f"implausible telemetry: {power} W, indoor {indoor} °C",
                    )
            self._count_override(
                view.home_id, bool(telemetry and telemetry.comfort_override), now
            )
            recent = self._overrides.get(view.home_id)
            if recent is not None and len(recent) >= self.comfort_overrides_per_day:
                flag(
                    AlertKind.REPEATED_COMFORT_OVERRIDE,
                    view.home_id,
                    f"{len(recent)} comfort overrides in 24 hours: check the comfort floor or the heating",
                )
        if report.shortfall_w > 0:
            flag(
                AlertKind.SHORTFALL,
                None,
                f"{report.shortfall_w / 1000:.1f} kW short of the cap",
            )
        raised = [a for k, a in found.items() if k not in self.active]
        cleared = [a for k, a in self.active.items() if k not in found]
        self.active = found
        return raised, cleared


def _report(now: datetime, *, event: bool, shortfall_w: float) -> CycleReport:
    return CycleReport(
        time=now,
        congestion_point_id="cp",
        cap=CapInForce(
            cap_w=1e5, kind=EnvelopeKind.EMERGENCY if event else EnvelopeKind.FIXED
        ),
        cap_w=1e5,
        measured_load_w=None,
        heat_pump_load_w=0.0,
        other_load_w=0.0,
        forecast_load_w=0.0,
        required_reduction_w=0.0,
        shortfall_w=shortfall_w,
        curtailed_homes=0,
        commands=0,
        cancels=0,
        held_for_rebound=0,
    )


def _step(rng: random.Random, fleet: Fleet, now: datetime) -> None:
    """Move every home a little: new telemetry, commands, answers, silence."""
    for view in fleet.homes.values():
        if view.device is None and rng.random() < 0.5:
            view.device = DeviceSummary(
                profile="p",
                manufacturer="m",
                model="x",
                nominal_power_w=rng.choice([1500.0, 3000.0]),
                safety_floor_w=300.0,
                limit_step_w=100.0,
                supports_gas_only=True,
                native_watchdog=True,
            )
        view.online = rng.random() < 0.9
        if rng.random() < 0.8:
            view.last_seen = now
            view.telemetry = Telemetry(
                home_id=view.home_id,
                seq=1,
                boot_id="b",
                ts=now,
                electric_power_w=rng.choice([None, rng.uniform(0, 6000)]),
                indoor_temp_c=rng.choice([None, 20.0, 3.0, 40.0]),
                limit_source=LimitSource.AGGREGATOR,
                comfort_override=rng.random() < 0.3,
            )
        if rng.random() < 0.3:
            view.command = Command(
                home_id=view.home_id,
                command_id=f"c-{now:%H%M}-{view.home_id}",
                issued_at=now,
                expires_at=now + timedelta(minutes=rng.choice([1, 30])),
                reason=CommandReason.CONGESTION,
                envelope=(
                    PowerInterval(
                        start=now, duration_s=600, max_power_w=rng.uniform(0, 2000)
                    ),
                ),
            )
        view.command_result = rng.choice([None, AckResult.ACCEPTED, AckResult.REJECTED])


def _seen(alerts: list[Alert]) -> list[tuple[AlertKind, str | None, str, datetime]]:
    return [(a.kind, a.home_id, a.message, a.raised_at) for a in alerts]


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_the_columns_raise_and_clear_what_the_per_home_pass_did(seed: int) -> None:
    rng = random.Random(seed)
    fleet = Fleet()
    for i in range(300):
        fleet.add(f"h-{i:04d}", "cp")
    fleet.add("elsewhere", "cp-2")
    columns = AlertMonitor("cp", follow_minutes=2, comfort_overrides_per_day=2)
    per_home = _PerHomeMonitor("cp", follow_minutes=2, comfort_overrides_per_day=2)
    raised_kinds = set()
    for minute in range(40):
        now = START + timedelta(minutes=minute)
        _step(rng, fleet, now)
        report = _report(now, event=minute % 7 < 5, shortfall_w=(minute % 5) * 1000.0)
        expected = per_home.evaluate(fleet, report, now)
        actual = columns.evaluate(fleet, report, now)
        assert _seen(actual[0]) == _seen(expected[0]), f"raised at minute {minute}"
        assert _seen(actual[1]) == _seen(expected[1]), f"cleared at minute {minute}"
        assert list(columns.active) == list(per_home.active)
        raised_kinds |= {a.kind for a in expected[0]}
    # The draw reaches every per-cycle kind.
    assert raised_kinds >= {
        AlertKind.NOT_FOLLOWING_LIMIT,
        AlertKind.OFFLINE_DURING_EVENT,
        AlertKind.IMPLAUSIBLE_TELEMETRY,
        AlertKind.REPEATED_COMFORT_OVERRIDE,
        AlertKind.SHORTFALL,
    }
