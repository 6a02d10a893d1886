"""The home controller: the home's side of the protocol and the safety arbitration.

It owns the heat pump driver and (optionally) an MQTT link to the home broker.
Everything that protects the resident runs locally on a one-second tick, with
or without a connection: the opt-out, the comfort guard, the end of every
limit at its envelope end or expiry.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
import contextlib
from dataclasses import replace
from datetime import UTC, datetime, timedelta
import logging
import uuid

from dacs import __version__
from dacs.devices import ControllableHeatPump, HeatPumpError, LimitResult, Measurements
from dacs.protocol import (
    Ack,
    BrokerMove,
    Cancel,
    Channel,
    Command,
    DeviceSummary,
    LimitSource,
    Participation,
    ProtocolError,
    Receipt,
    Statement,
    Status,
    Telemetry,
    decode,
    encode,
    parse_topic,
    topic,
)

from .arbitration import (
    Decision,
    Guard,
    decide,
    needs_write,
    released_by_resident,
    reported_limit,
)
from .broker_move import BrokerMoveError, move_answer, settings_after_move
from .command_book import CommandBook
from .mqtt_link import BrokerSettings, MqttLink, Outgoing
from .resident import ResidentSettings
from .snapshot import FlexEvent, HomeSnapshot
from .unreceipted import DEFAULT_RESEND_AFTER_S, UnreceiptedTelemetry

_LOGGER = logging.getLogger(__name__)

type Listener = Callable[[HomeSnapshot], None]
type EventListener = Callable[[str, FlexEvent], None]

FLEX_EVENT_STARTED = "flex_event_started"
FLEX_EVENT_ENDED = "flex_event_ended"


def utc_now() -> datetime:
    """The current time, timezone-aware."""
    return datetime.now(UTC)


class HomeController:
    """Runs one home: device polling, arbitration, limits, and the protocol."""

    def __init__(
        self,
        heat_pump: ControllableHeatPump,
        *,
        home_id: str | None = None,
        broker: BrokerSettings | None = None,
        settings: ResidentSettings | None = None,
        telemetry_interval_s: float = 10.0,
        poll_interval_s: float | None = None,
        control_interval_s: float = 1.0,
        resend_after_s: float = DEFAULT_RESEND_AFTER_S,
        reconnect_max_s: float = 30.0,
        follow_broker_moves: bool = False,
        now: Callable[[], datetime] = utc_now,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        """Prepare the controller; start() begins work.

        Without ``broker`` the home works alone: monitoring and the resident's
        manual limit, no aggregator. ``now`` and ``sleep`` make one clock: a
        simulation passes a faster one, and every interval is in its time.
        Telemetry without the aggregator's receipt is sent again
        ``resend_after_s`` after its last send (``unreceipted.py``).
        ``follow_broker_moves``: ``broker`` is the central broker itself, so
        a broker move is followed here (behind the add-on it moves the bridge).
        """
        if broker is not None and home_id is None:
            raise ValueError("a home linked to an aggregator needs its home id")
        if telemetry_interval_s <= 0 or control_interval_s <= 0:
            raise ValueError("intervals must be positive")
        self.heat_pump = heat_pump
        self.home_id = home_id
        self.settings = settings or ResidentSettings()
        self.telemetry_interval_s = telemetry_interval_s
        self.poll_interval_s = poll_interval_s or min(telemetry_interval_s, 10.0)
        self.control_interval_s = control_interval_s
        self.follow_broker_moves = follow_broker_moves
        self._now = now
        self._sleep = sleep
        self._book = CommandBook(home_id or "local")
        self._boot_id = uuid.uuid4().hex[:12]
        self._seq = 0
        self.unreceipted = UnreceiptedTelemetry(
            self._boot_id, resend_after_s=resend_after_s
        )
        self._measurements: Measurements | None = None
        self._device_error: str | None = None
        self._decision = decide(
            now=now(), settings=self.settings, command=None, guard_tripped=Guard.NONE
        )
        self._applied: LimitResult | None = None
        self._applied_decision: Decision | None = None
        self._curtailed_since: datetime | None = None
        self._active_event: FlexEvent | None = None
        self._statement: Statement | None = None
        self._listeners: list[Listener] = []
        self._event_listeners: list[EventListener] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._lock = asyncio.Lock()
        self.link: MqttLink | None = None
        if broker is not None and home_id is not None:
            self.link = MqttLink(
                broker,
                subscriptions=[
                    topic(home_id, Channel.COMMAND),
                    topic(home_id, Channel.STATEMENT),
                    topic(home_id, Channel.RECEIPT),
                ],
                on_message=self.handle_message,
                on_connect=self._announce,
                will=(
                    topic(home_id, Channel.STATUS),
                    encode(self._status(online=False)),
                ),
                reconnect_max_s=reconnect_max_s,
            )
            self.link.on_state_change = lambda _up: self._notify()

    # -- lifecycle ---------------------------------------------------------

    async def start(self) -> None:
        """Read the device once, then run the loops in the background."""
        await self._poll_once()
        await self._evaluate()
        loops = [self._control_loop(), self._poll_loop()]
        if self.link is not None:
            loops += [self.link.run(), self._telemetry_loop(self.link)]
        for loop in loops:
            self._tasks.append(
                asyncio.create_task(loop, name=f"dacs-home-{self.home_id}")
            )

    async def stop(self) -> None:
        """Release any limit, say goodbye on the broker, stop every task."""
        loops = list(self._tasks)
        self._tasks.clear()
        if self.link is not None:
            self.link.publish(
                topic(self._home, Channel.STATUS),
                encode(self._status(online=False)),
                retain=True,
            )
            deadline = asyncio.get_running_loop().time() + 2.0
            while self.link.queued and self.link.connected:
                if asyncio.get_running_loop().time() > deadline:
                    break
                await asyncio.sleep(0.05)
        for task in loops:
            task.cancel()
        await asyncio.gather(*loops, return_exceptions=True)
        with contextlib.suppress(HeatPumpError):
            if self.heat_pump.limit.limited:
                await self.heat_pump.release_limit()

    # -- observers ---------------------------------------------------------

    def add_listener(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener`` with a snapshot after every change; returns a remover."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def add_event_listener(self, listener: EventListener) -> Callable[[], None]:
        """Call ``listener(kind, event)`` when a flex event starts or ends."""
        self._event_listeners.append(listener)
        return lambda: self._event_listeners.remove(listener)

    @property
    def snapshot(self) -> HomeSnapshot:
        """What the controller knows now."""
        now = self._now()
        command = self._book.in_force(now)
        upcoming = (
            FlexEvent.of(command)
            if command is not None and command.envelope[0].start > now
            else None
        )
        limit_w, source = self._reported_limit()
        return HomeSnapshot(
            time=now,
            identity=self._safe(lambda: self.heat_pump.identity),
            capabilities=self._safe(lambda: self.heat_pump.capabilities),
            measurements=self._measurements,
            device_available=self._device_error is None,
            device_error=self._device_error,
            decision=self._decision,
            applied=self._applied,
            limit_w=limit_w,
            limit_source=source,
            settings=self.settings,
            comfort_override=released_by_resident(self._book.guard),
            current_event=self._active_event,
            next_event=upcoming,
            aggregator_linked=self.link is not None,
            aggregator_connected=self.link is not None and self.link.connected,
            statement=self._statement,
            telemetry_seq=self._seq,
        )

    @property
    def stale_epoch_refusals(self) -> int:
        """Commands and cancels refused as coming from an aggregator that lost the point."""
        return self._book.stale_refused

    # -- the resident ------------------------------------------------------

    async def set_participation(self, participate: bool) -> None:
        """Switch flex participation on or off; off releases any limit at once."""
        participation = Participation.ON if participate else Participation.OFF
        await self._change_settings(
            replace(self.settings, participation=participation, paused_until=None)
        )

    async def pause(self, until: datetime) -> None:
        """Step out of flexibility events until ``until``; releases any limit at once."""
        if until <= self._now():
            raise ValueError("a pause must end in the future")
        await self._change_settings(
            replace(
                self.settings, participation=Participation.PAUSED, paused_until=until
            )
        )

    async def pause_for(self, duration: timedelta) -> None:
        """Step out for ``duration``."""
        await self.pause(self._now() + duration)

    async def update_settings(self, **changes: object) -> None:
        """Change comfort floor, compensation, maximum curtailment or manual limit."""
        allowed = {
            "comfort_floor_c",
            "min_compensation_eur_per_kwh",
            "max_curtailment_minutes",
            "manual_limit_w",
        }
        unknown = set(changes) - allowed
        if unknown:
            raise ValueError(f"unknown settings: {', '.join(sorted(unknown))}")
        await self._change_settings(replace(self.settings, **changes))  # type: ignore[arg-type]

    async def _change_settings(self, settings: ResidentSettings) -> None:
        previous = self.settings
        self.settings = settings
        if previous.participating(self._now()) and not settings.participating(
            self._now()
        ):
            withdrawn = self._book.withdraw()
            if withdrawn is not None:
                _LOGGER.info(
                    "resident stepped out: command %s released", withdrawn.command_id
                )
        self._publish_preferences()
        await self._evaluate()

    # -- the protocol ------------------------------------------------------

    async def handle_message(self, name: str, payload: bytes) -> None:
        """Handle one message from the home broker (command, cancel, statement, receipt)."""
        now = self._now()
        try:
            home_id, channel = parse_topic(name)
        except ValueError:
            _LOGGER.warning("ignored message on unexpected topic %s", name)
            return
        try:
            message = decode(payload, channel=channel)
        except ProtocolError as err:
            _LOGGER.warning("refused message on %s: %s", name, err)
            if channel is Channel.COMMAND:
                self._send_ack(self._book.refusal(payload, err, now))
            return
        if home_id != self.home_id:
            _LOGGER.warning("ignored message for home %s", home_id)
            return
        if isinstance(message, Command):
            ack = self._book.receive(
                message,
                now=now,
                settings=self.settings,
                capabilities=self._safe(lambda: self.heat_pump.capabilities),
            )
            self._send_ack(ack)
            await self._evaluate()
        elif isinstance(message, Cancel):
            self._send_ack(self._book.cancel(message, now=now))
            await self._evaluate()
        elif isinstance(message, Statement) and message.home_id == self.home_id:
            self._statement = message
            self._notify()
        elif isinstance(message, Receipt):
            self.unreceipted.receipt(message)
            self._resend_overdue()
        elif isinstance(message, BrokerMove) and self.follow_broker_moves:
            await self._move(message, now)

    async def _move(self, move: BrokerMove, now: datetime) -> None:
        """Follow a broker move: answer it, clear what is retained here, reconnect."""
        link = self.link
        if link is None:
            return
        try:
            settings = settings_after_move(link.settings, move.broker)
        except BrokerMoveError as err:
            _LOGGER.warning("refused broker move %s: %s", move.move_id, err)
            self._send_ack(move_answer(self._home, move.move_id, now, str(err)))
            return
        if settings is None:
            return  # on that broker already (a move heard again)
        home = self._home
        ack = move_answer(home, move.move_id, now)
        farewell = [
            Outgoing(topic(home, Channel.ACK), encode(ack), 1, False),
            # Retained status and preferences stay behind on the old broker
            # otherwise, and an aggregator would read them after a restart.
            Outgoing(topic(home, Channel.STATUS), b"", 1, True),
            Outgoing(topic(home, Channel.PREFERENCES), b"", 1, True),
        ]
        await link.move_to(settings, farewell=farewell)

    def _send_ack(self, ack: Ack) -> None:
        if self.link is not None:
            self.link.publish(topic(self._home, Channel.ACK), encode(ack))

    async def _announce(self) -> None:
        """On every (re)connect: status and preferences, both retained."""
        if self.link is None:
            return
        self.unreceipted.reconnected(self._now().timestamp())
        self.link.publish(
            topic(self._home, Channel.STATUS),
            encode(self._status(online=True)),
            retain=True,
        )
        self._publish_preferences()
        self._notify()

    def _publish_preferences(self) -> None:
        if self.link is None:
            return
        preferences = self.settings.preferences(self._home, self._now())
        self.link.publish(
            topic(self._home, Channel.PREFERENCES), encode(preferences), retain=True
        )

    def _status(self, *, online: bool) -> Status:
        device = None
        if online:
            caps = self.heat_pump.capabilities
            ident = self.heat_pump.identity
            device = DeviceSummary(
                profile=ident.profile_id,
                manufacturer=ident.manufacturer,
                model=ident.model,
                nominal_power_w=caps.nominal_electric_w,
                safety_floor_w=caps.safety_floor_w,
                limit_step_w=caps.limit_step_w,
                supports_gas_only=caps.supports_gas_only,
                native_watchdog=caps.native_watchdog,
            )
        return Status(
            home_id=self._home,
            ts=self._now(),
            online=online,
            device=device,
            telemetry_interval_s=max(1, round(self.telemetry_interval_s)),
            software=f"dacs-hw {__version__}",
        )

    def telemetry(self) -> Telemetry:
        """The next telemetry message (advances the sequence number)."""
        measured = self._measurements
        limit_w, source = self._reported_limit()
        message = Telemetry(
            home_id=self._home,
            seq=self._seq,
            boot_id=self._boot_id,
            ts=self._now(),
            electric_power_w=measured.electric_power_w if measured else None,
            thermal_power_w=measured.hp_thermal_w if measured else None,
            boiler_active=measured.boiler_active if measured else None,
            boiler_thermal_w=measured.boiler_thermal_w if measured else None,
            indoor_temp_c=measured.indoor_temp_c if measured else None,
            outdoor_temp_c=measured.outdoor_temp_c if measured else None,
            flow_temp_c=measured.flow_temp_c if measured else None,
            electric_energy_kwh=measured.electric_energy_kwh if measured else None,
            limit_w=limit_w,
            limit_source=source,
            command_id=self._decision.command_id,
            participation=self.settings.participation,
            comfort_override=released_by_resident(self._book.guard),
            device_fault=measured.fault_code if measured else None,
        )
        self._seq += 1
        return message

    # -- loops ---------------------------------------------------------------

    async def _control_loop(self) -> None:
        while True:
            await self._sleep(self.control_interval_s)
            try:
                await self._evaluate()
            except Exception:
                _LOGGER.exception("control step failed; trying again")

    async def _poll_loop(self) -> None:
        while True:
            await self._sleep(self.poll_interval_s)
            await self._poll_once()

    async def _telemetry_loop(self, link: MqttLink) -> None:
        while True:
            await self._sleep(self.telemetry_interval_s)
            message = self.telemetry()
            payload = encode(message)
            self.unreceipted.keep(message.seq, payload, self._now().timestamp())
            link.publish(topic(self._home, Channel.TELEMETRY), payload)
            self._resend_overdue()

    def _resend_overdue(self) -> None:
        """Send again what no receipt has named in time (never into a dead link)."""
        link = self.link
        if link is None or not link.connected:
            return
        for payload in self.unreceipted.due(self._now().timestamp()):
            link.publish(topic(self._home, Channel.TELEMETRY), payload)

    async def _poll_once(self) -> None:
        try:
            self._measurements = await self.heat_pump.read_measurements()
        except HeatPumpError as err:
            if self._device_error is None:
                _LOGGER.warning("heat pump unavailable: %s", err)
            self._device_error = str(err)
        else:
            if self._device_error is not None:
                _LOGGER.info("heat pump available again")
            self._device_error = None
        self._notify()

    async def _evaluate(self) -> None:
        """One arbitration step; writes to the device only when the decision changed."""
        async with self._lock:
            now = self._now()
            settled = self.settings.settled(now)
            if settled is not self.settings:
                _LOGGER.info("pause ended: taking part again")
                self.settings = settled
                self._publish_preferences()
            step = self._book.arbitrate(
                now,
                previous=self._decision,
                curtailed_since=self._curtailed_since,
                indoor_temp_c=(
                    self._measurements.indoor_temp_c if self._measurements else None
                ),
                settings=self.settings,
            )
            self._curtailed_since = step.curtailed_since
            self._log_guard(step.tripped)
            decision = step.decision
            self._decision = decision
            self._track_event(now)
            if needs_write(self._applied_decision, decision):
                await self._write(decision, now)
            self._notify()

    def _log_guard(self, tripped: Guard | None) -> None:
        if tripped is Guard.COMFORT:
            _LOGGER.info(
                "comfort guard: below the resident's %.1f °C; limit released",
                self.settings.comfort_floor_c,
            )
        elif tripped is Guard.MAX_DURATION:
            _LOGGER.info(
                "curtailed for the resident's maximum of %s minutes; limit released",
                self.settings.max_curtailment_minutes,
            )

    def _track_event(self, now: datetime) -> None:
        command = self._book.in_force(now)
        active = (
            command is not None
            and self._book.guard is Guard.NONE
            and self.settings.participating(now)
            and now >= command.envelope[0].start
        )
        current = self._active_event
        if current is not None and (
            not active or command is None or command.command_id != current.command_id
        ):
            self._active_event = None
            self._emit(FLEX_EVENT_ENDED, current)
        if active and command is not None and self._active_event is None:
            self._active_event = FlexEvent.of(command)
            self._emit(FLEX_EVENT_STARTED, self._active_event)

    async def _write(self, decision: Decision, now: datetime) -> None:
        validity = (
            max(1.0, (decision.valid_until - now).total_seconds())
            if decision.valid_until is not None
            and decision.source is LimitSource.AGGREGATOR
            else None
        )
        try:
            self._applied = await self.heat_pump.set_power_limit(
                decision.max_power_w, validity_s=validity
            )
        except HeatPumpError as err:
            # Not marked as applied: the next tick tries again. One log line
            # per outage, shared with the poll loop's, not one per tick.
            if self._device_error is None:
                _LOGGER.warning("heat pump unavailable, limit not applied yet: %s", err)
            self._device_error = str(err)
            return
        self._applied_decision = decision

    def _reported_limit(self) -> tuple[float | None, LimitSource]:
        return reported_limit(self._applied, self._applied_decision)

    # -- helpers -------------------------------------------------------------

    @property
    def _home(self) -> str:
        return self.home_id or "local"

    def _notify(self) -> None:
        if not self._listeners:
            return
        snapshot = self.snapshot
        for listener in list(self._listeners):
            try:
                listener(snapshot)
            except Exception:
                _LOGGER.exception("snapshot listener failed")

    def _emit(self, kind: str, event: FlexEvent) -> None:
        _LOGGER.info("%s: %s", kind, event.command_id)
        for listener in list(self._event_listeners):
            try:
                listener(kind, event)
            except Exception:
                _LOGGER.exception("event listener failed")

    @staticmethod
    def _safe[T](getter: Callable[[], T]) -> T | None:
        try:
            return getter()
        except HeatPumpError:
            return None
