"""Turning a program's events into envelopes put in force or withdrawn, exactly once.

Each event version (id and modification time) is planned (``signals``) and
its outcome stored in the ledger before the next poll looks again, so a
version is put in force once, even across a crash: an envelope already
stored is not put in force twice. A version the VTN no longer lists
(deleted, or replaced by a newer one) is withdrawn. An event for a congestion
point that is mapped but not registered in the aggregator waits for it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
import logging

from openadr3_client.oadr310.models.event.event import ExistingEvent

from dacs.aggregator.grid_port import GridPort
from dacs.aggregator.storage.tables import OpenAdrEventRow, OpenAdrResourceRow

from . import reports
from .config import OpenAdrConfig
from .ledger import APPLIED, EXPIRED, NOTED, REFUSED, OpenAdrLedger
from .monitoring import OnceWarnings, OpenAdrCounters
from .nlflex_signals import current_baselines
from .plans import (
    Baseline,
    CapPlan,
    ProgramContext,
    Refusal,
    ResourceGroupView,
    SignalKind,
    signal_kind,
)
from .reports import RegistrationStatus
from .signals import plan_event

_LOGGER = logging.getLogger(__name__)


class EventHandler:
    """Puts a program's event versions in force through the grid port, once each."""

    def __init__(
        self,
        config: OpenAdrConfig,
        port: GridPort,
        ledger: OpenAdrLedger,
        *,
        counters: OpenAdrCounters,
        warnings: OnceWarnings,
    ) -> None:
        """Put envelopes in force through ``port``; record each version in ``ledger``."""
        self._config = config
        self._port = port
        self._ledger = ledger
        self._counters = counters
        self._warnings = warnings
        self._map = config.congestion_point_map

    async def apply_program(
        self,
        program_id: str,
        *,
        nlflex: bool,
        events: list[ExistingEvent],
        groups: dict[str, ResourceGroupView],
        resources: dict[str, OpenAdrResourceRow],
        now: datetime,
    ) -> None:
        """Put new event versions in force once; cancel those the VTN dropped."""
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
                seconds=self._config.emergency_max_duration_s
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
                self._warnings.warn(
                    _LOGGER,
                    f"unregistered:{event.id}",
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
                self._counters.events_expired += 1
                _LOGGER.info(
                    "OpenADR event %s of program %s is over: %s",
                    event.id,
                    program_id,
                    plan.reason,
                )
            else:
                self._counters.events_refused += 1
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
            self._counters.events_applied += 1
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
        self._counters.events_cancelled += 1
        _LOGGER.info(
            "OpenADR event %s of program %s was deleted or replaced: cancelled",
            row.event_id,
            program_id,
        )
