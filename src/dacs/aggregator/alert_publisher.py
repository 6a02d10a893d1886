"""Alerts out: stored in the ledger, logged, posted to the webhook.

Two sources: each cycle's ``AlertMonitor`` (what a cycle sees at a point),
and the quarantines (a quarantined point has no cycle, so its alert, and a
home's, is raised and cleared from the changes the quarantines report).
"""

from __future__ import annotations

from datetime import datetime
import logging

from .alert_webhook import AlertWebhook
from .control.alerts import Alert, AlertKind, AlertMonitor
from .control.fleet import Fleet
from .control.loop import CycleReport
from .control.quarantine import PointQuarantine
from .ingest.home_quarantine import HomeQuarantine
from .storage.alerts import AlertLedger

_LOGGER = logging.getLogger(__name__)


class AlertPublisher:
    """Turns what the monitors and the quarantines find into stored, posted alerts."""

    def __init__(
        self, ledger: AlertLedger, webhook: AlertWebhook, fleet: Fleet
    ) -> None:
        """Store through ``ledger``, post through ``webhook``; homes' points from ``fleet``."""
        self._ledger = ledger
        self._webhook = webhook
        self._fleet = fleet
        self._home_alerts: dict[str, Alert] = {}
        self._point_alerts: dict[str, Alert] = {}
        self.monitors: dict[str, AlertMonitor] = {}

    def in_force(self) -> list[Alert]:
        """Every alert not cleared: the monitors' and the quarantines'."""
        return [
            *(a for monitor in self.monitors.values() for a in monitor.active.values()),
            *self._point_alerts.values(),
            *self._home_alerts.values(),
        ]

    async def after_cycle(
        self, point_id: str, report: CycleReport, now: datetime
    ) -> None:
        """What one point's cycle raised and cleared."""
        monitor = self.monitors.get(point_id)
        if monitor is None:
            return
        raised, cleared = monitor.evaluate(self._fleet, report, now)
        if not raised and not cleared:
            return
        await self._ledger.record(point_id, raised=raised, cleared=cleared, now=now)
        for alert in raised:
            self._log(alert)
        self._webhook.notify(raised)

    async def quarantines(
        self, points: PointQuarantine, homes: HomeQuarantine, now: datetime
    ) -> None:
        """Store an alert for each new quarantine, clear it for each release."""
        homes.expire()
        for entry, entered in points.take_changes():
            alert = Alert(
                kind=AlertKind.POINT_QUARANTINED,
                congestion_point_id=entry.point_id,
                home_id=None,
                message=(
                    f"control skipped: its cycle raised {entry.reason}; fix the"
                    " registration or lift the quarantine"
                ),
                raised_at=entry.since,
            )
            if entered:
                self._point_alerts[entry.point_id] = alert
            else:
                self._point_alerts.pop(entry.point_id, None)
            await self._record(alert, entered=entered, now=now)
        for home_id, entered in homes.take_changes():
            if entered:
                view = self._fleet.homes.get(home_id)
                alert = Alert(
                    kind=AlertKind.HOME_QUARANTINED,
                    congestion_point_id=view.congestion_point_id if view else "",
                    home_id=home_id,
                    message=(
                        f"{homes.settings.refusals} refused messages within"
                        f" {homes.settings.window_s:.0f} s: not heard for"
                        f" {homes.settings.release_s:.0f} s"
                    ),
                    raised_at=now,
                )
                self._home_alerts[home_id] = alert
                await self._record(alert, entered=True, now=now)
            elif (released := self._home_alerts.pop(home_id, None)) is not None:
                await self._record(released, entered=False, now=now)

    async def _record(self, alert: Alert, *, entered: bool, now: datetime) -> None:
        raised, cleared = ([alert], []) if entered else ([], [alert])
        await self._ledger.record(
            alert.congestion_point_id, raised=raised, cleared=cleared, now=now
        )
        if entered:
            self._log(alert)
            self._webhook.notify(raised)

    @staticmethod
    def _log(alert: Alert) -> None:
        _LOGGER.warning(
            "alert %s at %s: %s",
            alert.kind.value,
            alert.home_id or alert.congestion_point_id,
            alert.message,
        )
