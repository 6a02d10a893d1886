"""Run scenarios: no control, the naive baseline, ours, and the best plan, side by side."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from datetime import datetime, timedelta
import logging
import time

import numpy as np
from numpy.typing import NDArray

from dacs.aggregator.domain.compliance import isp_caps
from dacs.aggregator.domain.envelope import ISP, CapacityInterval, EnvelopeKind
from dacs.protocol.rules import DEFAULT_MAX_CURTAILMENT_MINUTES
from dacs.testbed.neighbourhood.live import PROFILE_MIX
from dacs.testbed.sim.hybrid import HybridHome
from dacs.testbed.sim.weather import Weather, WeatherSeries

from .best_plan import BestPlan, HomeOptions, best_plan
from .equal_share import EqualShareController
from .fast_home import device_capabilities
from .fast_run import DacsController, FastRun, Physics, run_fast
from .grid_signals import GridAsk, announced_at, cap_lookup, grid_ask
from .outcome import RunOutcome, assess_run, overlaps
from .spec import ScenarioSpec

CONTROLLERS = ("none", "equal_share", "dacs")
_AFTER_EVENT = timedelta(hours=1)

# The control loop logs a warning for every cycle short of flexibility.
CONTROL_LOGGER = "dacs.aggregator.control"


@dataclass(frozen=True, kw_only=True)
class ScenarioResult:
    """Every controller's outcome on one scenario, and what the plots need."""

    spec: ScenarioSpec
    rated_kw: float
    cap_kw: float
    requested_kw: tuple[float, ...]  # what the grid operator asked per event ISP
    outcomes: dict[str, RunOutcome]
    best: BestPlan | None  # None for the emergency stop (nothing to optimise)
    minutes: NDArray[np.float64]  # since the scenario's start
    load_kw: dict[str, NDArray[np.float64]]  # per controller, per minute
    cap_kw_per_minute: NDArray[np.float64]
    event_minutes: tuple[float, float]
    runtime_s: float

    @property
    def ours(self) -> RunOutcome:
        """Our control's outcome."""
        return self.outcomes["dacs"]

    @property
    def flexibility_short(self) -> bool:
        """Even the best plan could not keep every ISP under its cap."""
        return self.best is not None and self.best.flexibility_short

    @property
    def gas_ratio(self) -> float | None:
        """Our extra gas against the best plan's (None: no plan or no gas needed)."""
        if self.best is None or self.best.extra_gas_m3 <= 1e-6:
            return None
        return self.ours.extra_gas_m3 / self.best.extra_gas_m3


def limits(uncontrolled: FastRun, spec: ScenarioSpec) -> tuple[float, float]:
    """The rating (just above the uncontrolled peak) and the cap (``depth`` under it)."""
    peak_kw = float(uncontrolled.total_w.max()) / 1000
    return round(peak_kw * 1.05, 1), round(peak_kw * (1 - spec.depth), 1)


def run_scenario(
    spec: ScenarioSpec,
    weather: Weather | None = None,
    *,
    physics: Physics = "per_home",
) -> ScenarioResult:
    """Run one scenario under every controller and solve its best plan."""
    began = time.perf_counter()
    weather = weather or WeatherSeries.default(wrap=True)
    # The aggregator's view when the signal arrives is the same with or
    # without control: nothing is limited before the grid operator asks.
    uncontrolled = run_fast(
        spec,
        GridAsk(rated_kw=1e6, announced=announced_at(spec)),
        weather,
        controller=None,
        physics=physics,
    )
    rated_kw, cap_kw = limits(uncontrolled, spec)
    scenario = spec.neighbourhood()
    event = scenario.event_window
    ask = grid_ask(
        spec,
        prognosis_kw=_isp_means_kw(uncontrolled, event),
        rated_kw=rated_kw,
        cap_kw=cap_kw,
        fleet=uncontrolled.fleet_at_announce,
    )
    runs = {
        "none": uncontrolled,
        "equal_share": run_fast(
            spec, ask, weather, controller=EqualShareController, physics=physics
        ),
        "dacs": run_fast(
            spec, ask, weather, controller=DacsController, physics=physics
        ),
    }
    caps_now = cap_lookup(ask)
    emergency = _emergency_window(ask)
    caps = tuple(
        c
        for c in isp_caps(event[0], event[1], caps_now)
        if emergency is None or not overlaps(c, emergency)
    )
    after = isp_caps(event[1], event[1] + _AFTER_EVENT, caps_now)
    taking_part = np.ones(spec.homes, dtype=bool)
    taking_part[: spec.opt_outs + spec.offline] = False
    outcomes = {
        name: assess_run(
            run,
            uncontrolled,
            caps=caps,
            after_caps=after,
            event=event,
            emergency=emergency,
            taking_part=taking_part,
        )
        for name, run in runs.items()
    }
    best = (
        None if emergency is not None else _best_plan(spec, uncontrolled, caps, weather)
    )
    minutes = np.arange(len(uncontrolled.times), dtype=np.float64)
    first = scenario.start
    return ScenarioResult(
        spec=spec,
        rated_kw=rated_kw,
        cap_kw=cap_kw,
        requested_kw=ask.requested_kw,
        outcomes=outcomes,
        best=best,
        minutes=minutes,
        load_kw={name: run.total_w / 1000 for name, run in runs.items()},
        cap_kw_per_minute=np.array([caps_now(t) / 1000 for t in uncontrolled.times]),
        event_minutes=(
            (event[0] - first).total_seconds() / 60,
            (event[1] - first).total_seconds() / 60,
        ),
        runtime_s=time.perf_counter() - began,
    )


def _isp_means_kw(run: FastRun, window: tuple[datetime, datetime]) -> list[float]:
    stamps = np.array([t.timestamp() for t in run.times])
    means = []
    moment = window[0]
    while moment < window[1]:
        mask = (stamps >= moment.timestamp()) & (stamps < (moment + ISP).timestamp())
        means.append(float(run.total_w[mask].mean()) / 1000)
        moment += ISP
    return means


def _emergency_window(ask: GridAsk) -> tuple[datetime, datetime] | None:
    envelope = ask.envelope
    if envelope is None or envelope.kind is not EnvelopeKind.EMERGENCY:
        return None
    return envelope.start, envelope.end


def _best_plan(
    spec: ScenarioSpec,
    uncontrolled: FastRun,
    caps: tuple[CapacityInterval, ...],
    weather: Weather,
) -> BestPlan:
    scenario = spec.neighbourhood()
    incident = scenario.start + spec.incident_at
    options = []
    for index, config in enumerate(scenario.home_configs()):
        capabilities = device_capabilities(
            HybridHome(config, weather, scenario.start),
            PROFILE_MIX[index % len(PROFILE_MIX)],
        )
        options.append(
            HomeOptions(
                floor_w=capabilities.safety_floor_w,
                gas_only=capabilities.supports_gas_only,
                max_isps=DEFAULT_MAX_CURTAILMENT_MINUTES // 15,
                available_until=incident
                if index < spec.opt_outs + spec.offline
                else None,
                boiler_efficiency=config.boiler.efficiency,
            )
        )
    return best_plan(
        caps,
        times=uncontrolled.times,
        home_power_w=uncontrolled.home_power_w,
        home_heat_w=uncontrolled.home_heat_w,
        other_w=uncontrolled.household_w,
        homes=options,
    )


def run_suite(
    specs: Sequence[ScenarioSpec],
    *,
    jobs: int = 1,
    on_done: Callable[[ScenarioResult, int, int], None] | None = None,
    physics: Physics = "per_home",
) -> list[ScenarioResult]:
    """Run every scenario, ``jobs`` at a time; results in the order of ``specs``."""
    results: dict[str, ScenarioResult] = {}

    def done(result: ScenarioResult) -> None:
        results[result.spec.name] = result
        if on_done is not None:
            on_done(result, len(results), len(specs))

    if jobs <= 1:
        for spec in specs:
            done(run_scenario(spec, physics=physics))
    else:
        # Workers start fresh: they take the caller's level for the loop's logs.
        level = logging.getLogger(CONTROL_LOGGER).level
        with ProcessPoolExecutor(
            max_workers=jobs, initializer=_set_control_log_level, initargs=(level,)
        ) as pool:
            futures = [
                pool.submit(run_scenario, spec, physics=physics) for spec in specs
            ]
            for future in as_completed(futures):
                done(future.result())
    return [results[spec.name] for spec in specs]


def _set_control_log_level(level: int) -> None:
    """In a worker: log the control loop at the caller's level."""
    logging.getLogger(CONTROL_LOGGER).setLevel(level)
