"""What the VEN reports to the VTN, sent only when the NL-flex profile accepts it.

ACK once a FLEX event is applied, DELIVERED_FLEX once its intervals have
passed and settlement has every quarter hour, a flex delta for each baseline
event, and the resources' operational status when it changes. Each report
is sent once: the ledger keeps when it was. A report the profile rejects is
withheld, counted and logged, never sent half-right.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
import logging
from typing import Any

from openadr3_client._models.common.interval import Interval
from openadr3_client._models.common.interval_period import IntervalPeriod
from openadr3_client.oadr310.models.event.event_payload import (
    EventPayload,
    EventPayloadType,
)
from openadr3_client.oadr310.models.report.report import NewReport

from dacs.aggregator.domain.delivery import DeliveredFlexSource
from dacs.aggregator.grid_port import GridPort
from dacs.aggregator.storage.tables import OpenAdrEventRow, OpenAdrResourceRow

from . import nlflex_profile, reports
from .client import REPORT_UPLOAD, VtnClient
from .errors import VtnCapabilityError
from .ledger import APPLIED, NOTED, OpenAdrLedger
from .monitoring import OnceWarnings, OpenAdrCounters, VtnStatus
from .plans import DispatchInterval, SignalKind
from .programs import EventRef
from .reports import OperationalStatus, RegistrationStatus

_LOGGER = logging.getLogger(__name__)


class ReportSender:
    """Builds the VEN's reports from the ledger and the grid port, and sends them."""

    def __init__(
        self,
        client: VtnClient,
        ledger: OpenAdrLedger,
        port: GridPort,
        *,
        client_name: str,
        delivered_flex: DeliveredFlexSource,
        counters: OpenAdrCounters,
        warnings: OnceWarnings,
        status: VtnStatus,
    ) -> None:
        """``client_name`` is the service provider's EAN13, as every report names it."""
        self._status = status
        self._client = client
        self._ledger = ledger
        self._port = port
        self._client_name = client_name
        self._delivered_flex = delivered_flex
        self._counters = counters
        self._warnings = warnings

    async def send(
        self,
        report: NewReport,
        problems: Sequence[str] | None = None,
        *,
        program_id: str,
    ) -> bool:
        """Send a report the profile accepts; withhold (and log) one it rejects.

        ``program_id`` is the program of the report's event.
        """
        problems = nlflex_profile.violations(report) if problems is None else problems
        if problems:
            self._counters.reports_withheld += 1
            _LOGGER.error(
                "not sending %s report for event %s: the NL-flex profile rejects it: %s",
                report.report_name,
                report.event_id,
                "; ".join(problems),
            )
            return False
        if not self._status.offers(REPORT_UPLOAD):
            return False  # kept unsent in the ledger: a later VEN may send it
        try:
            await self._client.send_report(report, program_id=program_id)
        except VtnCapabilityError as err:
            self._status.without(_LOGGER, err.capability, str(err))
            return False
        self._counters.reports_sent += 1
        return True

    async def report_events(
        self, program_id: str, resources: dict[str, OpenAdrResourceRow], now: datetime
    ) -> None:
        """ACK and DELIVERED_FLEX for FLEX events, a flex delta for baseline events."""
        for row in await self._ledger.versions(program_id):
            if row.cancelled_at is not None:
                continue
            if row.kind == SignalKind.FLEX_DISPATCH and row.outcome == APPLIED:
                if row.acknowledged_at is None:
                    ack = reports.acknowledgement(
                        event_id=row.event_id, client_name=self._client_name
                    )
                    if await self.send(ack, program_id=program_id):
                        await self._ledger.update_version(row.id, acknowledged_at=now)
                if (
                    row.reported_at is None
                    and row.ends_at is not None
                    and row.ends_at <= now
                ):
                    await self._report_delivery(row, now)
            elif (
                row.kind == SignalKind.BASELINE
                and row.outcome == NOTED
                and row.reported_at is None
            ):
                await self._report_flex_delta(row, resources, now)

    async def _report_delivery(self, row: OpenAdrEventRow, now: datetime) -> None:
        intervals = reports.intervals_from_records(row.intervals)
        if not intervals or row.congestion_point_id is None:
            return
        start = min(i.start for i in intervals)
        end = max(i.end for i in intervals)
        deliveries = await self._delivered_flex(row.congestion_point_id, start, end)
        report = reports.delivered_flex(
            event_id=row.event_id,
            client_name=self._client_name,
            intervals=intervals,
            deliveries=deliveries,
        )
        if report is None:
            self._warnings.warn(
                _LOGGER,
                f"delivery:{row.id}",
                "DELIVERED_FLEX for event %s waits: settlement has not every quarter hour",
                row.event_id,
            )
            return
        problems = nlflex_profile.delivery_report_violations(
            report, _flex_event_intervals(intervals)
        )
        if await self.send(report, problems, program_id=row.program_id):
            await self._ledger.update_version(row.id, reported_at=now)

    async def _report_flex_delta(
        self,
        row: OpenAdrEventRow,
        resources: dict[str, OpenAdrResourceRow],
        now: datetime,
    ) -> None:
        enrolled = {
            r.home_id
            for r in resources.values()
            if r.registration_status == RegistrationStatus.ENROLLED.value
        }
        homes = [
            h
            for h in self._port.homes()
            if h.home_id in enrolled
            and h.congestion_point_id == row.congestion_point_id
        ]
        offer = reports.offered_flex_kw(self._port.flex_model(homes, now))
        report = reports.flex_delta(
            event_id=row.event_id,
            client_name=self._client_name,
            active_kw=offer,
            reserved_kw=0.0,
        )
        if await self.send(report, program_id=row.program_id):
            await self._ledger.update_version(row.id, reported_at=now)

    async def report_operational_status(
        self,
        anchor: EventRef,
        resources: dict[str, OpenAdrResourceRow],
        now: datetime,
    ) -> None:
        """Report the enrolled homes whose operational status changed (citing ``anchor``)."""
        changed: dict[str, OperationalStatus] = {}
        for row in resources.values():
            if row.registration_status != RegistrationStatus.ENROLLED.value:
                continue
            view = self._port.home(row.home_id)
            if view is None or view.device is None:
                status = OperationalStatus.PENDING
            elif view.reachable(now):
                status = OperationalStatus.NORMAL
            else:
                status = OperationalStatus.ERROR
            # The grid operator takes NORMAL for a resource it heard nothing about.
            previous = row.operational_status or OperationalStatus.NORMAL.value
            if status.value != previous:
                changed[row.home_id] = status
        if not changed:
            return
        report = reports.operational_status(
            anchor_event_id=anchor.event_id,
            client_name=self._client_name,
            statuses=changed,
        )
        if await self.send(report, program_id=anchor.program_id):
            for home_id, status in changed.items():
                await self._ledger.update_resource(
                    home_id, operational_status=status.value
                )
                resources[home_id].operational_status = status.value


def _flex_event_intervals(intervals: Sequence[DispatchInterval]) -> list[Interval[Any]]:
    """A FLEX event's intervals again, to check a DELIVERED_FLEX report against."""
    return [
        Interval(
            id=i.interval_id,
            interval_period=IntervalPeriod(start=i.start, duration=i.duration),
            payloads=(
                EventPayload(type=EventPayloadType("FLEX"), values=(i.flex_kw,)),
            ),
        )
        for i in intervals
    ]
