"""The vectorised neighbourhood model, against a bare NumPy loop of the same state update.

Goals (issue #13): 1,000 realistic homes x 7 days at 1-minute steps in at most
10 s, and 10,000 homes x one winter (1 December to 28 February, 129,600
1-minute steps) in at most 120 s.

Baseline, measured in the same run on the same number of homes and steps:
a bare NumPy loop that does only the house's two-state update on arrays
over homes (four multiply-adds and the heat input per node, with the
weather's drive precomputed). No vectorised simulation with feedback can be
cheaper, so the ratio says how many bare house updates a full step
(weather, schedule, thermostat, compressor timers, boiler, hot water,
bookkeeping) costs.

The winter is also run at 5-minute steps, for comparison only: the house
step is exact for any step length and the compressor timers, taps and
start-up ramp are means over the step, so a coarser step is a way to run
such a winter; its notes give the energy and gas to set against the
1-minute run's. The goal is measured at 1-minute steps.

Each case also notes the CPU time of both (``time.process_time``): on the
shared development machine other work takes most of the cores, so wall time
overstates what the model costs; the CPU seconds and the ratio do not.

``DACS_BENCH_QUICK=1`` shortens the winter to 9 days (for a quick look);
the recorded figures in ``docs/simulator.md`` are from the full run.
"""

from __future__ import annotations

from datetime import UTC, datetime
import os
import time

import numpy as np

from dacs.testbed.sim.neighbourhood_model import NeighbourhoodModel
from dacs.testbed.sim.realistic import make_realistic_configs
from dacs.testbed.sim.weather import WeatherSeries

from .harness import BenchResult

STEP_S = 60.0
WEEK_GOAL_S = 10.0
WINTER_GOAL_S = 120.0
WINTER_DAYS = 90


def _bare_loop(homes: int, steps: int) -> tuple[float, float]:
    """The two-state update alone, on arrays over homes, for ``steps`` steps."""
    rng = np.random.default_rng(0)
    # A stable update (rows sum below 1), as an exact house step is.
    p_aa, p_am = rng.uniform(0.90, 0.95, homes), rng.uniform(0.0, 0.04, homes)
    p_ma, p_mm = rng.uniform(0.0, 0.01, homes), rng.uniform(0.95, 0.98, homes)
    q_a, q_m = rng.uniform(0.0, 1e-4, homes), rng.uniform(0.0, 1e-6, homes)
    drive_a = rng.uniform(0.0, 0.1, (60, homes))
    drive_m = rng.uniform(0.0, 0.01, (60, homes))
    heat = rng.uniform(0.0, 3000.0, homes)
    ta, tm = np.full(homes, 20.0), np.full(homes, 19.0)
    began, cpu = time.perf_counter(), time.process_time()
    for step in range(steps):
        i = step % 60
        ta, tm = (
            p_aa * ta + p_am * tm + drive_a[i] + q_a * heat,
            p_ma * ta + p_mm * tm + drive_m[i] + q_m * heat,
        )
    return time.perf_counter() - began, time.process_time() - cpu


def _model_run(homes: int, days: float, step_s: float) -> tuple[float, float, str]:
    weather = WeatherSeries.default(wrap=True)
    configs = make_realistic_configs(homes, 2025)
    began, cpu = time.perf_counter(), time.process_time()
    model = NeighbourhoodModel(configs, weather, datetime(2024, 12, 1, tzinfo=UTC))
    run = model.run(days * 86_400.0, step_s)
    elapsed, cpu = time.perf_counter() - began, time.process_time() - cpu
    share = float(run.hp_heat_wh.sum() / (run.hp_heat_wh + run.boiler_heat_wh).sum())
    notes = (
        f"{elapsed / run.steps / homes * 1e9:.0f} ns per home-step;"
        f" {run.electric_energy_wh.sum() / homes / 1000:.1f} kWh and"
        f" {run.gas_m3.sum() / homes:.2f} m3 per home; heat pump share {share:.1%}"
    )
    return elapsed, cpu, notes


def _case(
    name: str, homes: int, days: float, goal_s: float, step_s: float = STEP_S
) -> BenchResult:
    steps = round(days * 86_400.0 / step_s)
    value, cpu, notes = _model_run(homes, days, step_s)
    baseline, baseline_cpu = _bare_loop(homes, steps)
    notes += (
        f"; CPU {cpu:.1f} s against {baseline_cpu:.1f} s for the baseline"
        f" (ratio {cpu / baseline_cpu:.1f})"
    )
    return BenchResult(
        name=name,
        unit="s",
        value=value,
        baseline_name=f"bare NumPy two-state update, {homes} homes x {steps} steps",
        baseline_value=baseline,
        goal=f"<= {goal_s:g} s wall",
        met=value <= goal_s,
        notes=notes,
    )


def run() -> list[BenchResult]:
    """Time a week of 1,000 homes and a winter of 10,000 homes."""
    quick = os.environ.get("DACS_BENCH_QUICK") == "1"
    winter_days = 9 if quick else WINTER_DAYS
    winter_goal = WINTER_GOAL_S * winter_days / WINTER_DAYS
    return [
        _case("sim: 1,000 homes x 7 days, 1-min steps", 1_000, 7, WEEK_GOAL_S),
        _case(
            f"sim: 10,000 homes x {winter_days} days, 1-min steps",
            10_000,
            winter_days,
            winter_goal,
        ),
        _case(
            f"sim: 10,000 homes x {winter_days} days, 5-min steps",
            10_000,
            winter_days,
            winter_goal,
            step_s=300.0,
        ),
    ]
