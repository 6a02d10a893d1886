"""One simulated home-year at 1-minute steps, against the bare cost of a Python loop.

Goal: a full year (525,600 steps) of one hybrid home in under 1 s, so that a
neighbourhood of a hundred homes over a winter runs in well under a minute.

Baseline: a pure-Python loop over the same 525,600 steps that does only the
house's two-state update (four multiply-adds on plain floats). No per-step
Python simulation with feedback can be cheaper than that, so the ratio says
how many bare thermal updates the whole step (weather, thermostat, heat pump,
limit, boiler, bookkeeping) costs.
"""

from __future__ import annotations

from datetime import UTC, datetime

from dacs.testbed.sim.heat_pump_model import modulating_heat_pump
from dacs.testbed.sim.house import DwellingType, InsulationLevel, house_parameters
from dacs.testbed.sim.hybrid import HybridHomeConfig, YearSummary, simulate_year
from dacs.testbed.sim.weather import WeatherSeries

from .harness import BenchResult, median_seconds

STEPS = 525_600
GOAL_S = 1.0


def _bare_thermal_loop() -> float:
    a, b, c, d = 0.95, 0.05, 0.001, 0.999
    ta, tm = 20.0, 19.0
    for _ in range(STEPS):
        ta, tm = a * ta + b * tm + 0.01, c * ta + d * tm + 0.001
    return ta + tm


def run() -> list[BenchResult]:
    """Time the fast path for one home-year."""
    config = HybridHomeConfig(
        house=house_parameters(DwellingType.SEMI_DETACHED, InsulationLevel.AVERAGE),
        heat_pump=modulating_heat_pump(1700.0),
    )
    weather = WeatherSeries.default(wrap=True)
    start = datetime(2024, 12, 1, tzinfo=UTC)
    summary: list[YearSummary] = []

    def one_year() -> None:
        summary.append(simulate_year(config, weather, start, step_s=60.0))

    value = median_seconds(one_year, repeats=5)
    baseline = median_seconds(_bare_thermal_loop, repeats=5)
    year = summary[-1]
    assert year.steps == STEPS
    return [
        BenchResult(
            name="sim: one home-year at 1-min steps",
            unit="s",
            value=value,
            baseline_name="bare 2-state update loop, 525,600 steps",
            baseline_value=baseline,
            goal=f"< {GOAL_S:g} s wall",
            met=value < GOAL_S,
            notes=(
                f"{value / STEPS * 1e9:.0f} ns/step; year on KNMI De Bilt winter"
                f" (wrapped): {year.electric_energy_wh / 1000:.0f} kWh electric,"
                f" {year.gas_m3:.0f} m3 gas, seasonal COP {year.seasonal_cop:.2f}"
            ),
        )
    ]
