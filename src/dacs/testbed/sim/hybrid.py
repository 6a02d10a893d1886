"""A hybrid heat pump home: house, heat pump, boiler and their controls.

The heat pump comes first: it covers as much of the thermostat's heat demand
as its capacity and the electric limit allow, and the boiler tops up the
rest. That division is what lets a grid operator cap the heat pump's power
while the house stays warm. Below a switch-over outdoor temperature the
boiler takes over entirely.

Two ways to run it, with the same physics and the same control law:

* :class:`HybridHome`, a mutable object stepped one step at a time, whose
  limit, mode and setpoint may change between steps (the Modbus simulator);
* :func:`simulate_year`, a fast path for long runs at fixed settings: all
  weather-dependent quantities are computed as arrays up front and the
  feedback loop is a tight scalar loop over precomputed coefficients.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
import math
import random

import numpy as np
from numpy.typing import NDArray

from dacs.devices.models import OperatingMode

from . import equations as eq
from .boiler import GAS_HHV_J_PER_M3, BoilerSpec
from .heat_pump_model import modulating_heat_pump, on_off_heat_pump
from .home_config import HeatingCurve, HybridHomeConfig, Thermostat, _check_setpoint  # noqa: F401 - kept importable from here, where they lived
from .home_readings import HomeReadings
from .house import (
    DwellingType,
    HouseState,
    InsulationLevel,
    discretise,
    house_parameters,
    steady_state_house,
)
from .occupants import HouseholdArrays, calendar, household_inputs
from .weather import Weather, WeatherSample, epoch_seconds, sample_many

YEAR_S = 365 * 86_400.0
_CHUNK_STEPS = 10_080  # one week of 1-minute steps: bounded memory, few NumPy calls
_LONG_AGO_S = 1e9  # "the compressor last switched long ago": no timer blocks it


@dataclass(frozen=True)
class StepResult:
    """One step of a home.

    Temperatures of the house are at ``time``, the end of the step; powers
    are means over the step; the outdoor and flow temperatures are those
    held during it.
    """

    time: datetime
    outdoor_temp_c: float
    indoor_temp_c: float
    mass_temp_c: float
    flow_temp_c: float
    return_temp_c: float
    heat_demand_w: float
    hp_electric_w: float
    hp_thermal_w: float
    cop: float
    boiler_thermal_w: float
    boiler_gas_w: float
    delivered_heat_w: float
    unmet_heat_w: float
    hot_water_w: float = 0.0  # tap water heated by the boiler (in boiler_thermal_w)
    room_setpoint_c: float = 20.0  # after any night setback
    started: bool = False  # the compressor started in this step


class HybridHome(HomeReadings[StepResult]):
    """One simulated home, stepped by the caller.

    Set :attr:`electric_limit_w`, :attr:`mode` and :attr:`room_setpoint_c`
    between steps; :meth:`step` holds them, and the weather at the step's
    start, constant for the step.
    """

    def __init__(
        self,
        config: HybridHomeConfig,
        weather: Weather,
        start: datetime,
        initial_indoor_c: float | None = None,
    ) -> None:
        """Start at ``start`` in equilibrium at ``initial_indoor_c``.

        Args:
            config: The home.
            weather: Outdoor conditions.
            start: Timezone-aware start time.
            initial_indoor_c: Indoor temperature at the start; the setpoint
                when None. The building mass starts in equilibrium with it.

        Raises:
            ValueError: ``start`` is naive, or the weather or the initial
                temperature is not finite.
        """
        epoch_seconds(start)
        sample = _weather_at(weather, start)
        super().__init__(config, sample.outdoor_temp_c)
        self._weather = weather
        self._time = start
        indoor = (
            config.room_setpoint_c if initial_indoor_c is None else initial_indoor_c
        )
        self._state = steady_state_house(config.house, indoor, sample.outdoor_temp_c)
        self._electric_limit_w: float | None = None
        self._mode = OperatingMode.NORMAL
        self.room_setpoint_c = config.room_setpoint_c
        self._hp_on = 0.0
        self._since_switch_s = _LONG_AGO_S
        self._people = (
            None if config.household is None else HouseholdArrays.of([config.household])
        )
        self.starts = 0
        self.hot_water_wh = 0.0
        self.startup_loss_wh = 0.0
        self.electric_energy_wh = 0.0
        self.hp_heat_wh = 0.0
        self.boiler_heat_wh = 0.0
        self.gas_m3 = 0.0
        self.unmet_heat_wh = 0.0

    @property
    def time(self) -> datetime:
        """Simulation clock: the end of the last step."""
        return self._time

    @property
    def state(self) -> HouseState:
        """Current temperatures of the house."""
        return self._state

    @property
    def electric_limit_w(self) -> float | None:
        """Cap on the heat pump's electric power (W); None for no cap."""
        return self._electric_limit_w

    @electric_limit_w.setter
    def electric_limit_w(self, value: float | None) -> None:
        if value is not None and not (math.isfinite(value) and value >= 0):
            raise ValueError(f"electric_limit_w must be None or >= 0, got {value}")
        self._electric_limit_w = value

    @property
    def mode(self) -> OperatingMode:
        """Operating mode for the next steps."""
        return self._mode

    @mode.setter
    def mode(self, value: OperatingMode) -> None:
        self._mode = OperatingMode(value)

    @property
    def room_setpoint_c(self) -> float:
        """Room temperature the thermostat aims at."""
        return self._room_setpoint_c

    @room_setpoint_c.setter
    def room_setpoint_c(self, value: float) -> None:
        _check_setpoint(value)
        self._room_setpoint_c = value

    @property
    def indoor_temp_c(self) -> float:
        """Indoor air temperature now."""
        return self._state.indoor_temp_c

    @property
    def mass_temp_c(self) -> float:
        """Building mass temperature now."""
        return self._state.mass_temp_c

    @property
    def flow_temp_c(self) -> float:
        """Flow temperature of the latest step (or the curve's at the start)."""
        if self._last is None:
            return self._config.heating_curve.flow_temp_c(self._outdoor_temp_c)
        return self._last.flow_temp_c

    @property
    def return_temp_c(self) -> float:
        """Return temperature of the latest step (the flow's before any)."""
        return self.flow_temp_c if self._last is None else self._last.return_temp_c

    @property
    def cop(self) -> float:
        """Heat pump COP of the latest step (0 when it did not run)."""
        return 0.0 if self._last is None else self._last.cop

    @property
    def heat_demand_w(self) -> float:
        """Thermostat heat demand of the latest step."""
        return 0.0 if self._last is None else self._last.heat_demand_w

    def step(self, dt_s: float) -> StepResult:
        """Advance the home by ``dt_s`` seconds and return what happened.

        Raises:
            ValueError: ``dt_s`` is not a positive number, or the weather
                gives non-finite values.
        """
        if not (math.isfinite(dt_s) and dt_s > 0):
            raise ValueError(f"dt_s must be a positive number of seconds, got {dt_s}")
        config = self._config
        sample = _weather_at(self._weather, self._time)
        outdoor = sample.outdoor_temp_c
        solar = sample.global_radiation_wm2
        house = config.house
        hp = config.heat_pump
        curve = config.heating_curve
        setpoint = self._room_setpoint_c
        gains = house.internal_gains_w
        hot_water = tap = offset = resolution = 0.0
        if self._people is not None and config.household is not None:
            inputs = household_inputs(
                self._people, calendar(np.array([self._time.timestamp()])), dt_s
            )
            setpoint -= float(inputs.setpoint_drop_k[0, 0])
            gains = float(inputs.gains_w[0, 0])
            hot_water = float(inputs.hot_water_w[0, 0])
            tap = float(inputs.tap_share[0, 0])
            offset = config.household.thermostat_offset_k
            resolution = config.household.thermostat_resolution_k
        flow = eq.flow_temp_c(
            outdoor,
            curve.mild_outdoor_c,
            curve.mild_flow_c,
            curve.slope_k_per_k,
            curve.design_flow_c,
        )
        feed_forward = eq.feed_forward_w(
            house.total_conductance_w_per_k, config.mean_gains_w, setpoint, outdoor
        )
        sensed = eq.sensed_temp_c(self._state.indoor_temp_c, offset, resolution)
        thermostat = config.thermostat
        half_band = thermostat.deadband_k / 2
        demand = eq.thermostat_demand_w(
            feed_forward, setpoint, sensed, thermostat.gain_w_per_k, half_band
        )
        performance = eq.cop_from_fit(hp.cop_fit.coefficients, outdoor, flow)
        full = eq.full_electric_w(
            hp.nominal_electric_w, hp.electric_fit.coefficients, outdoor, flow
        )
        limit = self._electric_limit_w
        permitted = (
            1.0
            if self._mode is OperatingMode.NORMAL
            and config.heat_pump_allowed(outdoor)
            and (limit is None or limit >= hp.min_electric_w)
            and full > 0
            else 0.0
        )
        boiler_max = (
            0.0 if self._mode is OperatingMode.OFF else config.boiler.max_thermal_w
        )
        flows = eq.heat_flows(
            on=self._hp_on,
            since_switch_s=self._since_switch_s,
            permitted=permitted,
            demand_w=demand,
            cop=performance,
            capacity_w=(full if limit is None else min(full, limit)) * performance,
            min_electric_w=hp.min_electric_w,
            error_k=setpoint - sensed,
            half_band_k=half_band,
            min_run_s=hp.min_run_s,
            min_off_s=hp.min_off_s,
            ramp_s=hp.startup_ramp_s,
            boiler_available_w=boiler_max * (1.0 - tap),
            dt_s=dt_s,
        )
        running, heat, electric = flows.running, flows.heat_w, flows.electric_w
        hp_heat, boiler_space = flows.hp_heat_w, flows.boiler_space_w
        hot_water = min(hot_water, config.boiler.max_thermal_w)
        delivered = hp_heat + boiler_space
        gas_w = (
            boiler_space / config.boiler.efficiency
            + hot_water / config.boiler.hot_water_efficiency
        )
        k = discretise(house, dt_s)
        sun = house.solar_aperture_m2 * solar
        indoor, mass = eq.house_step(
            (k.phi_aa, k.phi_am, k.phi_ma, k.phi_mm, k.air_a, k.air_m),
            indoor_c=self._state.indoor_temp_c,
            mass_c=self._state.mass_temp_c,
            drive_air=eq.house_drive(
                (k.outdoor_a, k.air_a, k.mass_a), outdoor, gains, sun
            ),
            drive_mass=eq.house_drive(
                (k.outdoor_m, k.air_m, k.mass_m), outdoor, gains, sun
            ),
            heat_w=delivered,
        )
        self._state = HouseState(indoor, mass)
        started = bool(flows.started)
        self._since_switch_s = flows.since_switch_s
        self._hp_on = running
        self._time += timedelta(seconds=dt_s)
        self._outdoor_temp_c = outdoor
        hours = dt_s / 3600.0
        self.electric_energy_wh += electric * hours
        self.hp_heat_wh += hp_heat * hours
        self.boiler_heat_wh += (boiler_space + hot_water) * hours
        self.hot_water_wh += hot_water * hours
        self.startup_loss_wh += (heat - hp_heat) * hours
        self.starts += started
        self.gas_m3 += gas_w * dt_s / GAS_HHV_J_PER_M3
        unmet = max(0.0, demand - delivered)
        self.unmet_heat_wh += unmet * hours
        self._last = StepResult(
            time=self._time,
            outdoor_temp_c=outdoor,
            indoor_temp_c=self._state.indoor_temp_c,
            mass_temp_c=self._state.mass_temp_c,
            flow_temp_c=flow,
            return_temp_c=config.return_temp_c(flow, delivered),
            heat_demand_w=demand,
            hp_electric_w=electric,
            hp_thermal_w=hp_heat,
            cop=performance if running else 0.0,
            boiler_thermal_w=boiler_space + hot_water,
            boiler_gas_w=gas_w,
            delivered_heat_w=delivered,
            unmet_heat_w=unmet,
            hot_water_w=hot_water,
            room_setpoint_c=setpoint,
            started=started,
        )
        return self._last


@dataclass(frozen=True)
class SimulationTrace:
    """Per-step values of a fast-path run (recorded on request)."""

    indoor_temp_c: NDArray[np.float64]
    hp_electric_w: NDArray[np.float64]
    boiler_thermal_w: NDArray[np.float64]


@dataclass(frozen=True, kw_only=True)
class YearSummary:
    """Totals of a fast-path run (by default a year)."""

    start: datetime
    end: datetime
    step_s: float
    steps: int
    electric_energy_wh: float
    hp_heat_wh: float
    boiler_heat_wh: float
    gas_m3: float
    unmet_heat_wh: float
    final_state: HouseState
    min_indoor_c: float
    max_indoor_c: float
    mean_indoor_c: float
    trace: SimulationTrace | None = None

    @property
    def heat_pump_share(self) -> float:
        """Share of the delivered heat that came from the heat pump."""
        total = self.hp_heat_wh + self.boiler_heat_wh
        return self.hp_heat_wh / total if total else 0.0

    @property
    def seasonal_cop(self) -> float:
        """Heat pump heat over its electricity (0 if it never ran)."""
        return (
            self.hp_heat_wh / self.electric_energy_wh
            if self.electric_energy_wh
            else 0.0
        )


def simulate_year(
    config: HybridHomeConfig,
    weather: Weather,
    start: datetime,
    step_s: float = 60.0,
    *,
    duration_s: float = YEAR_S,
    electric_limit_w: float | None = None,
    mode: OperatingMode = OperatingMode.NORMAL,
    initial_indoor_c: float | None = None,
    record: bool = False,
) -> YearSummary:
    """Simulate one home at fixed settings, fast.

    Gives the same results as stepping a :class:`HybridHome` with the same
    settings (up to rounding). Weather that implements
    :class:`~dacs.testbed.sim.weather.ArrayWeather` is sampled in one vectorised
    call per chunk; other weather is asked step by step. A
    :class:`~dacs.testbed.sim.weather.WeatherSeries` shorter than the run needs
    ``wrap=True``.

    Args:
        config: The home; its ``room_setpoint_c`` holds throughout.
        weather: Outdoor conditions.
        start: Timezone-aware start.
        step_s: Step length (s).
        duration_s: Length of the run (s); rounded down to whole steps.
        electric_limit_w: Constant cap on the heat pump (W), None for none.
        mode: Constant operating mode.
        initial_indoor_c: Indoor temperature at the start (setpoint if None).
        record: Also return per-step indoor temperature, heat pump power and
            boiler heat.

    Raises:
        ValueError: naive ``start``, non-positive step or duration, a
            negative limit, or weather the run cannot use.
    """
    start_s = epoch_seconds(start)
    if not (math.isfinite(step_s) and step_s > 0):
        raise ValueError(f"step_s must be a positive number of seconds, got {step_s}")
    if not (math.isfinite(duration_s) and duration_s >= step_s):
        raise ValueError(f"duration_s must be at least one step, got {duration_s}")
    if electric_limit_w is not None and not (
        math.isfinite(electric_limit_w) and electric_limit_w >= 0
    ):
        raise ValueError(
            f"electric_limit_w must be None or >= 0, got {electric_limit_w}"
        )
    mode = OperatingMode(mode)
    _check_setpoint(config.room_setpoint_c)  # the config is mutable
    steps = int(duration_s // step_s)
    if config.stateful:
        return _simulate_stateful(
            config,
            weather,
            start,
            step_s,
            steps,
            electric_limit_w=electric_limit_w,
            mode=mode,
            initial_indoor_c=initial_indoor_c,
            record=record,
        )
    house = config.house
    setpoint = config.room_setpoint_c
    indoor = setpoint if initial_indoor_c is None else initial_indoor_c
    initial = steady_state_house(
        house, indoor, _weather_at(weather, start).outdoor_temp_c
    )
    loop = _FastLoop(config, step_s, electric_limit_w, mode, initial, record=record)
    for first in range(0, steps, _CHUNK_STEPS):
        count = min(_CHUNK_STEPS, steps - first)
        times = start_s + step_s * np.arange(first, first + count, dtype=np.float64)
        outdoor, solar = sample_many(weather, times)
        loop.run(outdoor, solar)
    indoor_all = np.concatenate(loop.indoor) if loop.indoor else np.empty(0)
    trace = None
    if record:
        trace = SimulationTrace(
            indoor_temp_c=indoor_all,
            hp_electric_w=np.concatenate(loop.hp_electric),
            boiler_thermal_w=np.concatenate(loop.boiler_thermal),
        )
    hours = step_s / 3600.0
    return YearSummary(
        start=start,
        end=start + timedelta(seconds=steps * step_s),
        step_s=step_s,
        steps=steps,
        electric_energy_wh=loop.electric_w_sum * hours,
        hp_heat_wh=loop.hp_heat_w_sum * hours,
        boiler_heat_wh=loop.boiler_heat_w_sum * hours,
        gas_m3=loop.boiler_heat_w_sum
        * hours
        * 3600.0
        / config.boiler.efficiency
        / GAS_HHV_J_PER_M3,
        unmet_heat_wh=loop.unmet_w_sum * hours,
        final_state=HouseState(loop.indoor_c, loop.mass_c),
        min_indoor_c=float(indoor_all.min()),
        max_indoor_c=float(indoor_all.max()),
        mean_indoor_c=float(indoor_all.mean()),
        trace=trace,
    )


def _simulate_stateful(
    config: HybridHomeConfig,
    weather: Weather,
    start: datetime,
    step_s: float,
    steps: int,
    *,
    electric_limit_w: float | None,
    mode: OperatingMode,
    initial_indoor_c: float | None,
    record: bool,
) -> YearSummary:
    """Occupants and compressor timers need the full model: a neighbourhood of one."""
    from .neighbourhood_model import NeighbourhoodModel  # noqa: PLC0415 - a cycle

    model = NeighbourhoodModel(
        [config], weather, start, initial_indoor_c=initial_indoor_c
    )
    model.set_limit(0, electric_limit_w)
    model.set_mode(0, mode)
    run = model.run(
        steps * step_s, step_s, record_interval_s=step_s if record else None
    )
    trace = None
    if run.record is not None:
        trace = SimulationTrace(
            indoor_temp_c=run.record.indoor_temp_c[:, 0],
            hp_electric_w=run.record.hp_electric_w[:, 0],
            boiler_thermal_w=run.record.boiler_thermal_w[:, 0],
        )
    return YearSummary(
        start=start,
        end=start + timedelta(seconds=steps * step_s),
        step_s=step_s,
        steps=steps,
        electric_energy_wh=float(run.electric_energy_wh[0]),
        hp_heat_wh=float(run.hp_heat_wh[0]),
        boiler_heat_wh=float(run.boiler_heat_wh[0]),
        gas_m3=float(run.gas_m3[0]),
        unmet_heat_wh=float(run.unmet_heat_wh[0]),
        final_state=HouseState(
            float(run.final_indoor_c[0]), float(run.final_mass_c[0])
        ),
        min_indoor_c=float(run.min_indoor_c[0]),
        max_indoor_c=float(run.max_indoor_c[0]),
        mean_indoor_c=float(run.mean_indoor_c[0]),
        trace=trace,
    )


class _FastLoop:
    """The feedback loop of :func:`simulate_year`, run chunk by chunk."""

    def __init__(
        self,
        config: HybridHomeConfig,
        step_s: float,
        electric_limit_w: float | None,
        mode: OperatingMode,
        initial: HouseState,
        *,
        record: bool,
    ) -> None:
        self.config = config
        self.coefficients = discretise(config.house, step_s)
        self.electric_limit_w = electric_limit_w
        self.mode = mode
        self.record = record
        self.indoor_c = initial.indoor_temp_c
        self.mass_c = initial.mass_temp_c
        self.electric_w_sum = 0.0
        self.hp_heat_w_sum = 0.0
        self.boiler_heat_w_sum = 0.0
        self.unmet_w_sum = 0.0
        self.indoor: list[NDArray[np.float64]] = []
        self.hp_electric: list[NDArray[np.float64]] = []
        self.boiler_thermal: list[NDArray[np.float64]] = []

    def _heat_pump_capacity(
        self, outdoor: NDArray[np.float64]
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Thermal capacity (W) the heat pump may deliver, and 1/COP, per step."""
        config = self.config
        spec = config.heat_pump
        curve = config.heating_curve
        const = np.full_like(outdoor, 1.0)
        flow = eq.flow_temp_c(
            outdoor,
            curve.mild_outdoor_c * const,
            curve.mild_flow_c * const,
            curve.slope_k_per_k * const,
            curve.design_flow_c * const,
        )
        cop = eq.cop_from_fit(
            _broadcast(spec.cop_fit.coefficients, const), outdoor, flow
        )
        full = eq.full_electric_w(
            spec.nominal_electric_w * const,
            _broadcast(spec.electric_fit.coefficients, const),
            outdoor,
            flow,
        )
        limit = self.electric_limit_w
        if self.mode is not OperatingMode.NORMAL or (
            limit is not None and limit < spec.min_electric_w
        ):
            capacity = np.zeros_like(outdoor)
        else:
            electric = full if limit is None else np.minimum(full, limit)
            capacity = electric * cop
            if config.switch_over_outdoor_c is not None:
                capacity[outdoor < config.switch_over_outdoor_c] = 0.0
        return capacity, 1.0 / cop

    def run(self, outdoor: NDArray[np.float64], solar: NDArray[np.float64]) -> None:
        """Advance through one chunk of steps."""
        if not (np.all(np.isfinite(outdoor)) and np.all(np.isfinite(solar))):
            raise ValueError("weather gave non-finite values")
        if np.any(solar < 0):
            raise ValueError("weather gave negative radiation")
        config = self.config
        house = config.house
        k = self.coefficients
        capacity, inverse_cop = self._heat_pump_capacity(outdoor)
        feed_forward = np.maximum(
            0.0,
            house.total_conductance_w_per_k * (config.room_setpoint_c - outdoor)
            - house.internal_gains_w,
        )
        sun = house.solar_aperture_m2 * solar
        gains = house.internal_gains_w
        drive_a = k.outdoor_a * outdoor + k.air_a * gains + k.mass_a * sun
        drive_m = k.outdoor_m * outdoor + k.air_m * gains + k.mass_m * sun
        n = len(outdoor)
        indoor_out = np.empty(n)
        hp_out = np.empty(n) if self.record else None
        boiler_out = np.empty(n) if self.record else None
        hp_list: list[float] = []
        boiler_list: list[float] = []
        indoor_list: list[float] = []

        # The hot loop: plain floats and local names only; it runs ~500k times
        # a simulated year. The same equations as equations.py, inlined on floats.
        p_aa, p_am, p_ma, p_mm = k.phi_aa, k.phi_am, k.phi_ma, k.phi_mm
        q_a, q_m = k.air_a, k.air_m
        setpoint = config.room_setpoint_c
        gain = config.thermostat.gain_w_per_k
        half_band = config.thermostat.deadband_k / 2
        boiler_max = (
            0.0 if self.mode is OperatingMode.OFF else config.boiler.max_thermal_w
        )
        ta = self.indoor_c
        tm = self.mass_c
        electric_sum = hp_sum = boiler_sum = unmet_sum = 0.0
        append_indoor = indoor_list.append
        append_hp = hp_list.append
        append_boiler = boiler_list.append
        record = self.record
        for ff, cap, inv_cop, da, dm in zip(
            feed_forward.tolist(),
            capacity.tolist(),
            inverse_cop.tolist(),
            drive_a.tolist(),
            drive_m.tolist(),
            strict=True,
        ):
            error = setpoint - ta
            if error > half_band:
                demand = ff + gain * (error - half_band)
            elif error < -half_band:
                demand = ff + gain * (error + half_band)
            else:
                demand = ff
            # Conditional expressions, not min()/max(): a call per step costs
            # about a fifth of the loop's time.
            if demand < 0.0:  # noqa: PLR1730
                demand = 0.0
            hp = demand if demand < cap else cap  # noqa: FURB136
            rest = demand - hp
            boiler = rest if rest < boiler_max else boiler_max  # noqa: FURB136
            heat = hp + boiler
            electric_sum += hp * inv_cop
            hp_sum += hp
            boiler_sum += boiler
            unmet_sum += rest - boiler
            ta, tm = (
                p_aa * ta + p_am * tm + da + q_a * heat,
                p_ma * ta + p_mm * tm + dm + q_m * heat,
            )
            append_indoor(ta)
            if record:
                append_hp(hp * inv_cop)
                append_boiler(boiler)

        indoor_out[:] = indoor_list
        self.indoor.append(indoor_out)
        if hp_out is not None and boiler_out is not None:
            hp_out[:] = hp_list
            boiler_out[:] = boiler_list
            self.hp_electric.append(hp_out)
            self.boiler_thermal.append(boiler_out)
        self.indoor_c = ta
        self.mass_c = tm
        self.electric_w_sum += electric_sum
        self.hp_heat_w_sum += hp_sum
        self.boiler_heat_w_sum += boiler_sum
        self.unmet_w_sum += unmet_sum


def _broadcast(
    fit: tuple[float, float, float, float], like: NDArray[np.float64]
) -> tuple[
    NDArray[np.float64], NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]
]:
    return (fit[0] * like, fit[1] * like, fit[2] * like, fit[3] * like)


def _weather_at(weather: Weather, when: datetime) -> WeatherSample:
    """The weather at one instant, refusing values the house cannot use."""
    sample = weather.at(when)
    if not (
        math.isfinite(sample.outdoor_temp_c)
        and math.isfinite(sample.global_radiation_wm2)
        and sample.global_radiation_wm2 >= 0
    ):
        raise ValueError(
            f"weather gave non-finite or negative values at {when.isoformat()}: {sample}"
        )
    return sample


# Neighbourhood mix: estimates for a Dutch street of owner-occupied homes
# where hybrid heat pumps are fitted (mostly single-family houses).
_DWELLING_WEIGHTS: dict[DwellingType, float] = {
    DwellingType.TERRACED: 0.50,
    DwellingType.SEMI_DETACHED: 0.20,
    DwellingType.DETACHED: 0.15,
    DwellingType.APARTMENT: 0.15,
}
_INSULATION_WEIGHTS: dict[InsulationLevel, float] = {
    InsulationLevel.POOR: 0.30,
    InsulationLevel.AVERAGE: 0.45,
    InsulationLevel.GOOD: 0.25,
}
# Poorly insulated homes keep their radiators and need hotter water.
_CURVES: dict[InsulationLevel, HeatingCurve] = {
    InsulationLevel.POOR: HeatingCurve(design_flow_c=60.0),
    InsulationLevel.AVERAGE: HeatingCurve(),
    InsulationLevel.GOOD: HeatingCurve(mild_flow_c=30.0, design_flow_c=45.0),
}
# Nominal electric power of typical hybrid units; with the generic regulated
# COP they deliver about 4, 6 and 8 kW of heat at A2/W35.
_HEAT_PUMP_SIZES_W = (1200.0, 1700.0, 2300.0)
_SIZE_THRESHOLDS_W = (5_000.0, 8_000.0)  # design heat loss separating the sizes
_ON_OFF_SHARE = 0.15
_UNDERSIZED_SHARE = 0.2


def make_neighbourhood_configs(n: int, seed: int) -> list[HybridHomeConfig]:
    """Return ``n`` varied, realistic homes; the same seed gives the same homes.

    Dwelling types, insulation levels, floor areas (±15 %), heat pump sizes
    (by design heat loss, a fifth of them one size smaller), inverter or
    on/off compressors, setpoints (18.5-22 °C), boiler sizes and switch-over
    temperatures all vary.

    Raises:
        ValueError: ``n`` is negative.
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    rng = random.Random(seed)
    configs = []
    for _ in range(n):
        dwelling = _choose(rng, _DWELLING_WEIGHTS)
        insulation = _choose(rng, _INSULATION_WEIGHTS)
        reference = house_parameters(dwelling, insulation)
        house = house_parameters(
            dwelling,
            insulation,
            floor_area_m2=round(reference.floor_area_m2 * rng.uniform(0.85, 1.15), 1),
        )
        design = house.design_heat_loss_w()
        size = sum(design > threshold for threshold in _SIZE_THRESHOLDS_W)
        if size > 0 and rng.random() < _UNDERSIZED_SHARE:
            size -= 1
        nominal = _HEAT_PUMP_SIZES_W[size]
        heat_pump = (
            on_off_heat_pump(nominal)
            if rng.random() < _ON_OFF_SHARE
            else modulating_heat_pump(nominal)
        )
        setpoint = min(22.0, max(18.5, round(rng.gauss(20.0, 0.7) * 2) / 2))
        configs.append(
            HybridHomeConfig(
                house=house,
                heat_pump=heat_pump,
                boiler=BoilerSpec(
                    max_thermal_w=rng.choice((18_000.0, 24_000.0, 28_000.0))
                ),
                room_setpoint_c=setpoint,
                heating_curve=_CURVES[insulation],
                switch_over_outdoor_c=rng.choice((-5.0, -3.0, -3.0, 0.0)),
                dwelling=dwelling,
                insulation=insulation,
            )
        )
    return configs


def _choose[T](rng: random.Random, weights: dict[T, float]) -> T:
    return rng.choices(list(weights), weights=list(weights.values()))[0]
