"""The same evening without any control: the load the transformer would have seen."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
from numpy.typing import NDArray

from dacs.testbed.sim.household_load import household_power_w
from dacs.testbed.sim.hybrid import HybridHome
from dacs.testbed.sim.weather import Weather, WeatherSeries

from .scenario import Scenario

STEP_S = 60.0


@dataclass(frozen=True, kw_only=True)
class LoadTrace:
    """Per-minute totals of one run."""

    minutes: NDArray[np.float64]  # minutes since the scenario's start
    heat_pump_kw: NDArray[np.float64]
    household_kw: NDArray[np.float64]
    min_indoor_c: NDArray[np.float64]
    gas_m3: float  # over the whole run, all homes
    electric_kwh: float

    @property
    def total_kw(self) -> NDArray[np.float64]:
        """Transformer load."""
        result: NDArray[np.float64] = self.heat_pump_kw + self.household_kw
        return result

    def quarter_means_kw(
        self, first_minute: float, quarters: int
    ) -> list[float | None]:
        """Transformer load averaged per 15 minutes from ``first_minute`` (None: no sample)."""
        total = self.total_kw
        means: list[float | None] = []
        for quarter in range(quarters):
            start = first_minute + 15 * quarter
            mask = (self.minutes >= start) & (self.minutes < start + 15)
            means.append(float(total[mask].mean()) if mask.any() else None)
        return means


def limits_from_peak(uncontrolled: LoadTrace, cap_share: float) -> tuple[float, float]:
    """The transformer's rating and the event's cap (kW) for an uncontrolled evening.

    The rating sits just above the uncontrolled peak, the cap ``cap_share`` of it.
    """
    peak = float(uncontrolled.total_kw.max())
    return round(peak * 1.05, 1), round(peak * cap_share, 1)


def household_trace(scenario: Scenario) -> NDArray[np.float64]:
    """The neighbourhood's non-heat-pump load per minute (kW)."""
    annual = scenario.annual_household_kwh()
    steps = int(scenario.duration.total_seconds() // STEP_S)
    values = np.empty(steps)
    for step in range(steps):
        moment = scenario.start + timedelta(seconds=step * STEP_S)
        values[step] = sum(household_power_w(moment, kwh) for kwh in annual) / 1000
    return values


def household_forecast(scenario: Scenario) -> Callable[[datetime], float]:
    """The street's non-heat-pump load as the service provider forecasts it (W).

    The standard profile (E1A) times the connections' annual use, what a
    Dutch supplier or grid operator knows of a small connection. The
    simulated households follow that profile, so here the forecast's shape
    is exact; a real street's is not (docs/allocation.md).
    """
    total_kwh = sum(scenario.annual_household_kwh())
    return lambda moment: household_power_w(moment, total_kwh)


def run_uncontrolled(scenario: Scenario, weather: Weather | None = None) -> LoadTrace:
    """Step every home through the scenario with no limit at all."""
    weather = weather or WeatherSeries.default(wrap=True)
    homes = [
        HybridHome(config, weather, scenario.start)
        for config in scenario.home_configs()
    ]
    steps = int(scenario.duration.total_seconds() // STEP_S)
    heat_pump = np.empty(steps)
    indoor = np.empty(steps)
    for step in range(steps):
        results = [home.step(STEP_S) for home in homes]
        heat_pump[step] = sum(r.hp_electric_w for r in results) / 1000
        indoor[step] = min(r.indoor_temp_c for r in results)
    return LoadTrace(
        minutes=np.arange(steps, dtype=np.float64) * STEP_S / 60,
        heat_pump_kw=heat_pump,
        household_kw=household_trace(scenario),
        min_indoor_c=indoor,
        gas_m3=sum(h.gas_m3 for h in homes),
        electric_kwh=sum(h.electric_energy_wh for h in homes) / 1000,
    )
