"""The aggregator service: storage, registry, ingest, the control loop, commands out.

It orchestrates; the work is done by the parts it holds. Grid adapters and
the demo see it only through the grid port (``grid_port.GridPort``), which
it implements.
"""

from __future__ import annotations

from collections.abc import Callable
import contextlib
from dataclasses import dataclass, replace
from datetime import datetime
import logging

from sqlalchemy.ext.asyncio import AsyncEngine

from dacs.protocol import Ack, BrokerAddress, Preferences, Status, Telemetry

from .alert_publisher import AlertPublisher
from .alert_webhook import AlertWebhook
from .broker_endpoints import home_addresses
from .broker_moves import BrokerMover
from .clock import Clock
from .config import AggregatorConfig
from .control.alerts import AlertMonitor
from .control.dispatch import DispatchSettings
from .control.fleet import Fleet
from .control.loop import CongestionPointControl, CycleReport
from .control.planner import background_planner
from .control.quarantine import PointQuarantine
from .domain.envelope import CapacityEnvelope
from .fan_out import CommandFanOut
from .grid_port import OtherLoadForecast
from .ingest.receipts import ReceiptSender
from .ingest.sequence import SequenceTracker
from .ingest.telemetry_writer import TelemetryWriter
from .live_state import LiveState
from .mqtt.brokers import BrokerLinks
from .mqtt.link import MessageSink
from .mqtt.outbox import Outbox
from .partition_upkeep import PartitionUpkeepTask
from .point_ownership import PointOwnership
from .registry.registry import CredentialProvisioner, Enrollment, Registry
from .restore import StateRestorer
from .storage.ack_writer import AckWriter
from .storage.alerts import AlertLedger
from .storage.commands import CommandLedger
from .storage.database import create_engine, migrate, session_factory
from .storage.envelopes import EnvelopeLedger
from .supervisor import Supervisor

_LOGGER = logging.getLogger(__name__)


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
    # Rows the database refused on their own, kept aside (storage/batching.py).
    telemetry_dead_lettered: int = 0
    acks_dead_lettered: int = 0


class AggregatorService(LiveState, MessageSink):
    """Everything the aggregator does, without HTTP (the app factory adds that)."""

    def __init__(
        self,
        config: AggregatorConfig,
        *,
        clock: Clock,
        provisioner: CredentialProvisioner,
        other_load_forecast: OtherLoadForecast | None = None,
        engine: AsyncEngine | None = None,
        supervisor: Supervisor | None = None,
    ) -> None:
        """Prepare; start() connects and begins work."""
        self.config = config
        # Also runs the grid adapters' and the schedules' tasks (app.py).
        self.supervisor = supervisor or Supervisor()
        self.clock = clock
        self.engine = engine or create_engine(config.database.url)
        self.sessions = session_factory(self.engine)
        self.fleet = Fleet()
        # Clustered, a killed instance's persistent session would hold its share
        # of the homes' messages (mqtt/link.py); the live instances take it.
        mqtt = config.mqtt
        if config.cluster.enabled:
            mqtt = replace(mqtt, persistent_session=False)
        self.link = BrokerLinks(
            mqtt,
            self,
            on_connect=self._redeliver_after_connect,
            publish_window=config.mqtt.publish_window,
            publish_timeout_s=config.mqtt.publish_timeout_s,
        )
        self.registry = Registry(
            self.sessions,
            provisioner=provisioner,
            now=clock.now,
            on_enrolled=self._register_home,
            broker_ids=tuple(self.link.links),
        )
        self.broker_mover = BrokerMover(
            self.registry, self.link, self.fleet, _home_addresses(config)
        )
        self.controls: dict[str, CongestionPointControl] = {}
        # Control cycles that failed, per congestion point (the others went on).
        self.failed_cycles: dict[str, int] = {}
        self.quarantine = PointQuarantine()
        self.sequences = SequenceTracker()
        self.receipts = ReceiptSender(config.mqtt.receipt_interval_s, clock.now)
        self.writer = TelemetryWriter(
            self.engine,
            batch_size=config.database.telemetry_batch_size,
            flush_s=config.database.telemetry_flush_s,
            on_stored=self.receipts.record,  # committed rows, for receipts
        )
        self.acks = AckWriter(
            self.engine,
            batch_size=config.database.ack_batch_size,
            flush_s=config.database.ack_flush_s,
        )
        self.partitions = PartitionUpkeepTask(self.engine, config.database, clock)
        self._envelope_ledger = EnvelopeLedger(self.sessions)
        self._command_ledger = CommandLedger(self.engine, self.sessions)
        self._restorer = StateRestorer(
            self._envelope_ledger, self._command_ledger, self.fleet
        )
        self.ownership = PointOwnership.from_config(
            config.cluster,
            self.engine,
            restorer=self._restorer,
            registry=self.registry,
            fleet=self.fleet,
            route=self.link.assign,
        )
        self._webhook = AlertWebhook(config.control.alert_webhook)
        self.alerts = AlertPublisher(
            AlertLedger(self.sessions), self._webhook, self.fleet
        )
        self.fan_out = CommandFanOut(
            self.link, self._command_ledger, may_send=self.ownership.may_send
        )
        self._commands_loaded = False
        self._forecast = other_load_forecast
        self._listeners: list[Callable[[CycleReport], None]] = []
        self._unknown_homes = 0
        self._telemetry_received = 0

    def _register_home(self, enrollment: Enrollment) -> None:
        self.fleet.add(enrollment.home_id, enrollment.congestion_point_id)
        self.link.assign(enrollment.home_id, enrollment.broker_id)

    @property
    def outbox(self) -> Outbox:
        """Commands stored but not yet confirmed by the broker."""
        return self.fan_out.outbox

    # -- lifecycle -------------------------------------------------------------

    async def start(self) -> None:
        """Migrate, load the registry into memory, connect and start the loops."""
        await migrate(self.engine)
        await self.reload()
        self.supervisor.start("broker-link", self.link.run)
        self.supervisor.start("telemetry-writer", self.writer.run)
        self.supervisor.start("ack-writer", self.acks.run)
        self.supervisor.start(
            "receipts", lambda: self.receipts.run(self.link.publish_receipts)
        )
        self.supervisor.start("control-loop", self._control_loop)
        if self.engine.dialect.name == "postgresql":
            self.supervisor.start("telemetry-partitions", self.partitions.run)

    async def stop(self) -> None:
        """Stop the loops, write what is buffered, close the database."""
        await self.supervisor.stop()
        await self.ownership.stop()
        await self._webhook.close()
        await self.fan_out.close()
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
            self.alerts.monitors.setdefault(
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
                    planner=background_planner(),
                )
            elif control.rated_capacity_kw != point.rated_capacity_kw:
                control.rated_capacity_kw = point.rated_capacity_kw
                self.quarantine.lift(point.id)  # its registration was fixed
        for home in await self.registry.homes():
            self.fleet.add(home.id, home.congestion_point_id)
            self.link.assign(home.id, self.registry.broker_of(home))
        unanswered = await self._restorer.restore(self.controls, self.clock.now())
        if not self._commands_loaded:
            # Stored before it was published: a stop (or crash) between the
            # two left it unsent. (A reload while running: on its way.)
            self._commands_loaded = True
            self.fan_out.resume(unanswered)

    # -- the grid port -----------------------------------------------------------

    async def put_in_force(
        self, congestion_point_id: str, envelope: CapacityEnvelope
    ) -> None:
        """Store an envelope and put it in force; it survives a restart."""
        control = self._control(congestion_point_id)
        await self._envelope_ledger.store(
            congestion_point_id, envelope, now=self.clock.now()
        )
        control.put_in_force(envelope)

    def put_in_force_unstored(
        self, congestion_point_id: str, envelope: CapacityEnvelope
    ) -> None:
        """Put an envelope in force in memory only (tests, simulations)."""
        self._control(congestion_point_id).put_in_force(envelope)

    async def withdraw(self, congestion_point_id: str, envelope_id: str) -> bool:
        """End an envelope early; False when it is not in force."""
        control = self.controls.get(congestion_point_id)
        if control is None or not control.withdraw(envelope_id):
            return False
        await self._envelope_ledger.cancel(envelope_id, now=self.clock.now())
        return True

    # -- monitoring --------------------------------------------------------------

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
            commands_sent=self.fan_out.commands_sent,
            cancels_sent=self.fan_out.cancels_sent,
            unknown_homes=self._unknown_homes,
            commands_unconfirmed=len(self.fan_out.outbox),
            commands_redelivered=self.fan_out.redelivered,
            acks_written=self.acks.written,
            telemetry_dead_lettered=self.writer.dead_lettered,
            acks_dead_lettered=self.acks.dead_lettered,
        )

    # -- ingest (MessageSink) --------------------------------------------------

    async def on_telemetry(self, message: Telemetry) -> None:
        """Count, store and apply a telemetry message."""
        if message.home_id not in self.fleet.homes:
            self._unknown_homes += 1
            return
        self._telemetry_received += 1
        self.sequences.arrive(message.home_id, message.boot_id, message.seq)
        self.writer.add(message)  # a duplicate too: the database has the last word
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
        """One control cycle over every congestion point not quarantined."""
        now = self.clock.now()
        change = await self.ownership.refresh(self.controls, self.fan_out, now)
        if any(g.congestion_point_id not in self.controls for g in change.gained):
            await self.reload()  # a point registered through another instance
        if (brokers := self.ownership.brokers_needed(self.link.broker_of)) is not None:
            await self.link.need(brokers)  # in a cluster: the owned points' brokers
        reports = []
        for point_id, control in self.controls.items():
            if self.quarantine.holds(point_id) or not self.ownership.controls(point_id):
                continue
            try:
                report, plan = control.cycle(
                    now, other_load_at=self._other_load_at(point_id)
                )
            except Exception as err:
                # One point's bad state must not stop control for the rest;
                # its homes release by expiry meanwhile (control/quarantine.py).
                self.failed_cycles[point_id] = self.failed_cycles.get(point_id, 0) + 1
                _LOGGER.exception("control cycle of %s failed: quarantined", point_id)
                self.quarantine.enter(point_id, err, now)
                continue
            try:
                await self.fan_out.dispatch(
                    control, plan, fence=self.ownership.fence(point_id)
                )
                await self.alerts.after_cycle(point_id, report, now)
            except Exception:
                _LOGGER.exception("the cycle of %s was not carried out", point_id)
            reports.append(report)
            for listener in self._listeners:
                listener(report)
        await self.alerts.quarantines(self.quarantine, self.link.quarantine, now)
        return reports

    def _other_load_at(self, point_id: str) -> Callable[[datetime], float] | None:
        """The other-load forecast of one congestion point, if there is one."""
        return point_forecast(self._forecast, point_id)

    async def _redeliver_after_connect(self) -> None:
        await self.fan_out.redeliver_after_connect()

    async def _control_loop(self) -> None:
        while True:
            await self.clock.sleep(self.config.control.cycle_s)
            try:
                await self.cycle()
            except Exception:
                _LOGGER.exception("control cycle failed; trying again next cycle")


def _home_addresses(config: AggregatorConfig) -> dict[str, BrokerAddress]:
    enrollment = config.enrollment
    return home_addresses(
        enrollment.endpoints,
        tls=enrollment.broker_tls,
        ca_certificate_file=enrollment.ca_certificate_file,
    )


def point_forecast(
    forecast: OtherLoadForecast | None, point_id: str
) -> Callable[[datetime], float] | None:
    """One congestion point's view of an other-load forecast (None: no forecast)."""
    if forecast is None:
        return None
    return lambda moment: forecast(point_id, moment)
