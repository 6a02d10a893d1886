"""Many hybrid homes at once: NumPy arrays over homes, one step for all of them.

The equations are those of :mod:`dacs.testbed.sim.equations`, the same
functions :class:`~dacs.testbed.sim.hybrid.HybridHome` calls with floats; here
they get arrays. Per step the work splits in two:

* what does not depend on the homes' state (weather, heating curve, COP and
  full power, the occupants' schedule, the house's weather drive) is
  computed for a block of steps at once as ``(steps, homes)`` arrays;
* the feedback (thermostat, compressor timers, boiler, house) runs step by
  step on ``(homes,)`` arrays.

Controls (limit, mode, setpoint) may change between calls of :meth:`step`;
:meth:`NeighbourhoodModel.run` holds them for the whole run.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
import math

import numpy as np
from numpy.typing import NDArray

from dacs.devices.models import OperatingMode

from . import equations as eq
from .boiler import GAS_HHV_J_PER_M3
from .equations import FloatArray
from .home_config import HybridHomeConfig
from .house import discretise, steady_state_house
from .occupants import HouseholdArrays, calendar, household_inputs
from .weather import Weather, epoch_seconds, sample_many

MODE_CODES = {OperatingMode.NORMAL: 0, OperatingMode.GAS_ONLY: 1, OperatingMode.OFF: 2}
_LONG_AGO_S = 1e9
_BLOCK_S = 3600.0  # exogenous inputs are computed an hour of steps at a time
# Neutral household of a home without one: no people, no tap, exact thermostat.
_NEUTRAL = {
    "seed": 0.0,
    "occupants": 0.0,
    "away_weekdays": 0.0,
    "wake_min": 420.0,
    "sleep_min": 1380.0,
    "setback_k": 0.0,
    "hot_water_j_per_day": 0.0,
    "annual_electricity_kwh": 0.0,
    "thermostat_offset_k": 0.0,
    "thermostat_resolution_k": 0.0,
    "meter_gain_error": 0.0,
    "meter_noise_w": 0.0,
}


def _column(values: Sequence[float]) -> FloatArray:
    return np.array(values, dtype=np.float64)


@dataclass(frozen=True)
class HomeArrays:
    """Every fixed parameter of the homes, one element per home."""

    conductance: FloatArray
    mean_gains: FloatArray
    house_gains: FloatArray  # constant gains of homes without a household
    has_household: FloatArray
    solar_aperture: FloatArray
    curve: tuple[FloatArray, FloatArray, FloatArray, FloatArray]
    cop_fit: tuple[FloatArray, FloatArray, FloatArray, FloatArray]
    electric_fit: tuple[FloatArray, FloatArray, FloatArray, FloatArray]
    nominal_w: FloatArray
    min_electric_w: FloatArray
    min_run_s: FloatArray
    min_off_s: FloatArray
    ramp_s: FloatArray
    switch_over_c: FloatArray
    gain: FloatArray
    half_band: FloatArray
    boiler_max: FloatArray
    boiler_efficiency: FloatArray
    hot_water_efficiency: FloatArray
    people: HouseholdArrays

    @classmethod
    def of(cls, configs: Sequence[HybridHomeConfig]) -> HomeArrays:
        """Stack the homes' parameters."""
        houses = [c.house for c in configs]
        pumps = [c.heat_pump for c in configs]
        curves = [c.heating_curve for c in configs]
        return cls(
            conductance=_column([h.total_conductance_w_per_k for h in houses]),
            mean_gains=_column([c.mean_gains_w for c in configs]),
            house_gains=_column(
                [
                    c.house.internal_gains_w if c.household is None else 0.0
                    for c in configs
                ]
            ),
            has_household=_column([c.household is not None for c in configs]),
            solar_aperture=_column([h.solar_aperture_m2 for h in houses]),
            curve=(
                _column([c.mild_outdoor_c for c in curves]),
                _column([c.mild_flow_c for c in curves]),
                _column([c.slope_k_per_k for c in curves]),
                _column([c.design_flow_c for c in curves]),
            ),
            cop_fit=(
                _column([p.cop_fit.p1 for p in pumps]),
                _column([p.cop_fit.p2 for p in pumps]),
                _column([p.cop_fit.p3 for p in pumps]),
                _column([p.cop_fit.p4 for p in pumps]),
            ),
            electric_fit=(
                _column([p.electric_fit.p1 for p in pumps]),
                _column([p.electric_fit.p2 for p in pumps]),
                _column([p.electric_fit.p3 for p in pumps]),
                _column([p.electric_fit.p4 for p in pumps]),
            ),
            nominal_w=_column([p.nominal_electric_w for p in pumps]),
            min_electric_w=_column([p.min_electric_w for p in pumps]),
            min_run_s=_column([p.min_run_s for p in pumps]),
            min_off_s=_column([p.min_off_s for p in pumps]),
            ramp_s=_column([p.startup_ramp_s for p in pumps]),
            switch_over_c=_column(
                [
                    -math.inf
                    if c.switch_over_outdoor_c is None
                    else c.switch_over_outdoor_c
                    for c in configs
                ]
            ),
            gain=_column([c.thermostat.gain_w_per_k for c in configs]),
            half_band=_column([c.thermostat.deadband_k / 2 for c in configs]),
            boiler_max=_column([c.boiler.max_thermal_w for c in configs]),
            boiler_efficiency=_column([c.boiler.efficiency for c in configs]),
            hot_water_efficiency=_column(
                [c.boiler.hot_water_efficiency for c in configs]
            ),
            people=_households(configs),
        )


def _households(configs: Sequence[HybridHomeConfig]) -> HouseholdArrays:
    present = [c.household for c in configs if c.household is not None]
    stacked = HouseholdArrays.of(present) if present else None
    columns: dict[str, FloatArray] = {}
    for name, neutral in _NEUTRAL.items():
        values = np.full(len(configs), neutral)
        if stacked is not None:
            mask = np.array([c.household is not None for c in configs])
            values[mask] = getattr(stacked, name)
        columns[name] = values
    return HouseholdArrays(**columns)


@dataclass(frozen=True)
class _Groups:
    """Distinct (heating curve, heat pump, switch-over) combinations."""

    curve: tuple[FloatArray, FloatArray, FloatArray, FloatArray]
    cop_fit: tuple[FloatArray, FloatArray, FloatArray, FloatArray]
    electric_fit: tuple[FloatArray, FloatArray, FloatArray, FloatArray]
    nominal_w: FloatArray
    switch_over_c: FloatArray


def _performance_groups(h: HomeArrays) -> tuple[_Groups, NDArray[np.intp]]:
    table = np.column_stack(
        [*h.curve, *h.cop_fit, *h.electric_fit, h.nominal_w, h.switch_over_c]
    )
    unique, index = np.unique(table, axis=0, return_inverse=True)
    cols = [unique[:, i] for i in range(unique.shape[1])]
    groups = _Groups(
        curve=(cols[0], cols[1], cols[2], cols[3]),
        cop_fit=(cols[4], cols[5], cols[6], cols[7]),
        electric_fit=(cols[8], cols[9], cols[10], cols[11]),
        nominal_w=cols[12],
        switch_over_c=cols[13],
    )
    return groups, index.reshape(-1)


@dataclass(frozen=True)
class _Block:
    """Inputs of a block of steps that do not depend on the state: (steps, homes)."""

    setpoint: FloatArray
    feed_forward: FloatArray
    cop: FloatArray
    full: FloatArray
    allowed: FloatArray  # above the switch-over and a positive full power
    hot_water: FloatArray
    tap: FloatArray
    drive_air: FloatArray
    drive_mass: FloatArray
    outdoor: FloatArray  # (steps,)
    gains: FloatArray
    solar_w: FloatArray


@dataclass(frozen=True)
class NeighbourhoodStep:
    """One step of every home: powers are means over the step, temperatures at its end."""

    time: datetime
    outdoor_temp_c: float
    indoor_temp_c: FloatArray
    mass_temp_c: FloatArray
    setpoint_c: FloatArray
    heat_demand_w: FloatArray
    hp_electric_w: FloatArray
    hp_thermal_w: FloatArray
    boiler_thermal_w: FloatArray  # space heating and hot water
    hot_water_w: FloatArray
    gas_w: FloatArray
    gains_w: FloatArray
    solar_w: FloatArray
    running: FloatArray
    started: FloatArray


@dataclass(frozen=True, kw_only=True)
class IntervalRecord:
    """Means per recording interval (rows) and home (columns)."""

    starts_s: FloatArray
    outdoor_temp_c: FloatArray  # (intervals,)
    hp_electric_w: FloatArray
    metered_electric_w: FloatArray  # what the home's power sensor reports
    boiler_thermal_w: FloatArray
    hot_water_w: FloatArray
    indoor_temp_c: FloatArray


@dataclass(frozen=True, kw_only=True)
class NeighbourhoodRun:
    """Totals per home over a run."""

    steps: int
    step_s: float
    electric_energy_wh: FloatArray
    hp_heat_wh: FloatArray
    boiler_heat_wh: FloatArray  # space heating and hot water
    hot_water_wh: FloatArray
    gas_m3: FloatArray
    unmet_heat_wh: FloatArray
    startup_loss_wh: FloatArray
    starts: FloatArray
    available_wh: FloatArray  # energy the compressor could have drawn at full speed
    min_indoor_c: FloatArray
    max_indoor_c: FloatArray
    mean_indoor_c: FloatArray
    final_indoor_c: FloatArray
    final_mass_c: FloatArray
    record: IntervalRecord | None = None

    @property
    def heat_pump_share(self) -> FloatArray:
        """Share of each home's heat (space and tap) that came from the heat pump."""
        total = self.hp_heat_wh + self.boiler_heat_wh
        share: FloatArray = np.divide(
            self.hp_heat_wh, total, out=np.zeros_like(total), where=total > 0
        )
        return share


class NeighbourhoodModel:
    """Many homes under the same weather, stepped together."""

    def __init__(
        self,
        configs: Sequence[HybridHomeConfig],
        weather: Weather,
        start: datetime,
        *,
        initial_indoor_c: float | FloatArray | None = None,
        meter_seed: int = 0,
    ) -> None:
        """Start every home at ``start`` in equilibrium.

        The air starts at ``initial_indoor_c`` (each home's setpoint when
        None), the mass in equilibrium with it.

        Raises:
            ValueError: no homes, a naive ``start`` or weather the house cannot use.
        """
        if not configs:
            raise ValueError("a neighbourhood needs at least one home")
        self._time_s = epoch_seconds(start)
        self._configs = list(configs)
        self._weather = weather
        self.homes = HomeArrays.of(self._configs)
        self._groups, self._group_index = _performance_groups(self.homes)
        n = len(self._configs)
        outdoor, _ = sample_many(weather, np.array([self._time_s]))
        setpoints = _column([c.room_setpoint_c for c in self._configs])
        indoor = (
            setpoints
            if initial_indoor_c is None
            else np.broadcast_to(np.asarray(initial_indoor_c, dtype=np.float64), (n,))
        )
        states = [
            steady_state_house(c.house, float(t), float(outdoor[0]))
            for c, t in zip(self._configs, indoor.tolist(), strict=True)
        ]
        self.indoor_c = _column([s.indoor_temp_c for s in states])
        self.mass_c = _column([s.mass_temp_c for s in states])
        self.hp_on = np.zeros(n)
        self.since_switch_s = np.full(n, _LONG_AGO_S)
        self.electric_limit_w = np.full(n, np.inf)
        self.mode = np.zeros(n)
        self.room_setpoint_c = setpoints.copy()
        self._coefficients: dict[float, tuple[FloatArray, ...]] = {}
        self._meter = np.random.default_rng(meter_seed)
        self.electric_energy_wh = np.zeros(n)
        self.hp_heat_wh = np.zeros(n)
        self.boiler_heat_wh = np.zeros(n)
        self.hot_water_wh = np.zeros(n)
        self.gas_m3 = np.zeros(n)
        self.unmet_heat_wh = np.zeros(n)
        self.startup_loss_wh = np.zeros(n)
        self.starts = np.zeros(n)
        self.available_wh = np.zeros(n)  # what the compressor could have drawn

    @property
    def size(self) -> int:
        """Number of homes."""
        return len(self._configs)

    @property
    def time(self) -> datetime:
        """The end of the last step."""
        return _utc(self._time_s)

    @property
    def time_s(self) -> float:
        """The end of the last step, POSIX seconds."""
        return self._time_s

    def set_limit(self, index: int, limit_w: float | None) -> None:
        """Cap one home's heat pump (W); None lifts the cap."""
        if limit_w is not None and not (math.isfinite(limit_w) and limit_w >= 0):
            raise ValueError(f"electric_limit_w must be None or >= 0, got {limit_w}")
        self.electric_limit_w[index] = np.inf if limit_w is None else limit_w

    def set_mode(self, index: int, mode: OperatingMode) -> None:
        """One home's operating mode."""
        self.mode[index] = MODE_CODES[OperatingMode(mode)]

    # -- the two halves of a step ------------------------------------------------

    def _coefficients_for(self, dt_s: float) -> tuple[FloatArray, ...]:
        cached = self._coefficients.get(dt_s)
        if cached is None:
            ks = [discretise(c.house, dt_s) for c in self._configs]
            names = (
                "phi_aa",
                "phi_am",
                "phi_ma",
                "phi_mm",
                "air_a",
                "air_m",
                "outdoor_a",
                "outdoor_m",
                "mass_a",
                "mass_m",
            )
            cached = tuple(_column([getattr(k, n) for k in ks]) for n in names)
            self._coefficients[dt_s] = cached
        return cached

    def _block(self, times_s: FloatArray, dt_s: float) -> _Block:
        h = self.homes
        outdoor, radiation = sample_many(self._weather, times_s)
        if not (np.all(np.isfinite(outdoor)) and np.all(np.isfinite(radiation))):
            raise ValueError("weather gave non-finite values")
        if np.any(radiation < 0):
            raise ValueError("weather gave negative radiation")
        out = outdoor[:, None]
        people = household_inputs(h.people, calendar(times_s), dt_s)
        if np.all(h.has_household):  # skip the masks in the common case
            setpoint = self.room_setpoint_c[None, :] - people.setpoint_drop_k
            gains = people.gains_w
            hot_water = np.minimum(people.hot_water_w, h.boiler_max)
            tap = people.tap_share
        else:
            with_people = h.has_household[None, :]
            setpoint = (
                self.room_setpoint_c[None, :] - people.setpoint_drop_k * with_people
            )
            gains = h.house_gains[None, :] + people.gains_w * with_people
            hot_water = np.minimum(people.hot_water_w * with_people, h.boiler_max)
            tap = people.tap_share * with_people
        # Homes share a few (curve, heat pump, switch-over) combinations:
        # evaluate those, then spread them over the homes.
        g, index = self._groups, self._group_index
        flow = eq.flow_temp_c(out, *g.curve)
        group_cop = eq.cop_from_fit(g.cop_fit, out, flow)
        group_full = eq.full_electric_w(g.nominal_w, g.electric_fit, out, flow)
        group_allowed = eq.flag(out >= g.switch_over_c) * eq.flag(group_full > 0.0)
        cop = np.take(group_cop, index, axis=1)
        full = np.take(group_full, index, axis=1)
        allowed = np.take(group_allowed, index, axis=1)
        k = self._coefficients_for(dt_s)
        sun = h.solar_aperture[None, :] * radiation[:, None]
        return _Block(
            setpoint=setpoint,
            feed_forward=eq.feed_forward_w(h.conductance, h.mean_gains, setpoint, out),
            cop=cop,
            full=full,
            allowed=allowed,
            hot_water=hot_water,
            tap=tap,
            drive_air=eq.house_drive((k[6], k[4], k[8]), out, gains, sun),
            drive_mass=eq.house_drive((k[7], k[5], k[9]), out, gains, sun),
            outdoor=outdoor,
            gains=gains,
            solar_w=sun,
        )

    def _advance(self, block: _Block, i: int, dt_s: float) -> NeighbourhoodStep:
        h = self.homes
        k = self._coefficients_for(dt_s)
        p = h.people
        setpoint = block.setpoint[i]
        sensed = eq.sensed_temp_c(
            self.indoor_c, p.thermostat_offset_k, p.thermostat_resolution_k
        )
        demand = eq.thermostat_demand_w(
            block.feed_forward[i], setpoint, sensed, h.gain, h.half_band
        )
        cop = block.cop[i]
        limit = self.electric_limit_w
        normal = eq.flag(self.mode == 0.0)
        permitted = normal * block.allowed[i] * eq.flag(limit >= h.min_electric_w)
        flows = eq.heat_flows(
            on=self.hp_on,
            since_switch_s=self.since_switch_s,
            permitted=permitted,
            demand_w=demand,
            cop=cop,
            capacity_w=np.minimum(block.full[i], limit) * cop,
            min_electric_w=h.min_electric_w,
            error_k=setpoint - sensed,
            half_band_k=h.half_band,
            min_run_s=h.min_run_s,
            min_off_s=h.min_off_s,
            ramp_s=h.ramp_s,
            boiler_available_w=h.boiler_max
            * eq.flag(self.mode != 2.0)
            * (1.0 - block.tap[i]),
            dt_s=dt_s,
        )
        hp_heat, boiler_space = flows.hp_heat_w, flows.boiler_space_w
        electric, heat = flows.electric_w, flows.heat_w
        hot_water = block.hot_water[i]
        delivered = hp_heat + boiler_space
        gas_w = boiler_space / h.boiler_efficiency + hot_water / h.hot_water_efficiency
        self.indoor_c, self.mass_c = eq.house_step(
            (k[0], k[1], k[2], k[3], k[4], k[5]),
            indoor_c=self.indoor_c,
            mass_c=self.mass_c,
            drive_air=block.drive_air[i],
            drive_mass=block.drive_mass[i],
            heat_w=delivered,
        )
        started = flows.started
        running = flows.running
        self.since_switch_s = flows.since_switch_s
        self.hp_on = running
        hours = dt_s / 3600.0
        self.electric_energy_wh += electric * hours
        self.hp_heat_wh += hp_heat * hours
        self.boiler_heat_wh += (boiler_space + hot_water) * hours
        self.hot_water_wh += hot_water * hours
        self.startup_loss_wh += (heat - hp_heat) * hours
        self.starts += started
        self.available_wh += permitted * np.minimum(block.full[i], limit) * hours
        self.gas_m3 += gas_w * (dt_s / GAS_HHV_J_PER_M3)
        self.unmet_heat_wh += np.maximum(demand - delivered, 0.0) * hours
        self._time_s += dt_s
        return NeighbourhoodStep(
            time=_utc(self._time_s),
            outdoor_temp_c=float(block.outdoor[i]),
            indoor_temp_c=self.indoor_c,
            mass_temp_c=self.mass_c,
            setpoint_c=setpoint,
            heat_demand_w=demand,
            hp_electric_w=electric,
            hp_thermal_w=hp_heat,
            boiler_thermal_w=boiler_space + hot_water,
            hot_water_w=hot_water,
            gas_w=gas_w,
            gains_w=block.gains[i],
            solar_w=block.solar_w[i],
            running=running,
            started=started,
        )

    # -- public stepping ------------------------------------------------------------

    def step(self, dt_s: float) -> NeighbourhoodStep:
        """Advance every home by ``dt_s`` with the controls and weather held."""
        if not (math.isfinite(dt_s) and dt_s > 0):
            raise ValueError(f"dt_s must be a positive number of seconds, got {dt_s}")
        block = self._block(np.array([self._time_s]), dt_s)
        return self._advance(block, 0, dt_s)

    def metered(self, electric_w: FloatArray) -> FloatArray:
        """What the homes' power sensors report for these true powers (W)."""
        p = self.homes.people
        noise = self._meter.standard_normal(electric_w.shape) * p.meter_noise_w
        reading: FloatArray = np.maximum(
            electric_w * (1.0 + p.meter_gain_error) + noise * eq.flag(electric_w > 0),
            0.0,
        )
        return reading

    def run(
        self,
        duration_s: float,
        step_s: float = 60.0,
        *,
        record_interval_s: float | None = None,
        before_step: Callable[[NeighbourhoodModel, float], None] | None = None,
    ) -> NeighbourhoodRun:
        """Run every home for ``duration_s``.

        Args:
            duration_s: Length of the run; rounded down to whole steps.
            step_s: Step length (s).
            record_interval_s: Also keep means per interval of this length
                (a whole number of steps); None keeps only totals.
            before_step: Called with the model and the step's start (POSIX s)
                before each step; it may change limits and modes (setpoint
                changes take effect from the next hour's block).

        Raises:
            ValueError: a non-positive step or duration, or an interval that is
                not a whole number of steps.
        """
        if not (math.isfinite(step_s) and step_s > 0):
            raise ValueError(
                f"step_s must be a positive number of seconds, got {step_s}"
            )
        if not (math.isfinite(duration_s) and duration_s >= step_s):
            raise ValueError(f"duration_s must be at least one step, got {duration_s}")
        per_interval = 0
        if record_interval_s is not None:
            per_interval = round(record_interval_s / step_s)
            if (
                per_interval < 1
                or abs(per_interval * step_s - record_interval_s) > 1e-6
            ):
                raise ValueError("record_interval_s must be a whole number of steps")
        steps = int(duration_s // step_s)
        n = self.size
        block_steps = max(1, int(_BLOCK_S // step_s))
        indoor_min = np.full(n, np.inf)
        indoor_max = np.full(n, -np.inf)
        indoor_sum = np.zeros(n)
        recorder = _Recorder(n, per_interval) if per_interval else None
        for first in range(0, steps, block_steps):
            count = min(block_steps, steps - first)
            times = self._time_s + step_s * np.arange(count, dtype=np.float64)
            block = self._block(times, step_s)
            for i in range(count):
                began = self._time_s
                if before_step is not None:
                    before_step(self, began)
                result = self._advance(block, i, step_s)
                np.minimum(indoor_min, result.indoor_temp_c, out=indoor_min)
                np.maximum(indoor_max, result.indoor_temp_c, out=indoor_max)
                indoor_sum += result.indoor_temp_c
                if recorder is not None:
                    recorder.add(began, result, self.metered(result.hp_electric_w))
        return NeighbourhoodRun(
            steps=steps,
            step_s=step_s,
            electric_energy_wh=self.electric_energy_wh.copy(),
            hp_heat_wh=self.hp_heat_wh.copy(),
            boiler_heat_wh=self.boiler_heat_wh.copy(),
            hot_water_wh=self.hot_water_wh.copy(),
            gas_m3=self.gas_m3.copy(),
            unmet_heat_wh=self.unmet_heat_wh.copy(),
            startup_loss_wh=self.startup_loss_wh.copy(),
            starts=self.starts.copy(),
            available_wh=self.available_wh.copy(),
            min_indoor_c=indoor_min,
            max_indoor_c=indoor_max,
            mean_indoor_c=indoor_sum / max(steps, 1),
            final_indoor_c=self.indoor_c.copy(),
            final_mass_c=self.mass_c.copy(),
            record=None if recorder is None else recorder.result(),
        )


class _Recorder:
    """Sums steps into interval means."""

    def __init__(self, homes: int, per_interval: int) -> None:
        self.per = per_interval
        self.count = 0
        self.sums = {
            name: np.zeros(homes)
            for name in ("electric", "metered", "boiler", "tap", "indoor")
        }
        self.outdoor = 0.0
        self.rows: dict[str, list[FloatArray]] = {name: [] for name in self.sums}
        self.starts: list[float] = []
        self.outdoors: list[float] = []
        self.began = 0.0

    def add(self, began: float, step: NeighbourhoodStep, metered: FloatArray) -> None:
        if self.count == 0:
            self.began = began
        self.sums["electric"] += step.hp_electric_w
        self.sums["metered"] += metered
        self.sums["boiler"] += step.boiler_thermal_w
        self.sums["tap"] += step.hot_water_w
        self.sums["indoor"] += step.indoor_temp_c
        self.outdoor += step.outdoor_temp_c
        self.count += 1
        if self.count == self.per:
            for name, total in self.sums.items():
                self.rows[name].append(total / self.per)
                total[:] = 0.0
            self.starts.append(self.began)
            self.outdoors.append(self.outdoor / self.per)
            self.outdoor = 0.0
            self.count = 0

    def result(self) -> IntervalRecord:
        def stack(name: str) -> FloatArray:
            rows = self.rows[name]
            return np.vstack(rows) if rows else np.empty((0, len(self.sums[name])))

        return IntervalRecord(
            starts_s=np.array(self.starts),
            outdoor_temp_c=np.array(self.outdoors),
            hp_electric_w=stack("electric"),
            metered_electric_w=stack("metered"),
            boiler_thermal_w=stack("boiler"),
            hot_water_w=stack("tap"),
            indoor_temp_c=stack("indoor"),
        )


def _utc(epoch_s: float) -> datetime:
    return datetime.fromtimestamp(epoch_s, tz=UTC)
