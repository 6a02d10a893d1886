"""The OpenADR 3 VEN of the aggregator: poll the VTN, apply its events, report back.

One poll (every ``poll_interval_s``, default 60 s):

1. make sure the VEN object exists (its name is the service provider's EAN13);
2. read the configured programs and all their events; programs and events
   the profile rejects are refused with a logged, counted, stored reason;
3. register new homes as resources, ask the resource group of their
   congestion point to take them, and store the REGISTRATION_STATUS the grid
   operator returns (only ENROLLED homes are offered);
4. put new event versions in force (``GridPort.put_in_force``) exactly once,
   and cancel those the VTN no longer lists (deleted or replaced);
5. report: ACK for FLEX events, a flex delta for each baseline event,
   DELIVERED_FLEX once a FLEX event's intervals have passed, and changes of
   the resources' operational status.

A failed poll (VTN down, 5xx, bad JSON, no token) changes nothing and is
retried at the next poll: every step is idempotent and keyed in the database.
When the VTN offers an MQTT notifier (OpenADR 3.1) and ``mqtt_notifier`` is
on, a message on a program's event topic makes the VEN poll at once
(``notifier.py``); the timer keeps polling as the safety net.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
import contextlib
from dataclasses import dataclass
from datetime import datetime, timedelta
import logging

from openadr3_client._models.common.interval import Interval
from openadr3_client._models.common.interval_period import IntervalPeriod
from openadr3_client.oadr310.models.event.event import ExistingEvent
from openadr3_client.oadr310.models.event.event_payload import (
    EventPayload,
    EventPayloadType,
)
from openadr3_client.oadr310.models.report.report import NewReport
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from dacs.aggregator.domain.delivery import DeliveredFlexSource
from dacs.aggregator.grid_port import GridPort
from dacs.aggregator.storage.tables import OpenAdrEventRow, OpenAdrResourceRow

from . import nlflex_profile, notifier, reports
from .client import RawEvent, VtnClient
from .config import OpenAdrConfig
from .errors import NotifierError, VtnError
from .identifiers import is_ean18
from .ledger import OpenAdrLedger
from .nlflex_signals import current_baselines, group_view
from .plans import (
    Baseline,
    CapPlan,
    ProgramContext,
    Refusal,
    ResourceGroupView,
    SignalKind,
    signal_kind,
)
from .reports import OperationalStatus, RegistrationStatus
from .signals import plan_event

_LOGGER = logging.getLogger(__name__)

APPLIED = "applied"
REFUSED = "refused"
EXPIRED = "expired"
NOTED = "noted"  # understood, nothing to put in force (baseline, anchor, override)


@dataclass
class OpenAdrCounters:
    """Numbers for monitoring."""

    polls: int = 0
    failed_polls: int = 0
    events_applied: int = 0
    events_refused: int = 0
    events_expired: int = 0
    events_cancelled: int = 0
    programs_refused: int = 0
    reports_sent: int = 0
    reports_withheld: int = 0  # built, but the profile rejected them: not sent
    resources_created: int = 0
    notifications: int = 0  # MQTT notifier messages received (each wakes a poll)
    notifier_errors: int = 0  # notifier unusable, connection refused or lost


class OpenAdrVen:
    """Polls the grid operator's VTN and turns its events into caps."""

    def __init__(
        self,
        config: OpenAdrConfig,
        port: GridPort,
        *,
        sessions: async_sessionmaker[AsyncSession],
        delivered_flex: DeliveredFlexSource,
        client: VtnClient | None = None,
    ) -> None:
        """Check the settings; ``start()`` begins polling."""
        config.check()
        self.config = config
        self._port = port
        self._delivered_flex = delivered_flex
        self._client = client or VtnClient(config, client_secret=config.secret())
        self._ledger = OpenAdrLedger(sessions)
        self._map = config.congestion_point_map
        self.counters = OpenAdrCounters()
        self.last_error: str | None = None
        self.last_success: datetime | None = None
        self._ven_id: str | None = None
        self._task: asyncio.Task[None] | None = None
        self._notifier_tasks: list[asyncio.Task[None]] = []
        self._wake = asyncio.Event()
        self._polling = asyncio.Lock()
        self._told: set[str] = set()  # warnings given once, not every poll

    # -- lifecycle -------------------------------------------------------------

    async def start(self) -> None:
        """Poll now and then every ``poll_interval_s``; listen to the MQTT notifier."""
        self._task = asyncio.create_task(self._run(), name="dacs-openadr-ven")
        if self.config.mqtt_notifier:
            self._notifier_tasks = [
                asyncio.create_task(self._listen(), name="dacs-openadr-notifier"),
                asyncio.create_task(self._wakeups(), name="dacs-openadr-wakeups"),
            ]

    async def stop(self) -> None:
        """Stop polling (a poll in a worker thread finishes on its own)."""
        tasks = [*self._notifier_tasks, *([self._task] if self._task else [])]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._task = None
        self._notifier_tasks = []

    async def _run(self) -> None:
        while True:
            try:
                await self.poll()
            except Exception:
                self.counters.failed_polls += 1
                _LOGGER.exception("OpenADR poll failed; trying again next poll")
            await self._port.sleep(self.config.poll_interval_s)

    # -- MQTT notifier -------------------------------------------------------------

    async def _listen(self) -> None:
        """Find the VTN's MQTT notifier, then listen to it until stopped."""
        delay = notifier.FIRST_RETRY_S
        while True:
            try:
                broker = notifier.mqtt_notifier(
                    await self._client.notifiers(), client_id=self.config.client_id
                )
                if broker is None:
                    _LOGGER.info(
                        "the VTN offers no MQTT notifier: polling every %.0f s only",
                        self.config.poll_interval_s,
                    )
                    return
                topics = [
                    await self._client.event_topic(program_id)
                    for program_id in (
                        *self.config.program_ids,
                        *self.config.capacity_program_ids,
                    )
                ]
                break
            except NotifierError as err:
                self._notifier_failed(err)
                return  # the VTN's binding will not change by retrying
            except VtnError as err:  # VTN down now: ask again later
                self._notifier_failed(err)
            await asyncio.sleep(delay)
            delay = min(delay * 2, notifier.MAX_RETRY_S)
        await notifier.listen(
            broker,
            topics,
            self._notified,
            password=self._client.access_token,
            on_error=self._notifier_failed,
        )

    def _notified(self, payload: bytes) -> None:
        self.counters.notifications += 1
        _LOGGER.debug("OpenADR notification: %s", notifier.describe(payload))
        self._wake.set()  # one flag: a burst while a poll runs queues one poll

    async def _wakeups(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            try:
                await self.poll()
            except Exception:
                self.counters.failed_polls += 1
                _LOGGER.exception("OpenADR poll after a notification failed")

    def _notifier_failed(self, err: Exception) -> None:
        self.counters.notifier_errors += 1
        self._warn_once(
            f"notifier:{type(err).__name__}:{err}",
            "OpenADR MQTT notifier unusable (%s), polling every %.0f s goes on: %s",
            type(err).__name__,
            self.config.poll_interval_s,
            err,
        )

    # -- polling -------------------------------------------------------------------

    async def poll(self) -> bool:
        """One poll; False (with ``last_error``) when the VTN could not be used.

        Polls never overlap (the timer's and an operator's or a test's), so an
        event is never applied by two of them at once.
        """
        async with self._polling:
            return await self._poll_once()

    async def _poll_once(self) -> bool:
        self.counters.polls += 1
        try:
            await self._poll()
        except VtnError as err:
            self.counters.failed_polls += 1
            self.last_error = str(err)
            _LOGGER.warning(
                "OpenADR poll failed (%s), trying again in %.0f s: %s",
                type(err).__name__,
                self.config.poll_interval_s,
                err,
            )
            return False
        self.last_error = None
        self.last_success = self._port.now()
        return True

    # -- one poll ----------------------------------------------------------------

    async def _poll(self) -> None:
        now = self._port.now()
        ven_id = await self._ensure_ven()
        fetched: list[tuple[str, bool, list[ExistingEvent]]] = []
        for program_id in self.config.program_ids:
            events = await self._program_events(program_id, nlflex=True)
            if events is not None:
                fetched.append((program_id, True, events))
        for program_id in self.config.capacity_program_ids:
            events = await self._program_events(program_id, nlflex=False)
            if events is not None:
                fetched.append((program_id, False, events))
        groups: dict[str, ResourceGroupView] = {}
        anchor: str | None = None
        if any(nlflex for _, nlflex, _ in fetched):
            groups = await self._resource_groups()
            anchor = _anchor_event(fetched)
            await self._sync_resources(ven_id, groups, anchor, now)
        resources = await self._ledger.resources()
        for program_id, nlflex, events in fetched:
            await self._apply_program(
                program_id,
                nlflex=nlflex,
                events=events,
                groups=groups,
                resources=resources,
                now=now,
            )
            await self._report(program_id, resources, now)
        if anchor is not None:
            await self._report_operational_status(anchor, resources, now)

    async def _ensure_ven(self) -> str:
        if self._ven_id is not None:
            return self._ven_id
        name = self.config.service_provider_ean
        ven = await self._client.ven_named(name)
        if ven is None:
            request = reports.ven_request(name)
            problems = nlflex_profile.violations(request)
            if problems:  # pragma: no cover - config.check() verified the EAN13
                raise VtnError(f"the VEN object is not NL-flex compliant: {problems}")
            ven = await self._client.create_ven(request)
            _LOGGER.info("created OpenADR VEN %s (%s)", ven.id, name)
        self._ven_id = ven.id
        return ven.id

    async def _program_events(
        self, program_id: str, *, nlflex: bool
    ) -> list[ExistingEvent] | None:
        program = await self._client.program(program_id)
        if nlflex:
            problems = nlflex_profile.violations(program)
            if problems:
                self.counters.programs_refused += 1
                self._warn_once(
                    f"program:{program_id}:{program.modification_date_time}",
                    "refused OpenADR program %s: not NL-flex compliant: %s",
                    program_id,
                    "; ".join(problems),
                )
                return None
        events, broken = await self._client.events(program_id)
        for raw in broken:
            self._refuse_raw(program_id, raw)
        return events

    def _refuse_raw(self, program_id: str, raw: RawEvent) -> None:
        key = f"raw:{program_id}:{raw.event_id}:{raw.reason}"
        if key not in self._told:
            self.counters.events_refused += 1
        self._warn_once(
            key,
            "refused OpenADR event %s of program %s: %s",
            raw.event_id,
            program_id,
            raw.reason,
        )

    def _warn_once(self, key: str, message: str, *args: object) -> None:
        if key in self._told:
            return
        self._told.add(key)
        _LOGGER.warning(message, *args)

    async def _resource_groups(self) -> dict[str, ResourceGroupView]:
        views: dict[str, ResourceGroupView] = {}
        for group in await self._client.resource_groups():
            problems = nlflex_profile.violations(group)
            if problems:
                self._warn_once(
                    f"group:{group.id}:{group.modification_date_time}",
                    "ignoring resource group %s: not NL-flex compliant: %s",
                    group.resource_group_name,
                    "; ".join(problems),
                )
                continue
            views[group.resource_group_name] = group_view(group)
        return views

    # -- resources -----------------------------------------------------------------

    async def _sync_resources(
        self,
        ven_id: str,
        groups: dict[str, ResourceGroupView],
        anchor: str | None,
        now: datetime,
    ) -> None:
        group_of_point = {
            self._map[g.grid_congestion_point_id]: g
            for g in groups.values()
            if g.grid_congestion_point_id in self._map
        }
        rows = await self._ledger.resources()
        on_vtn = {r.resource_name: r for r in await self._client.resources(ven_id)}
        for home in await self._ledger.enrolled_homes():
            group = group_of_point.get(home.congestion_point_id)
            if group is None or home.id in rows:
                continue
            if not is_ean18(home.ean):
                self._warn_once(
                    f"ean:{home.id}:{home.ean}",
                    "home %s is not offered over OpenADR: %r is not a valid EAN18",
                    home.id,
                    home.ean,
                )
                continue
            existing = on_vtn.get(home.id)
            if existing is None:
                request = reports.home_resource(
                    ven_id=ven_id,
                    home_id=home.id,
                    ean=str(home.ean),
                    dso_ean=self.config.dso_ean,
                    flex_type=self.config.flex_type,
                )
                problems = nlflex_profile.violations(request)
                if problems:
                    self._warn_once(
                        f"resource:{home.id}",
                        "home %s is not offered over OpenADR: %s",
                        home.id,
                        "; ".join(problems),
                    )
                    continue
                existing = await self._client.create_resource(request)
                self.counters.resources_created += 1
            row = OpenAdrResourceRow(
                home_id=home.id,
                resource_id=existing.id,
                ean=str(home.ean),
                congestion_point_id=home.congestion_point_id,
                group_id=group.object_id,
            )
            await self._ledger.add_resource(row)
            rows[home.id] = row
        await self._request_registration(rows, anchor, now)
        await self._read_registration(ven_id, rows, now)

    async def _request_registration(
        self, rows: dict[str, OpenAdrResourceRow], anchor: str | None, now: datetime
    ) -> None:
        waiting: dict[str, list[OpenAdrResourceRow]] = {}
        for row in rows.values():
            if row.registration_requested_at is None and row.group_id is not None:
                waiting.setdefault(row.group_id, []).append(row)
        if not waiting:
            return
        if anchor is None:
            self._warn_once(
                "anchor",
                "no reporting anchor event in the NL-flex program yet: "
                "%d home(s) wait for registration",
                sum(len(v) for v in waiting.values()),
            )
            return
        for group_id, members in waiting.items():
            report = reports.registration(
                anchor_event_id=anchor,
                client_name=self.config.service_provider_ean,
                group_object_id=group_id,
                resource_ids=[m.resource_id for m in members],
            )
            if await self._send(report):
                for member in members:
                    await self._ledger.update_resource(
                        member.home_id, registration_requested_at=now
                    )
                    member.registration_requested_at = now

    async def _read_registration(
        self, ven_id: str, rows: dict[str, OpenAdrResourceRow], now: datetime
    ) -> None:
        by_resource = {row.resource_id: row for row in rows.values()}
        for resource in await self._client.resources(ven_id):
            row = by_resource.get(resource.id)
            if row is None:
                continue
            problems = nlflex_profile.violations(resource)
            if problems:
                self._warn_once(
                    f"resource-status:{resource.id}:{resource.modification_date_time}",
                    "ignoring the registration status of %s: %s",
                    row.home_id,
                    "; ".join(problems),
                )
                continue
            status, reason = reports.registration_status(resource)
            value = status.value if status else None
            if value == row.registration_status and reason == row.rejected_reason:
                continue
            await self._ledger.update_resource(
                row.home_id,
                registration_status=value,
                rejected_reason=reason,
                status_at=now,
            )
            row.registration_status, row.rejected_reason = value, reason
            if status is RegistrationStatus.REJECTED:
                _LOGGER.warning(
                    "the grid operator rejected home %s (%s): it is not offered",
                    row.home_id,
                    reason,
                )
            else:
                _LOGGER.info("home %s registration status: %s", row.home_id, value)

    # -- events ------------------------------------------------------------------------

    async def _apply_program(
        self,
        program_id: str,
        *,
        nlflex: bool,
        events: list[ExistingEvent],
        groups: dict[str, ResourceGroupView],
        resources: dict[str, OpenAdrResourceRow],
        now: datetime,
    ) -> None:
        rows = await self._ledger.versions(program_id)
        current = {(e.id, e.modification_date_time) for e in events}
        for row in rows:
            if (
                row.outcome == APPLIED
                and row.cancelled_at is None
                and (row.event_id, row.modified_at) not in current
            ):
                await self._cancel(program_id, row, now)
        handled = {(row.event_id, row.modified_at) for row in rows}
        context = ProgramContext(
            program_id=program_id,
            nlflex=nlflex,
            congestion_points={
                grid: local
                for grid, local in self._map.items()
                if local in self._port.congestion_points()
            },
            now=now,
            emergency_max_duration=timedelta(
                seconds=self.config.emergency_max_duration_s
            ),
            groups=groups,
            baselines=self._baselines(program_id, nlflex, events, groups, now),
            outside_group_kw=self._outside_group_kw(resources, now),
        )
        # Mapped in the settings but not registered here (yet): wait for it
        # rather than refuse the event for good.
        unregistered = {
            grid
            for grid, local in self._map.items()
            if local not in self._port.congestion_points()
        }
        for event in sorted(events, key=lambda e: (e.created_date_time, e.id)):
            if (event.id, event.modification_date_time) in handled:
                continue
            waiting = sorted(unregistered.intersection(event.targets or ()))
            if waiting:
                if (notice := f"unregistered:{event.id}") not in self._told:
                    self._told.add(notice)
                    _LOGGER.warning(
                        "OpenADR event %s targets congestion point(s) %s, which "
                        "are mapped but not registered in the aggregator; it is "
                        "applied once they are",
                        event.id,
                        ", ".join(waiting),
                    )
                continue
            await self._handle(program_id, event, plan_event(event, context), now)

    def _baselines(
        self,
        program_id: str,
        nlflex: bool,
        events: Sequence[ExistingEvent],
        groups: dict[str, ResourceGroupView],
        now: datetime,
    ) -> dict[str, Baseline]:
        if not nlflex:
            return {}
        context = ProgramContext(
            program_id=program_id,
            nlflex=True,
            congestion_points=self._map,
            now=now,
            emergency_max_duration=timedelta(0),
            groups=groups,
        )
        found = []
        for event in events:
            if signal_kind(event) is SignalKind.BASELINE:
                plan = plan_event(event, context)
                if isinstance(plan, CapPlan) and plan.baseline is not None:
                    found.append(plan.baseline)
        return current_baselines(found)

    def _outside_group_kw(
        self, resources: dict[str, OpenAdrResourceRow], now: datetime
    ) -> dict[str, float]:
        """Heat pump baseline (kW) per point of homes the grid operator did not enroll."""
        outside: dict[str, float] = {}
        for point_id in self._port.congestion_points():
            homes = [
                h
                for h in self._port.homes(point_id)
                if (row := resources.get(h.home_id)) is None
                or row.registration_status != RegistrationStatus.ENROLLED.value
            ]
            model = self._port.flex_model(homes, now)
            outside[point_id] = float(model.baseline_w.sum()) / 1000.0
        return outside

    async def _handle(
        self,
        program_id: str,
        event: ExistingEvent,
        plan: CapPlan | Refusal,
        now: datetime,
    ) -> None:
        row = OpenAdrEventRow(
            program_id=program_id,
            event_id=event.id,
            modified_at=event.modification_date_time,
            kind=plan.kind.value,
            outcome=NOTED,
            caps=[],
            intervals=[],
            processed_at=now,
        )
        if isinstance(plan, Refusal):
            row.outcome = EXPIRED if plan.expired else REFUSED
            row.reason = plan.reason[:1000]
            await self._ledger.record(row)
            if plan.expired:
                self.counters.events_expired += 1
                _LOGGER.info(
                    "OpenADR event %s of program %s is over: %s",
                    event.id,
                    program_id,
                    plan.reason,
                )
            else:
                self.counters.events_refused += 1
                _LOGGER.warning(
                    "refused OpenADR %s event %s of program %s: %s",
                    plan.kind.value,
                    event.id,
                    program_id,
                    plan.reason,
                )
            return
        for point_id, cap_event in plan.caps:
            if not await self._ledger.cap_event_exists(cap_event.envelope_id):
                await self._port.put_in_force(point_id, cap_event)
        row.outcome = APPLIED if plan.caps or plan.intervals else NOTED
        row.caps = [[point_id, cap.envelope_id] for point_id, cap in plan.caps]
        row.intervals = reports.interval_records(plan.intervals)
        row.group_name = plan.group_name
        row.congestion_point_id = plan.congestion_point_id or (
            plan.caps[0][0] if plan.caps else None
        )
        row.ends_at = plan.ends_at
        await self._ledger.record(row)
        if row.outcome == APPLIED:
            self.counters.events_applied += 1
            _LOGGER.info(
                "applied OpenADR %s event %s of program %s on %s",
                plan.kind.value,
                event.id,
                program_id,
                ", ".join(p for p, _ in plan.caps) or "no point (already over)",
            )

    async def _cancel(
        self, program_id: str, row: OpenAdrEventRow, now: datetime
    ) -> None:
        for point_id, cap_event_id in row.caps:
            await self._port.withdraw(point_id, cap_event_id)
        await self._ledger.update_version(row.id, cancelled_at=now)
        self.counters.events_cancelled += 1
        _LOGGER.info(
            "OpenADR event %s of program %s was deleted or replaced: cancelled",
            row.event_id,
            program_id,
        )

    # -- reports ---------------------------------------------------------------------------

    async def _send(
        self, report: NewReport, problems: Sequence[str] | None = None
    ) -> bool:
        """Send a report the profile accepts; withhold (and log) one it rejects."""
        problems = nlflex_profile.violations(report) if problems is None else problems
        if problems:
            self.counters.reports_withheld += 1
            _LOGGER.error(
                "not sending %s report for event %s: the NL-flex profile rejects it: %s",
                report.report_name,
                report.event_id,
                "; ".join(problems),
            )
            return False
        await self._client.send_report(report)
        self.counters.reports_sent += 1
        return True

    async def _report(
        self, program_id: str, resources: dict[str, OpenAdrResourceRow], now: datetime
    ) -> None:
        client_name = self.config.service_provider_ean
        for row in await self._ledger.versions(program_id):
            if row.cancelled_at is not None:
                continue
            if row.kind == SignalKind.FLEX_DISPATCH and row.outcome == APPLIED:
                if row.acknowledged_at is None:
                    ack = reports.acknowledgement(
                        event_id=row.event_id, client_name=client_name
                    )
                    if await self._send(ack):
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
            client_name=self.config.service_provider_ean,
            intervals=intervals,
            deliveries=deliveries,
        )
        if report is None:
            self._warn_once(
                f"delivery:{row.id}",
                "DELIVERED_FLEX for event %s waits: settlement has not every quarter hour",
                row.event_id,
            )
            return
        event_intervals = [
            Interval(
                id=i.interval_id,
                interval_period=IntervalPeriod(start=i.start, duration=i.duration),
                payloads=(
                    EventPayload(type=EventPayloadType("FLEX"), values=(i.flex_kw,)),
                ),
            )
            for i in intervals
        ]
        if await self._send(
            report, nlflex_profile.delivery_report_violations(report, event_intervals)
        ):
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
            client_name=self.config.service_provider_ean,
            active_kw=offer,
            reserved_kw=0.0,
        )
        if await self._send(report):
            await self._ledger.update_version(row.id, reported_at=now)

    async def _report_operational_status(
        self, anchor: str, resources: dict[str, OpenAdrResourceRow], now: datetime
    ) -> None:
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
            anchor_event_id=anchor,
            client_name=self.config.service_provider_ean,
            statuses=changed,
        )
        if await self._send(report):
            for home_id, status in changed.items():
                await self._ledger.update_resource(
                    home_id, operational_status=status.value
                )
                resources[home_id].operational_status = status.value


def _anchor_event(
    fetched: Sequence[tuple[str, bool, list[ExistingEvent]]],
) -> str | None:
    """The NL-flex program's reporting anchor event (reports without an event cite it)."""
    for _, nlflex, events in fetched:
        if not nlflex:
            continue
        for event in events:
            if signal_kind(
                event
            ) is SignalKind.REPORTING_ANCHOR and not nlflex_profile.violations(event):
                return event.id
    return None
