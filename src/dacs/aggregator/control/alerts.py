"""Anomaly alerts: what an operator should look at, raised and cleared every cycle."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from dacs.aggregator.domain.envelope import EnvelopeKind
from dacs.protocol import AckResult
from dacs.protocol.rules import follows_limit

from .dispatch import current_cap_w
from .fleet import Fleet
from .loop import CycleReport


class AlertKind(StrEnum):
    """The anomalies the aggregator watches for."""

    NOT_FOLLOWING_LIMIT = "not_following_limit"
    OFFLINE_DURING_EVENT = "offline_during_event"
    IMPLAUSIBLE_TELEMETRY = "implausible_telemetry"
    REPEATED_COMFORT_OVERRIDE = "repeated_comfort_override"
    SHORTFALL = "shortfall"
    # Raised and cleared by the quarantines (quarantine_alerts.py), not per cycle.
    POINT_QUARANTINED = "point_quarantined"
    HOME_QUARANTINED = "home_quarantined"


@dataclass(frozen=True, kw_only=True)
class Alert:
    """One anomaly, about a home or about a congestion point."""

    kind: AlertKind
    congestion_point_id: str
    home_id: str | None
    message: str
    raised_at: datetime

    @property
    def key(self) -> tuple[AlertKind, str]:
        """What makes two alerts the same alert."""
        return self.kind, self.home_id or self.congestion_point_id


@dataclass
class AlertMonitor:
    """Keeps the alerts in force for one congestion point."""

    congestion_point_id: str
    follow_minutes: float = 5.0
    comfort_overrides_per_day: int = 3
    active: dict[tuple[AlertKind, str], Alert] = field(default_factory=dict)
    _above_since: dict[str, datetime] = field(default_factory=dict)
    _overrides: dict[str, deque[datetime]] = field(default_factory=dict)
    _was_overridden: dict[str, bool] = field(default_factory=dict)

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

    def _count_override(self, home_id: str, overridden: bool, now: datetime) -> None:
        started = overridden and not self._was_overridden.get(home_id, False)
        self._was_overridden[home_id] = overridden
        times = self._overrides.setdefault(home_id, deque())
        if started:
            times.append(now)
        while times and now - times[0] > timedelta(hours=24):
            times.popleft()
