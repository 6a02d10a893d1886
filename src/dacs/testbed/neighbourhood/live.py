"""The controlled run: the real aggregator, broker, home controllers and Modbus devices.

Everything runs on one simulated clock (``ScaledClock``): the aggregator's
control cycle, the homes' intervals, the commands' times and the physics.
Only the devices' own safety timers (watchdog, limit validity) run on the
real clock, which makes them longer in simulated time: a backstop that stays
safe, never one that fires early.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
import contextlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
import logging
from pathlib import Path
import secrets
import shutil
import tempfile

from aiohttp import web
import numpy as np
from numpy.typing import NDArray

from dacs.aggregator.api.app_keys import SERVICE
from dacs.aggregator.api.settlement_routes import SETTLEMENT
from dacs.aggregator.app import create_app
from dacs.aggregator.clock import ScaledClock
from dacs.aggregator.config import (
    AggregatorConfig,
    ApiConfig,
    ControlConfig,
    DatabaseConfig,
    MqttConfig,
)
from dacs.aggregator.domain.envelope import ISP, CapacityEnvelope
from dacs.aggregator.registry.provisioning import OpenBrokerProvisioner
from dacs.aggregator.service import AggregatorService
from dacs.aggregator.settlement.config import SettlementConfig
from dacs.aggregator.storage.alerts import AlertLedger
from dacs.devices import HeatPump
from dacs.devices.s2 import S2HeatPump
from dacs.home import BrokerSettings, HomeController
from dacs.testbed.servers import find_free_port
from dacs.testbed.sim.household_load import household_power_w
from dacs.testbed.sim.hybrid import HybridHome
from dacs.testbed.sim.s2_resource_manager import SimulatedS2HeatPump
from dacs.testbed.sim.server import SimulatedHeatPumpServer
from dacs.testbed.sim.simulated_heat_pump import serve_home
from dacs.testbed.sim.weather import WeatherSeries

from .counterfactual import STEP_S, LoadTrace, household_forecast
from .grid_signal import GridRequest, GridSignal, make_operator
from .history import seed_history
from .scenario import Scenario
from .settlement_run import EveningSettlement, settle_evening, wait_for_statements

_LOGGER = logging.getLogger(__name__)
POINT_ID = "tr-demo"
# Most homes speak the open profile; some are NIBE and Daikin units.
PROFILE_MIX = ("dacs",) * 7 + ("nibe_s",) * 2 + ("daikin_homehub",)


@dataclass
class HomeRig:
    """One home of the live run: physics, simulated device, driver, controller."""

    home_id: str
    device: SimulatedHeatPumpServer[HybridHome] | SimulatedS2HeatPump
    heat_pump: HeatPump | S2HeatPump
    controller: HomeController
    curtailed_minutes: float = 0.0

    @property
    def plant(self) -> HybridHome:
        """The home's physics."""
        return self.device.plant

    @property
    def curtailed(self) -> bool:
        """True while the device runs under a limit or gas-only."""
        if isinstance(self.device, SimulatedS2HeatPump):
            return self.device.limit is not None
        firmware = self.device.firmware
        return firmware.limit_w is not None or firmware.mode.value != "normal"


async def _modbus_rig(
    index: int, home: HybridHome, speed: float
) -> tuple[SimulatedHeatPumpServer[HybridHome], HeatPump]:
    server = serve_home(
        home,
        PROFILE_MIX[index % len(PROFILE_MIX)],
        serial=f"DEMO{index:04d}",
        speed=speed,
    )
    await server.start()
    heat_pump = HeatPump("127.0.0.1", server.port, timeout=5)
    try:
        await heat_pump.connect()
    except BaseException:
        await server.stop()
        raise
    return server, heat_pump


async def _s2_rig(
    index: int, home: HybridHome, speed: float
) -> tuple[SimulatedS2HeatPump, S2HeatPump]:
    """A home whose heat pump speaks S2: it dials its home controller, which is the CEM."""
    token = secrets.token_urlsafe(12)
    heat_pump = S2HeatPump(
        "127.0.0.1", find_free_port(), token=token, connect_timeout=15
    )
    await heat_pump.listen()
    device = SimulatedS2HeatPump(
        home, heat_pump.url, token=token, serial=f"DEMO-S2-{index:04d}", speed=speed
    )
    await device.start()
    try:
        await heat_pump.connect()
    except BaseException:
        await device.stop()
        await heat_pump.close()
        raise
    return device, heat_pump


@dataclass
class LiveRun:
    """What the live run measured."""

    trace: LoadTrace
    curtailed_minutes: list[float] = field(default_factory=list)
    commands_sent: int = 0
    shortfall_minutes: float = 0.0
    event: CapacityEnvelope | None = None  # the cap event the grid signal put in force
    grid_note: str | None = None  # the grid operator's settlement, in one line
    settlement: EveningSettlement | None = None
    statements_received: int = 0
    alerts: dict[str, int] = field(
        default_factory=dict
    )  # raised during the run, by kind
    # Per minute sample: how many simulated seconds late the recorder woke.
    # On a busy machine the event loop falls behind the scaled clock; every
    # real second it lags, ``speed`` simulated seconds pass with no control
    # cycle, and the minutes it covers judge the machine, not the control.
    lag_s: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))


def event_profile(
    scenario: Scenario, cap_kw: float, start_kw: float
) -> CapacityEnvelope:
    """The grid operator's day-ahead profile: two-interval ramps into and out of the cap."""
    begin, end = scenario.event_window
    quarters = int((end - begin) / ISP)
    caps = [cap_kw] * quarters
    if quarters >= 4:
        caps[0] = start_kw - (start_kw - cap_kw) / 3
        caps[1] = start_kw - 2 * (start_kw - cap_kw) / 3
        caps[-1] = caps[0]
        caps[-2] = caps[1]
    return CapacityEnvelope.day_ahead(
        "da-demo-evening", begin, [round(c, 1) * 1000 for c in caps], origin="demo"
    )


async def run_live(
    scenario: Scenario,
    *,
    broker_host: str,
    broker_port: int,
    shared_group: str = "dacs",
    speed: float,
    cap_kw: float,
    rated_kw: float,
    http_port: int = 0,
    on_ready: Callable[[str], None] | None = None,
    on_progress: Callable[[float, float, float], None] | None = None,
    grid_signal: GridSignal = GridSignal.PROFILE,
    expected_kw: Sequence[float] | None = None,
    profile: CapacityEnvelope | None = None,
    vtn_strict: bool = False,
    vtn_version: str = "3.1.0",
    s2_homes: int = 0,
) -> LiveRun:
    """Run the scenario under control; returns the per-minute trace and fairness figures.

    ``grid_signal`` says how the grid operator asks for the evening's cap: a
    profile entered by the operator, an OpenADR event from a VTN or a UFTP
    FlexRequest; ``expected_kw`` is the load the grid operator expects per
    15 minutes of the event (what it asks to be reduced, over UFTP);
    ``profile`` is what the grid operator asks per 15 minutes (default: the
    demo's day-ahead ramps into and out of ``cap_kw``), whichever signal
    carries it: the profile itself, the caps of an OpenADR event, or a UFTP
    request for ``expected_kw`` less it;
    ``vtn_strict`` runs the OpenADR VTN as a minimal, specification-literal one,
    ``vtn_version`` as an OpenADR 3.1.0 or 3.0.1 VTN; the last ``s2_homes``
    homes' heat pumps speak S2 instead of Modbus.
    """
    if not 0 <= s2_homes <= scenario.homes:
        raise ValueError(f"s2_homes must lie between 0 and {scenario.homes}")
    clock = ScaledClock(scenario.start, speed)
    grid = make_operator(
        grid_signal, clock, vtn_strict=vtn_strict, vtn_version=vtn_version
    )
    if profile is None:
        profile = event_profile(scenario, cap_kw, rated_kw)
    request = GridRequest(
        profile=profile,
        expected_kw=list(expected_kw)
        if expected_kw is not None
        else [rated_kw] * len(profile.intervals),
    )
    workdir = Path(tempfile.mkdtemp(prefix="dacs-demo-"))
    reader_token = secrets.token_urlsafe(12)
    config = AggregatorConfig(
        database=DatabaseConfig(
            url=f"sqlite:///{workdir / 'aggregator.db'}", telemetry_flush_s=1.0
        ),
        mqtt=MqttConfig(
            host=broker_host,
            port=broker_port,
            client_id="dacs-demo-aggregator",
            shared_group=shared_group,
        ),
        api=ApiConfig(
            host="127.0.0.1",
            port=http_port,
            reader_tokens=(reader_token,),
            operator_tokens=(secrets.token_urlsafe(12),),
        ),
        control=ControlConfig(cycle_s=30.0),
        # The demo settles the evening itself once it is over.
        settlement=SettlementConfig(statement_interval_h=0),
    )
    port = http_port or find_free_port()
    try:
        config = await grid.setup(
            config, point_id=POINT_ID, workdir=workdir, api_port=port
        )
        forecast = household_forecast(scenario)
        app = create_app(
            config,
            clock=clock,
            provisioner=OpenBrokerProvisioner(),
            other_load_forecast=lambda _point, moment: forecast(moment),
        )
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
    except BaseException:
        await grid.stop()
        # The folder holds the AGR's private signing key: never left behind.
        shutil.rmtree(workdir, ignore_errors=True)
        raise
    await web.TCPSite(runner, "127.0.0.1", port).start()
    service = app[SERVICE]
    rigs: list[HomeRig] = []
    announcing: asyncio.Task[CapacityEnvelope] | None = None
    try:
        await service.registry.add_congestion_point(
            point_id=POINT_ID,
            name="Demo street transformer",
            rated_capacity_kw=rated_kw,
            grid_operator="Demo DSO",
        )
        await service.reload()
        codes = await service.registry.create_codes(POINT_ID, count=scenario.homes)
        home_ids = [
            (await service.registry.enroll(code.code)).home_id for code in codes
        ]
        weather = WeatherSeries.default(wrap=True)
        # A week of each home's telemetry before the evening: the settlement
        # fits its baselines on it.
        history = await seed_history(
            service.sessions,
            homes=list(zip(home_ids, scenario.home_configs(), strict=True)),
            end=scenario.start,
            weather=weather,
        )
        _LOGGER.info(
            "stored %d rows of history in %.1f s",
            history.rows,
            history.simulate_s + history.store_s,
        )
        for index, (home_id, home_config) in enumerate(
            zip(home_ids, scenario.home_configs(), strict=True)
        ):
            home = HybridHome(home_config, weather, scenario.start)
            device, heat_pump = await (
                _s2_rig(index, home, speed)
                if index >= scenario.homes - s2_homes
                else _modbus_rig(index, home, speed)
            )
            controller = HomeController(
                heat_pump,
                home_id=home_id,
                broker=BrokerSettings(
                    host=broker_host, port=broker_port, client_id=home_id
                ),
                telemetry_interval_s=60.0,
                poll_interval_s=60.0,
                control_interval_s=10.0,
                now=clock.now,
                sleep=clock.sleep,
            )
            await controller.start()
            rigs.append(
                HomeRig(
                    home_id=home_id,
                    device=device,
                    heat_pump=heat_pump,
                    controller=controller,
                )
            )
        # The grid operator's signal travels while the evening runs (a UFTP
        # request goes out shortly before the event, not at the start).
        announcing = asyncio.create_task(grid.announce(service, POINT_ID, request))
        if on_ready is not None:
            on_ready(f"http://127.0.0.1:{port}/?token={reader_token}")
        run = await _record(scenario, clock, service, rigs, on_progress)
        run.alerts = await AlertLedger(service.sessions).raised_since(
            POINT_ID, scenario.start
        )
        run.event = await announcing
        run.grid_note = await grid.settle(
            service, POINT_ID, _delivered_per_interval(run, request, scenario.start)
        )
        # Settle while the homes still run, so their statements reach them.
        await service.writer.flush()
        event = run.event or profile
        run.settlement = await settle_evening(
            app[SETTLEMENT],
            congestion_point_id=POINT_ID,
            start=event.start,
            end=event.end,
        )
        run.statements_received = await wait_for_statements(
            [rig.controller for rig in rigs], run.settlement.period
        )
        return run
    finally:
        if announcing is not None and not announcing.done():
            announcing.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await announcing
        for rig in rigs:
            with contextlib.suppress(Exception):
                await rig.controller.stop()
            with contextlib.suppress(Exception):
                await rig.heat_pump.close()
            with contextlib.suppress(Exception):
                await rig.device.stop()
        await runner.cleanup()
        await grid.stop()
        shutil.rmtree(workdir, ignore_errors=True)  # keys and database included


def _delivered_per_interval(
    run: LiveRun, request: GridRequest, trace_start: datetime
) -> list[float]:
    """What the grid operator's meter saw delivered per 15 minutes (kW, >= 0)."""
    first = (request.profile.start - trace_start).total_seconds() / 60
    measured = run.trace.quarter_means_kw(first, len(request.expected_kw))
    return [
        max(0.0, expected - (seen if seen is not None else expected))
        for expected, seen in zip(request.expected_kw, measured, strict=True)
    ]


async def _record(
    scenario: Scenario,
    clock: ScaledClock,
    service: AggregatorService,
    rigs: list[HomeRig],
    on_progress: Callable[[float, float, float], None] | None,
) -> LiveRun:
    """Sample the neighbourhood every simulated minute and feed the transformer measurement."""
    annual = scenario.annual_household_kwh()
    steps = int(scenario.duration.total_seconds() // STEP_S)
    heat_pump = np.zeros(steps)
    household = np.zeros(steps)
    lag = np.zeros(steps)
    indoor = np.zeros(steps)
    shortfall_minutes = 0.0
    gas_before = sum(r.plant.gas_m3 for r in rigs)
    electric_before = sum(r.plant.electric_energy_wh for r in rigs)
    for step in range(steps):
        target = scenario.start + timedelta(seconds=(step + 1) * STEP_S)
        delay = (target - clock.now()).total_seconds()
        if delay > 0:
            await clock.sleep(delay)
        now = clock.now()
        lag[step] = (now - target).total_seconds()
        hp_w = sum(r.plant.hp_electric_w for r in rigs)
        hh_w = sum(household_power_w(now, kwh) for kwh in annual)
        service.record_measurement(POINT_ID, now, hp_w + hh_w)
        heat_pump[step] = hp_w / 1000
        household[step] = hh_w / 1000
        indoor[step] = min(r.plant.indoor_temp_c for r in rigs)
        for rig in rigs:
            if rig.curtailed:
                rig.curtailed_minutes += STEP_S / 60
        report = service.last_cycle(POINT_ID)
        if report is not None and report.shortfall_w > 0:
            shortfall_minutes += STEP_S / 60
        if on_progress is not None:
            on_progress(
                step * STEP_S / 60,
                (hp_w + hh_w) / 1000,
                (report.cap_w / 1000) if report else float("nan"),
            )
    return LiveRun(
        trace=LoadTrace(
            minutes=np.arange(steps, dtype=np.float64) * STEP_S / 60,
            heat_pump_kw=heat_pump,
            household_kw=household,
            min_indoor_c=indoor,
            gas_m3=sum(r.plant.gas_m3 for r in rigs) - gas_before,
            electric_kwh=(
                sum(r.plant.electric_energy_wh for r in rigs) - electric_before
            )
            / 1000,
        ),
        curtailed_minutes=[r.curtailed_minutes for r in rigs],
        commands_sent=service.counters.commands_sent,
        shortfall_minutes=shortfall_minutes,
        lag_s=lag,
    )
