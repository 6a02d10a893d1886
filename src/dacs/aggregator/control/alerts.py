"""Anomaly alerts: what an operator should look at, raised and cleared every cycle."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

import numpy as np
from numpy.typing import NDArray

from dacs.aggregator.domain.envelope import EnvelopeKind
from dacs.protocol import AckResult
from dacs.protocol.rules import FOLLOW_TOLERANCE_SHARE, FOLLOW_TOLERANCE_W

from .fleet import Fleet, HomeView
from .loop import CycleReport

_NAN = float("nan")


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
        views = fleet.of(self.congestion_point_id)
        checks = _HomeChecks.of(views, now)
        above = checks.above_limit()
        since_now = set()
        # Flagged below in the homes' order, as the per-home checks did.
        not_following: dict[int, str] = {}
        for i in np.flatnonzero(above).tolist():
            home_id = views[i].home_id
            since_now.add(home_id)
            since = self._above_since.setdefault(home_id, now)
            if now - since >= timedelta(minutes=self.follow_minutes):
                not_following[i] = (
                    f"draws {checks.power[i]:.0f} W against a limit of "
                    f"{checks.cap[i]:.0f} W since {since:%H:%M}"
                )
        for home_id in [h for h in self._above_since if h not in since_now]:
            del self._above_since[home_id]
        offline = checks.offline(event_running)
        implausible = checks.implausible()
        # Only homes with an override now, just before or in the last day can
        # raise the override alert; the rest are skipped, not counted empty.
        overriding = set(np.flatnonzero(checks.overridden).tolist()) | {
            i
            for i, view in enumerate(views)
            if self._was_overridden.get(view.home_id)
            or self._overrides.get(view.home_id)
        }
        for i in sorted(
            set(np.flatnonzero(offline | implausible).tolist())
            | overriding
            | set(not_following)
        ):
            view = views[i]
            if i in not_following:
                flag(AlertKind.NOT_FOLLOWING_LIMIT, view.home_id, not_following[i])
            if offline[i]:
                flag(
                    AlertKind.OFFLINE_DURING_EVENT,
                    view.home_id,
                    "offline during a flexibility event",
                )
            if implausible[i]:
                telemetry = view.telemetry
                power = telemetry.electric_power_w if telemetry else None
                indoor = telemetry.indoor_temp_c if telemetry else None
                flag(
                    AlertKind.IMPLAUSIBLE_TELEMETRY,
                    view.home_id,
                    f"implausible telemetry: {power} W, indoor {indoor} °C",
                )
            if i in overriding:
                self._count_override(view.home_id, bool(checks.overridden[i]), now)
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


@dataclass(frozen=True, kw_only=True)
class _HomeChecks:
    """What the alert checks read of each home, as arrays (NaN: not known).

    One pass over the homes collects it; the checks themselves run over
    the arrays, and only the homes they flag are visited again.
    """

    cap: NDArray[np.float64]  # the limit the command in force sets now
    power: NDArray[np.float64]
    indoor: NDArray[np.float64]
    nominal: NDArray[np.float64]
    reachable: NDArray[np.bool_]
    has_device: NDArray[np.bool_]
    has_telemetry: NDArray[np.bool_]
    overridden: NDArray[np.bool_]  # the comfort guard released the limit
    refused: NDArray[np.bool_]  # the home refused its command

    @classmethod
    def of(cls, views: list[HomeView], now: datetime) -> _HomeChecks:
        """Collect the columns of these homes."""
        rows = [_check_row(view, now) for view in views]
        columns = list(zip(*rows, strict=True)) if rows else [()] * 9
        number = [np.array(columns[i], dtype=np.float64) for i in range(4)]
        flags = [np.array(columns[i], dtype=np.bool_) for i in range(4, 9)]
        return cls(
            cap=number[0],
            power=number[1],
            indoor=number[2],
            nominal=number[3],
            reachable=flags[0],
            has_device=flags[1],
            has_telemetry=flags[2],
            overridden=flags[3],
            refused=flags[4],
        )

    def above_limit(self) -> NDArray[np.bool_]:
        """Drawing more than the limit allows (``rules.follows_limit``), where it counts.

        A home whose comfort guard released the limit follows its resident,
        as it must; one that refused its command has no limit to follow.
        """
        tolerance = np.maximum(FOLLOW_TOLERANCE_W, FOLLOW_TOLERANCE_SHARE * self.cap)
        with np.errstate(invalid="ignore"):
            above = self.power > self.cap + tolerance  # NaN: no limit or no power
        result: NDArray[np.bool_] = (
            above & ~self.overridden & ~self.refused & self.reachable
        )
        return result

    def offline(self, event_running: bool) -> NDArray[np.bool_]:
        """A known device out of reach while an event runs."""
        result: NDArray[np.bool_] = self.has_device & ~self.reachable & event_running
        return result

    def implausible(self) -> NDArray[np.bool_]:
        """Power far over the nominal, or an indoor temperature no house has."""
        with np.errstate(invalid="ignore"):
            too_much = self.power > 1.5 * self.nominal + 500
            odd_indoor = ~np.isnan(self.indoor) & ~(
                (self.indoor >= 5.0) & (self.indoor <= 35.0)
            )
        result: NDArray[np.bool_] = (
            self.has_telemetry & self.has_device & (too_much | odd_indoor)
        )
        return result


def _check_row(view: HomeView, now: datetime) -> tuple[float | bool, ...]:
    telemetry = view.telemetry
    device = view.device
    # dispatch.current_cap_w without its envelope-end test: a limit_at that
    # finds an interval covering ``now`` before expiry is before that end.
    cap = view.command.limit_at(now) if view.command is not None else None
    power = telemetry.electric_power_w if telemetry is not None else None
    indoor = telemetry.indoor_temp_c if telemetry is not None else None
    return (
        _NAN if cap is None else cap,
        _NAN if power is None else power,
        _NAN if indoor is None else indoor,
        device.nominal_power_w if device is not None else 0.0,
        view.reachable(now),
        device is not None,
        telemetry is not None,
        telemetry is not None and telemetry.comfort_override,
        view.command_result is AckResult.REJECTED,
    )
