"""The aggregator service: storage, registry, ingest, the control loop, commands out."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
import contextlib
from dataclasses import dataclass
from datetime import datetime, timedelta
import logging

import aiohttp
from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from dacs.protocol import (
    Ack,
    Cancel,
    Command,
    CommandReason,
    PowerInterval,
    Preferences,
    Status,
    Telemetry,
    format_time,
    parse_time,
)

from .clock import Clock
from .config import AggregatorConfig
from .control.alerts import Alert, AlertMonitor
from .control.dispatch import DispatchPlan, DispatchSettings
from .control.fleet import Fleet
from .control.loop import CongestionPointControl, CycleReport
from .control.profiles import CapEvent, CapInterval, CapKind
from .ingest.sequence import SequenceTracker
from .ingest.telemetry_writer import TelemetryWriter
from .mqtt.link import AggregatorLink, MessageSink
from .mqtt.outbox import Outbox
from .registry.registry import CredentialProvisioner, Enrollment, Registry
from .storage.ack_writer import AckWriter
from .storage.database import create_engine, migrate, session_factory
from .storage.tables import AlertRow, CommandRow, EventRow, TelemetryRow

_LOGGER = logging.getLogger(__name__)

type LoadForecast = Callable[[str, datetime], float]

# One statement per cycle for all its cancels (bind names differ from columns).
_CANCEL_COMMANDS = (
    update(CommandRow)
    .where(CommandRow.command_id == bindparam("b_command_id"))
    .values(cancelled_at=bindparam("b_cancelled_at"))
)


@dataclass(frozen=True, kw_only=True)
class ServiceCounters:
    """Numbers for /metrics and the dashboard."""

    telemetry_received: int
    telemetry_duplicates: int
    telemetry_gaps: int
    telemetry_written: int
    messages_refused: int
    commands_sent: int  # stored and handed to the broker (confirmed or waiting)
    cancels_sent: int
    unknown_homes: int
    commands_unconfirmed: int = 0  # stored, not yet confirmed by the broker
    commands_redelivered: int = 0  # sent again after a reconnect or restart
    acks_written: int = 0


class AggregatorService(MessageSink):
    """Everything the aggregator does, without HTTP (the app factory adds that)."""

    def __init__(
        self,
        config: AggregatorConfig,
        *,
        clock: Clock,
        provisioner: CredentialProvisioner,
        other_load_forecast: LoadForecast | None = None,
        engine: AsyncEngine | None = None,
    ) -> None:
        """Prepare; start() connects and begins work."""
        self.config = config
        self.clock = clock
        self.engine = engine or create_engine(config.database.url)
        self.sessions = session_factory(self.engine)
        self.fleet = Fleet()
        self.registry = Registry(
            self.sessions,
            provisioner=provisioner,
            now=clock.now,
            on_enrolled=self._register_home,
        )
        self.controls: dict[str, CongestionPointControl] = {}
        self.alerts: dict[str, AlertMonitor] = {}
        self.sequences = SequenceTracker()
        self.writer = TelemetryWriter(
            self.engine,
            batch_size=config.database.telemetry_batch_size,
            flush_s=config.database.telemetry_flush_s,
        )
        self.acks = AckWriter(
            self.engine,
            batch_size=config.database.ack_batch_size,
            flush_s=config.database.ack_flush_s,
        )
        self.link = AggregatorLink(
            config.mqtt,
            self,
            on_connect=self._redeliver_after_connect,
            publish_window=config.mqtt.publish_window,
            publish_timeout_s=config.mqtt.publish_timeout_s,
        )
        # Stored but not confirmed by the broker: sent again after a reconnect.
        self.outbox = Outbox()
        # One fan-out at a time, so a redelivery never overtakes a newer command.
        self._sending = asyncio.Lock()
        self.redelivered = 0
        self._commands_loaded = False
        self._forecast = other_load_forecast
        self._tasks: list[asyncio.Task[None]] = []
        self._listeners: list[Callable[[CycleReport], None]] = []
        self._commands_sent = 0
        self._cancels_sent = 0
        self._unknown_homes = 0
        self._telemetry_received = 0
        # Webhook posts and redeliveries: cancelled on stop.
        self._background: set[asyncio.Task[None]] = set()

    def _register_home(self, enrollment: Enrollment) -> None:
        self.fleet.add(enrollment.home_id, enrollment.congestion_point_id)

    # -- lifecycle -------------------------------------------------------------

    async def start(self) -> None:
        """Migrate, load the registry into memory, connect and start the loops."""
        await migrate(self.engine)
        await self.reload()
        self._tasks = [
            asyncio.create_task(self.link.run(), name="dacs-aggregator-mqtt"),
            asyncio.create_task(self.writer.run(), name="dacs-aggregator-telemetry"),
            asyncio.create_task(self.acks.run(), name="dacs-aggregator-acks"),
            asyncio.create_task(self._control_loop(), name="dacs-aggregator-control"),
        ]

    async def stop(self) -> None:
        """Stop the loops, write what is buffered, close the database."""
        tasks = [*self._tasks, *self._background]
        self._tasks = []
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        with contextlib.suppress(Exception):
            await self.writer.flush()
        try:
            await self.acks.flush()
        except Exception:
            _LOGGER.exception("%d acks not written at stop", self.acks.pending)
        await self.engine.dispose()

    async def reload(self) -> None:
        """Load congestion points and homes from the database into the live view."""
        settings = DispatchSettings(
            cycle_s=self.config.control.cycle_s,
            command_margin_s=self.config.control.command_margin_s,
        )
        for point in await self.registry.congestion_points():
            control = self.controls.get(point.id)
            self.alerts.setdefault(
                point.id,
                AlertMonitor(
                    point.id, follow_minutes=self.config.control.follow_limit_minutes
                ),
            )
            if control is None:
                self.controls[point.id] = CongestionPointControl(
                    point_id=point.id,
                    rated_capacity_kw=point.rated_capacity_kw,
                    fleet=self.fleet,
                    settings=settings,
                )
            else:
                control.rated_capacity_kw = point.rated_capacity_kw
        for home in await self.registry.homes():
            self.fleet.add(home.id, home.congestion_point_id)
        await self._load_events()
        await self._load_commands()
        await self._load_baselines()

    async def _load_baselines(self) -> None:
        """Baselines from stored telemetry.

        A restarted aggregator must not take a curtailed home's limited power
        for its normal use and swap it for another home.
        """
        since = self.clock.now() - timedelta(hours=3)
        async with self.sessions() as session:
            rows = (
                await session.execute(
                    select(
                        TelemetryRow.home_id, func.avg(TelemetryRow.electric_power_w)
                    )
                    .where(
                        TelemetryRow.ts >= since,
                        TelemetryRow.limit_source == "none",
                        TelemetryRow.electric_power_w.is_not(None),
                    )
                    .group_by(TelemetryRow.home_id)
                )
            ).all()
        for home_id, average in rows:
            view = self.fleet.homes.get(home_id)
            if view is not None and view.baseline_w is None and average is not None:
                view.baseline_w = float(average)

    async def _load_commands(self) -> None:
        """Commands in force come back after a restart: no home is released early or commanded twice."""
        now = self.clock.now()
        async with self.sessions() as session:
            rows = (
                (
                    await session.execute(
                        select(CommandRow)
                        .where(CommandRow.expires_at > now)
                        .order_by(CommandRow.issued_at)
                    )
                )
                .scalars()
                .all()
            )
        # Each home's newest command decides: an older one it replaced is not
        # in force, even though nobody cancelled it.
        newest = {row.home_id: row for row in rows}
        unanswered: list[Command] = []
        for home_id, row in newest.items():
            view = self.fleet.homes.get(home_id)
            if view is None or row.cancelled_at is not None:
                continue
            view.command = Command(
                home_id=row.home_id,
                command_id=row.command_id,
                issued_at=row.issued_at,
                expires_at=row.expires_at,
                reason=CommandReason(row.reason),
                envelope=tuple(
                    PowerInterval(
                        start=parse_time(i["start"]),
                        duration_s=int(i["duration_s"]),
                        max_power_w=float(i["max_power_w"]),
                    )
                    for i in row.envelope
                ),
            )
            if row.acked_at is None:
                unanswered.append(view.command)
        if self._commands_loaded:
            return  # a reload while running: what is unanswered is on its way
        self._commands_loaded = True
        # Stored before it was published: a stop (or crash) between the two
        # left it unsent. Sending it again is safe, the home answers a
        # redelivery of its command in force with the same ack.
        self.outbox.put(unanswered)

    # -- events ----------------------------------------------------------------

    def add_event(self, congestion_point_id: str, event: CapEvent) -> None:
        """Put an event in force in memory only (tests, simulations)."""
        control = self.controls.get(congestion_point_id)
        if control is None:
            raise KeyError(f"unknown congestion point {congestion_point_id!r}")
        control.add_event(event)

    async def create_event(
        self, congestion_point_id: str, event: CapEvent, *, created_by: str
    ) -> None:
        """Store an event and put it in force; it survives a restart of the aggregator."""
        if congestion_point_id not in self.controls:
            raise KeyError(f"unknown congestion point {congestion_point_id!r}")
        async with self.sessions() as session:
            session.add(
                EventRow(
                    id=event.event_id,
                    congestion_point_id=congestion_point_id,
                    kind=event.kind.value,
                    reason="emergency"
                    if event.kind is CapKind.EMERGENCY
                    else "congestion",
                    start=event.start,
                    end=event.end,
                    profile=[
                        {
                            "start": format_time(i.start),
                            "end": format_time(i.end),
                            "cap_kw": i.cap_kw,
                        }
                        for i in event.intervals
                    ],
                    created_at=self.clock.now(),
                    created_by=created_by,
                )
            )
            await session.commit()
        self.controls[congestion_point_id].add_event(event)

    async def cancel_event(self, congestion_point_id: str, event_id: str) -> bool:
        """End an event early; False when it is not in force."""
        control = self.controls.get(congestion_point_id)
        if control is None or not control.remove_event(event_id):
            return False
        async with self.sessions() as session:
            await session.execute(
                update(EventRow)
                .where(EventRow.id == event_id)
                .values(cancelled_at=self.clock.now())
            )
            await session.commit()
        return True

    async def _load_events(self) -> None:
        now = self.clock.now()
        async with self.sessions() as session:
            rows = (
                (
                    await session.execute(
                        select(EventRow).where(
                            EventRow.end > now, EventRow.cancelled_at.is_(None)
                        )
                    )
                )
                .scalars()
                .all()
            )
        for row in rows:
            control = self.controls.get(row.congestion_point_id)
            if control is None:
                continue
            control.add_event(
                CapEvent(
                    event_id=row.id,
                    kind=CapKind(row.kind),
                    intervals=tuple(
                        CapInterval(
                            start=parse_time(i["start"]),
                            end=parse_time(i["end"]),
                            cap_kw=float(i["cap_kw"]),
                        )
                        for i in row.profile
                    ),
                )
            )

    def add_cycle_listener(self, listener: Callable[[CycleReport], None]) -> None:
        """Call ``listener`` with every cycle's report (the dashboard's live feed)."""
        self._listeners.append(listener)

    @property
    def counters(self) -> ServiceCounters:
        """Counters for monitoring."""
        return ServiceCounters(
            telemetry_received=self._telemetry_received,
            telemetry_duplicates=self.sequences.duplicates,
            telemetry_gaps=self.sequences.gaps,
            telemetry_written=self.writer.written,
            messages_refused=self.link.counters.refused + self.link.counters.wrong_home,
            commands_sent=self._commands_sent,
            cancels_sent=self._cancels_sent,
            unknown_homes=self._unknown_homes,
            commands_unconfirmed=len(self.outbox),
            commands_redelivered=self.redelivered,
            acks_written=self.acks.written,
        )

    # -- ingest (MessageSink) --------------------------------------------------

    async def on_telemetry(self, message: Telemetry) -> None:
        """Count, store and apply a telemetry message."""
        if message.home_id not in self.fleet.homes:
            self._unknown_homes += 1
            return
        self._telemetry_received += 1
        self.sequences.arrive(message.home_id, message.boot_id, message.seq)
        self.writer.add(message)
        self.fleet.apply_telemetry(message, self.clock.now())

    async def on_status(self, message: Status) -> None:
        """Apply and store a status."""
        if not self.fleet.apply_status(message):
            self._unknown_homes += 1
            return
        await self.registry.record_status(message)

    async def on_preferences(self, message: Preferences) -> None:
        """Apply and store preferences."""
        if not self.fleet.apply_preferences(message):
            self._unknown_homes += 1
            return
        await self.registry.record_preferences(message)

    async def on_ack(self, message: Ack) -> None:
        """Apply an ack; the ack writer stores it with the next batch."""
        if not self.fleet.apply_ack(message):
            self._unknown_homes += 1
            return
        self.acks.add(message)

    # -- control ---------------------------------------------------------------

    async def cycle(self) -> list[CycleReport]:
        """One control cycle over every congestion point."""
        now = self.clock.now()
        reports = []
        for point_id, control in self.controls.items():
            forecast = self._forecast(point_id, now) if self._forecast else None
            report, plan = control.cycle(now, other_load_forecast_w=forecast)
            await self._dispatch(control, plan)
            reports.append(report)
            await self._check_alerts(point_id, report, now)
            for listener in self._listeners:
                listener(report)
        return reports

    async def _check_alerts(
        self, point_id: str, report: CycleReport, now: datetime
    ) -> None:
        monitor = self.alerts.get(point_id)
        if monitor is None:
            return
        raised, cleared = monitor.evaluate(self.fleet, report, now)
        if not raised and not cleared:
            return
        async with self.sessions() as session:
            session.add_all(
                AlertRow(
                    kind=a.kind.value,
                    home_id=a.home_id,
                    congestion_point_id=a.congestion_point_id,
                    message=a.message[:500],
                    raised_at=a.raised_at,
                )
                for a in raised
            )
            for alert in cleared:
                await session.execute(
                    update(AlertRow)
                    .where(
                        AlertRow.kind == alert.kind.value,
                        AlertRow.raised_at == alert.raised_at,
                        AlertRow.congestion_point_id == point_id,
                        AlertRow.cleared_at.is_(None),
                    )
                    .values(cleared_at=now)
                )
            await session.commit()
        for alert in raised:
            _LOGGER.warning(
                "alert %s at %s: %s",
                alert.kind.value,
                alert.home_id or point_id,
                alert.message,
            )
        if raised and self.config.control.alert_webhook:
            self._spawn_webhook(raised)

    def _spawn_webhook(self, alerts: list[Alert]) -> None:
        task = asyncio.create_task(
            self._post_webhook(alerts), name="dacs-alert-webhook"
        )
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _post_webhook(self, alerts: list[Alert]) -> None:
        """Tell an operator's system (chat, paging) about new alerts; never blocks control."""
        url = self.config.control.alert_webhook
        if not url:
            return
        body = [
            {
                "kind": a.kind.value,
                "congestion_point_id": a.congestion_point_id,
                "home_id": a.home_id,
                "message": a.message,
                "raised_at": format_time(a.raised_at),
            }
            for a in alerts
        ]
        try:
            async with (
                aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http,
                http.post(url, json={"alerts": body}) as response,
            ):
                if response.status >= 300:
                    _LOGGER.warning("alert webhook answered %s", response.status)
        except (aiohttp.ClientError, TimeoutError) as err:
            _LOGGER.warning("alert webhook unreachable: %s", err)

    async def _dispatch(
        self, control: CongestionPointControl, plan: DispatchPlan
    ) -> None:
        """Store a cycle's commands and cancels in one transaction, then publish them all.

        Stored first: a restart between the two finds the command in force and
        sends it again (see _load_commands) instead of forgetting it, and
        never makes up a second one. Publishes go out through the link's
        window; what the broker has not confirmed stays in the outbox and is
        sent again after the reconnect.
        """
        messages: list[Command | Cancel] = [*plan.commands, *plan.cancels]
        if not messages and not self.outbox:
            return
        async with self._sending:
            if not self.link.connected:
                # Nothing new is stored or sent: the next cycle plans again,
                # homes release by expiry meanwhile.
                return
            if messages:
                try:
                    await self._store(plan)
                except Exception:
                    _LOGGER.exception("commands not stored; none sent this cycle")
                else:
                    for message in messages:
                        control.sent(message)
                    self._commands_sent += len(plan.commands)
                    self._cancels_sent += len(plan.cancels)
                    self.outbox.put(messages)
            waiting = self.outbox.waiting()
            fresh = {id(m) for m in messages}
            self.redelivered += sum(id(m) not in fresh for m in waiting)
            await self._publish(waiting)

    async def _publish(self, messages: list[Command | Cancel]) -> None:
        """Publish retained through the window; the outbox keeps what is unconfirmed."""
        if not messages:
            return
        delivery = await self.link.publish_all(messages, retain=True)
        self.outbox.delivered(delivery.confirmed)
        # Logged by the link; sending them again would fail the same way.
        self.outbox.delivered(delivery.failed)
        if delivery.unconfirmed:
            _LOGGER.warning(
                "%d of %d commands not confirmed by the broker; sending them "
                "again after the reconnect",
                len(delivery.unconfirmed),
                len(messages),
            )

    async def _redeliver_after_connect(self) -> None:
        """After a (re)connect, send what the broker never confirmed, off the message loop."""
        if self.outbox:
            task = asyncio.create_task(self._redeliver(), name="dacs-redeliver")
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    async def _redeliver(self) -> None:
        async with self._sending:
            if not self.link.connected:
                return  # the next connect tries again
            waiting = self.outbox.waiting()
            self.redelivered += len(waiting)
            await self._publish(waiting)

    async def _store(self, plan: DispatchPlan) -> None:
        """A cycle's commands and cancels in one transaction."""
        async with self.engine.begin() as connection:
            if plan.commands:
                await connection.execute(
                    insert(CommandRow),
                    [
                        {
                            "command_id": c.command_id,
                            "home_id": c.home_id,
                            "event_id": None,
                            "issued_at": c.issued_at,
                            "expires_at": c.expires_at,
                            "reason": c.reason.value,
                            "envelope": [i.to_dict() for i in c.envelope],
                        }
                        for c in plan.commands
                    ],
                )
            if plan.cancels:
                await connection.execute(
                    _CANCEL_COMMANDS,
                    [
                        {"b_command_id": c.command_id, "b_cancelled_at": c.issued_at}
                        for c in plan.cancels
                    ],
                )

    async def _control_loop(self) -> None:
        while True:
            await self.clock.sleep(self.config.control.cycle_s)
            try:
                await self.cycle()
            except Exception:
                _LOGGER.exception("control cycle failed; trying again next cycle")
