"""The fast path: one scenario on the real control code, in-process, in simulated time.

The aggregator's side is the real ``CongestionPointControl``, ``Fleet`` and
``AlertMonitor``; each home is a :class:`FastHome` (the home controller's
rules and the device layer's limit planning) on the simulated physics.
Messages are handed over as the protocol's own objects, without MQTT or
Modbus, so an evening of 200 homes takes seconds.

Timing follows the demo: the physics and the homes' arbitration step every
10 s, each home reports telemetry every 60 s (spread over the minute), the
transformer's load is measured every minute and the control cycle runs every
30 s.
"""

from __future__ import annotations

from collections.abc import Callable
import copy
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Literal, Protocol

import numpy as np
from numpy.typing import NDArray

from dacs.aggregator.control.alerts import AlertKind, AlertMonitor
from dacs.aggregator.control.fleet import Fleet
from dacs.aggregator.control.loop import CongestionPointControl
from dacs.aggregator.control.other_load import OtherLoadAt
from dacs.aggregator.domain.envelope import CapacityEnvelope
from dacs.protocol import Cancel, Command, Participation, Status
from dacs.testbed.neighbourhood.counterfactual import (
    household_forecast,
    household_trace,
)
from dacs.testbed.neighbourhood.live import PROFILE_MIX
from dacs.testbed.sim.home_config import HybridHomeConfig
from dacs.testbed.sim.hybrid import HybridHome
from dacs.testbed.sim.neighbourhood_model import NeighbourhoodModel
from dacs.testbed.sim.weather import Weather

from .fast_home import FastHome
from .grid_signals import POINT_ID, GridAsk
from .model_home import HomePhysics, ModelHome
from .spec import ScenarioSpec

STEP_S = 10.0
TELEMETRY_S = 60.0
CYCLE_S = 30.0
_STEPS_PER_MINUTE = round(60 / STEP_S)
# "per_home": each home a HybridHome, stepped one by one (the Modbus
# simulator's model); "vectorised": one NeighbourhoodModel steps the street
# at once. Same equations; they agree to rounding (tests/scenarios).
Physics = Literal["per_home", "vectorised"]
PHYSICS: tuple[Physics, ...] = ("per_home", "vectorised")


class Controller(Protocol):
    """Decides each cycle which commands and cancels go to the homes."""

    name: str

    def put_in_force(self, envelope: CapacityEnvelope) -> None:
        """The grid operator's envelope reaches the aggregator."""

    def cycle(self, now: datetime) -> list[Command | Cancel]:
        """The messages of one control cycle."""

    def measured(self, at: datetime, load_w: float) -> None:
        """The transformer's load over the last minute."""


@dataclass(frozen=True, kw_only=True)
class FastRun:
    """What one run of a scenario measured, per minute."""

    controller: str
    times: tuple[datetime, ...]  # the start of each minute
    heat_pump_w: NDArray[np.float64]  # mean over the minute
    household_w: NDArray[np.float64]
    min_indoor_c: NDArray[np.float64]  # the coldest home at the end of the minute
    gas_m3: NDArray[np.float64]  # per home, over the whole run
    curtailed_minutes: NDArray[np.float64]  # per home
    event_electric_wh: NDArray[np.float64]  # per home, during the event
    home_power_w: NDArray[np.float64]  # per home and minute: heat pump electric power
    home_heat_w: NDArray[np.float64]  # per home and minute: heat pump heat
    commands: int
    shortfall_minutes: float
    not_following_alerts: int
    # The aggregator's view of the homes when the grid operator's signal
    # arrived (``GridAsk.announced``): a UFTP offer is made from it.
    fleet_at_announce: Fleet | None = None

    @property
    def total_w(self) -> NDArray[np.float64]:
        """The transformer's load per minute."""
        total: NDArray[np.float64] = self.heat_pump_w + self.household_w
        return total


class DacsController:
    """Our control: the aggregator's congestion point loop, as the service runs it."""

    name = "dacs"

    def __init__(
        self, fleet: Fleet, ask: GridAsk, other_load_at: OtherLoadAt | None = None
    ) -> None:
        """Control ``fleet``'s homes under ``ask``, with the other load's forecast."""
        self.other_load_at = other_load_at
        self.control = CongestionPointControl(
            point_id=POINT_ID,
            rated_capacity_kw=ask.rated_kw,
            fleet=fleet,
            fixed=ask.fixed,
        )
        self.alerts = AlertMonitor(POINT_ID)
        self.not_following = 0
        self.shortfall_cycles = 0

    def measured(self, at: datetime, load_w: float) -> None:
        """Feed the transformer measurement."""
        self.control.record_measurement(at, load_w)

    def put_in_force(self, envelope: CapacityEnvelope) -> None:
        """The grid operator's envelope reaches the aggregator."""
        self.control.put_in_force(envelope)

    def cycle(self, now: datetime) -> list[Command | Cancel]:
        """One cycle: allocate, plan, and watch for anomalies."""
        report, plan = self.control.cycle(now, other_load_at=self.other_load_at)
        messages: list[Command | Cancel] = [*plan.commands, *plan.cancels]
        for message in messages:
            self.control.sent(message)
        raised, _ = self.alerts.evaluate(self.control.fleet, report, now)
        self.not_following += sum(
            1 for a in raised if a.kind is AlertKind.NOT_FOLLOWING_LIMIT
        )
        if report.shortfall_w > 0:
            self.shortfall_cycles += 1
        return messages


# A controller for a fleet, a grid operator's ask and the other load's forecast.
ControllerFactory = Callable[[Fleet, GridAsk, OtherLoadAt], Controller]


def run_fast(
    spec: ScenarioSpec,
    ask: GridAsk,
    weather: Weather,
    *,
    controller: ControllerFactory | None = DacsController,
    physics: Physics = "per_home",
) -> FastRun:
    """Run ``spec`` under ``controller`` (None: no control at all) on ``physics``."""
    scenario = spec.neighbourhood()
    configs = scenario.home_configs()
    model, views = _physics(physics, configs, weather, scenario.start)
    homes = [
        FastHome(home_id, view, PROFILE_MIX[index % len(PROFILE_MIX)])
        for index, (home_id, view) in enumerate(
            zip(scenario.home_ids(), views, strict=True)
        )
    ]
    fleet = Fleet()
    for home in homes:
        fleet.add(home.home_id, POINT_ID)
        fleet.apply_status(home.status(scenario.start, TELEMETRY_S))
        fleet.apply_preferences(home.preferences(scenario.start))
    control = (
        controller(fleet, ask, household_forecast(scenario))
        if controller is not None
        else None
    )
    household_kw = household_trace(scenario)
    minutes = len(household_kw)
    heat_pump = np.zeros(minutes)
    indoor = np.zeros(minutes)
    curtailed = np.zeros(len(homes))
    commands = 0
    announced = False
    fleet_at_announce: Fleet | None = None
    incident = scenario.start + spec.incident_at
    opted_out = homes[: spec.opt_outs]
    offline = homes[spec.opt_outs : spec.opt_outs + spec.offline]
    home_power = np.zeros((len(homes), minutes))
    home_heat = np.zeros((len(homes), minutes))
    minute_power = np.zeros(len(homes))
    by_id = {home.home_id: home for home in homes}
    event_begin, event_end = scenario.event_window
    event_wh = np.zeros(len(homes))
    for minute in range(minutes):
        minute_power[:] = 0.0
        for sub in range(_STEPS_PER_MINUTE):
            now = scenario.start + timedelta(seconds=minute * 60 + sub * STEP_S)
            if now == incident:
                _incident(fleet, opted_out, offline, now)
            if (
                fleet_at_announce is None
                and ask.announced is not None
                and now >= ask.announced
            ):
                fleet_at_announce = copy.deepcopy(fleet)
            if (
                control is not None
                and not announced
                and ask.envelope is not None
                and ask.announced is not None
                and now >= ask.announced
            ):
                control.put_in_force(ask.envelope)
                announced = True
            if control is not None and sub % round(CYCLE_S / STEP_S) == 0:
                for message in control.cycle(now):
                    commands += 1
                    _deliver(fleet, by_id, message, now)
            if model is not None:
                for home in homes:
                    home.evaluate(now)
                step = model.step(STEP_S)
                for view in views:
                    if isinstance(view, ModelHome):
                        view.took(step)
            for index, home in enumerate(homes):
                if model is None:
                    home.evaluate(now)
                    home.step(STEP_S)
                power = home.physics.hp_electric_w
                minute_power[index] += power / _STEPS_PER_MINUTE
                home_heat[index, minute] += (
                    home.physics.hp_thermal_w / _STEPS_PER_MINUTE
                )
                if event_begin <= now < event_end:
                    event_wh[index] += power * STEP_S / 3600
                if home.curtailed:
                    curtailed[index] += STEP_S / 60
                # Spread over the minute, as real homes' timers are.
                if (
                    home.online
                    and (minute * _STEPS_PER_MINUTE + sub + index) % (_STEPS_PER_MINUTE)
                    == 0
                ):
                    moment = now + timedelta(seconds=STEP_S)
                    fleet.apply_telemetry(home.telemetry(moment), moment)
        end = scenario.start + timedelta(minutes=minute + 1)
        heat_pump[minute] = float(minute_power.sum())
        home_power[:, minute] = minute_power
        indoor[minute] = min(h.physics.indoor_temp_c for h in homes)
        if control is not None:
            control.measured(end, heat_pump[minute] + household_kw[minute] * 1000)
    dacs = control if isinstance(control, DacsController) else None
    return FastRun(
        controller=getattr(control, "name", "none"),
        times=tuple(scenario.start + timedelta(minutes=m) for m in range(minutes)),
        heat_pump_w=heat_pump,
        household_w=household_kw * 1000,
        min_indoor_c=indoor,
        gas_m3=np.array([h.physics.gas_m3 for h in homes]),
        curtailed_minutes=curtailed,
        event_electric_wh=event_wh,
        home_power_w=home_power,
        home_heat_w=home_heat,
        commands=commands,
        shortfall_minutes=dacs.shortfall_cycles * CYCLE_S / 60 if dacs else 0.0,
        not_following_alerts=dacs.not_following if dacs else 0,
        fleet_at_announce=fleet_at_announce,
    )


def _physics(
    physics: Physics,
    configs: list[HybridHomeConfig],
    weather: Weather,
    start: datetime,
) -> tuple[NeighbourhoodModel | None, list[HomePhysics]]:
    """The street's physics: one HybridHome per home, or one model for all."""
    if physics == "per_home":
        return None, [HybridHome(config, weather, start) for config in configs]
    if physics == "vectorised":
        model = NeighbourhoodModel(configs, weather, start)
        return model, [ModelHome(model, i, c) for i, c in enumerate(configs)]
    raise ValueError(f"physics must be one of {PHYSICS}, got {physics!r}")


def _deliver(
    fleet: Fleet, homes: dict[str, FastHome], message: Command | Cancel, now: datetime
) -> None:
    """Hand a message to its home, and the home's ack back (lost while offline)."""
    home = homes.get(message.home_id)
    if home is None or not home.online:
        return
    ack = (
        home.receive(message, now)
        if isinstance(message, Command)
        else home.cancel(message, now)
    )
    fleet.apply_ack(ack)


def _incident(
    fleet: Fleet, opted_out: list[FastHome], offline: list[FastHome], now: datetime
) -> None:
    """Residents switch off, connections drop."""
    for home in opted_out:
        home.change_settings(
            replace(home.settings, participation=Participation.OFF), now
        )
        fleet.apply_preferences(home.preferences(now))
    for home in offline:
        home.online = False
        fleet.apply_status(Status(home_id=home.home_id, ts=now, online=False))
