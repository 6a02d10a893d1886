"""The vectorised neighbourhood model: same physics as the per-home model, energy kept."""

from __future__ import annotations

from datetime import UTC, datetime
import math

import numpy as np
import pytest

from dacs.devices.models import OperatingMode
from dacs.testbed.sim.house import HouseState, heat_loss_w, stored_heat_j
from dacs.testbed.sim.hybrid import (
    HybridHome,
    HybridHomeConfig,
    make_neighbourhood_configs,
    simulate_year,
)
from dacs.testbed.sim.neighbourhood_model import NeighbourhoodModel
from dacs.testbed.sim.realistic import make_realistic_configs
from dacs.testbed.sim.weather import ConstantWeather, WeatherSample, WeatherSeries

START = datetime(2025, 1, 14, 12, tzinfo=UTC)


@pytest.fixture(scope="module")
def knmi() -> WeatherSeries:
    return WeatherSeries.default(wrap=True)


def _step_homes(
    configs: list[HybridHomeConfig],
    weather: WeatherSeries,
    *,
    steps: int,
    limits: list[float | None],
    modes: list[OperatingMode],
) -> tuple[list[HybridHome], np.ndarray]:
    dt_s = 60.0
    homes = [HybridHome(c, weather, START) for c in configs]
    indoor = np.zeros(len(homes))
    for index, home in enumerate(homes):
        home.electric_limit_w = limits[index]
        home.mode = modes[index]
        total = 0.0
        for _ in range(steps):
            total += home.step(dt_s).indoor_temp_c
        indoor[index] = total / steps
    return homes, indoor


@pytest.mark.parametrize("realistic", [False, True], ids=["generic", "realistic"])
def test_per_home_and_vectorised_agree_within_one_percent(
    knmi: WeatherSeries, *, realistic: bool
) -> None:
    """A day of a varied street, with limits and modes: energy, gas, temperature.

    From 13:00 local to 13:00: the evening, the night setback and the morning's
    hot water (the per-home side costs about 0.4 ms a home-minute in Python).
    """
    make = make_realistic_configs if realistic else make_neighbourhood_configs
    configs = make(12, 4)
    limits = [None, 500.0, None, 300.0, None, None, 900.0, None, None, 0.0, None, None]
    modes = [OperatingMode.NORMAL] * 12
    modes[4] = OperatingMode.GAS_ONLY
    modes[8] = OperatingMode.OFF
    steps = 1440
    homes, indoor = _step_homes(configs, knmi, steps=steps, limits=limits, modes=modes)
    model = NeighbourhoodModel(configs, knmi, START)
    for index in range(12):
        model.set_limit(index, limits[index])
        model.set_mode(index, modes[index])
    run = model.run(steps * 60.0, 60.0)
    electric = np.array([h.electric_energy_wh for h in homes])
    gas = np.array([h.gas_m3 for h in homes])
    heat = np.array([h.hp_heat_wh + h.boiler_heat_wh for h in homes])
    assert electric.sum() > 0
    assert gas.sum() > 0
    np.testing.assert_allclose(run.electric_energy_wh, electric, rtol=0.01, atol=1.0)
    np.testing.assert_allclose(run.gas_m3, gas, rtol=0.01, atol=1e-3)
    np.testing.assert_allclose(run.hp_heat_wh + run.boiler_heat_wh, heat, rtol=0.01)
    np.testing.assert_allclose(run.mean_indoor_c, indoor, rtol=0.01)
    np.testing.assert_allclose(
        run.final_indoor_c, [h.indoor_temp_c for h in homes], rtol=0.01
    )
    # The limits hold in both, and a 0 W limit keeps the compressor off.
    assert electric[9] == 0.0
    assert run.electric_energy_wh[9] == 0.0
    assert run.electric_energy_wh[4] == 0.0  # gas only
    # The window held hot water (realistic homes), drawn from the boiler when off.
    assert (homes[8].hot_water_wh > 0) is realistic
    assert run.gas_m3[8] == pytest.approx(
        homes[8].hot_water_wh * 3.6e3 / 0.8 / 35.17e6 if realistic else 0.0
    )


def test_fast_path_and_vectorised_agree_on_a_week(knmi: WeatherSeries) -> None:
    configs = make_neighbourhood_configs(6, 9)
    model = NeighbourhoodModel(configs, knmi, START)
    run = model.run(7 * 86_400.0, 60.0)
    for index, config in enumerate(configs):
        year = simulate_year(config, knmi, START, 60.0, duration_s=7 * 86_400.0)
        assert run.electric_energy_wh[index] == pytest.approx(
            year.electric_energy_wh, rel=1e-9
        )
        assert run.gas_m3[index] == pytest.approx(year.gas_m3, rel=1e-9, abs=1e-12)
        assert run.mean_indoor_c[index] == pytest.approx(year.mean_indoor_c, rel=1e-9)


@pytest.mark.parametrize("realistic", [False, True], ids=["generic", "realistic"])
def test_energy_balance_per_step(knmi: WeatherSeries, *, realistic: bool) -> None:
    """Stored heat changes by heat in (heating, people, sun) minus losses, each step."""
    make = make_realistic_configs if realistic else make_neighbourhood_configs
    configs = make(8, 2)
    model = NeighbourhoodModel(configs, knmi, START)
    dt = 10.0
    for _ in range(360):
        before = [
            HouseState(float(a), float(m))
            for a, m in zip(model.indoor_c, model.mass_c, strict=True)
        ]
        step = model.step(dt)
        for index, config in enumerate(configs):
            house = config.house
            after = HouseState(
                float(step.indoor_temp_c[index]), float(step.mass_temp_c[index])
            )
            loss = (
                heat_loss_w(house, before[index], step.outdoor_temp_c)
                + heat_loss_w(house, after, step.outdoor_temp_c)
            ) / 2
            heat_in = (
                step.hp_thermal_w[index]
                + step.boiler_thermal_w[index]
                - step.hot_water_w[index]
                + step.gains_w[index]
                + step.solar_w[index]
            )
            change = stored_heat_j(house, after) - stored_heat_j(house, before[index])
            assert change == pytest.approx(
                (heat_in - loss) * dt, abs=2e-3 * (abs(heat_in) + abs(loss)) * dt
            )
        # The heat pump's heat never exceeds electricity x COP, nor the limit.
        assert np.all(step.hp_thermal_w <= step.hp_electric_w * 8 + 1e-9)


def test_limits_modes_and_controls_per_home() -> None:
    configs = make_neighbourhood_configs(4, 1)
    weather = ConstantWeather(2.0, 0.0)
    model = NeighbourhoodModel(configs, weather, START, initial_indoor_c=18.0)
    model.set_limit(0, 400.0)
    model.set_limit(1, 1.0)  # below every floor: off
    model.set_mode(2, OperatingMode.GAS_ONLY)
    model.set_mode(3, OperatingMode.OFF)
    for _ in range(30):
        step = model.step(60.0)
        assert step.hp_electric_w[0] <= 400.0 + 1e-9
        assert step.hp_electric_w[1] == 0.0
        assert step.boiler_thermal_w[1] > 0
        assert step.hp_electric_w[2] == 0.0
        assert step.boiler_thermal_w[2] > 0
        assert step.hp_electric_w[3] == 0.0
        assert step.boiler_thermal_w[3] == 0.0
    model.set_limit(1, None)
    assert model.step(60.0).hp_electric_w[1] > 0
    assert model.time == START.replace(minute=31)


def test_bad_inputs_are_refused(knmi: WeatherSeries) -> None:
    configs = make_neighbourhood_configs(2, 1)
    with pytest.raises(ValueError, match="at least one home"):
        NeighbourhoodModel([], knmi, START)
    with pytest.raises(ValueError, match="timezone"):
        NeighbourhoodModel(configs, knmi, datetime(2025, 1, 1))  # noqa: DTZ001
    model = NeighbourhoodModel(configs, knmi, START)
    with pytest.raises(ValueError, match="dt_s"):
        model.step(0.0)
    with pytest.raises(ValueError, match="electric_limit_w"):
        model.set_limit(0, -5.0)
    with pytest.raises(ValueError, match="whole number"):
        model.run(3600.0, 60.0, record_interval_s=90.0)
    with pytest.raises(ValueError, match="duration_s"):
        model.run(10.0, 60.0)
    broken = NeighbourhoodModel(configs, _NanAfterStart(), START)
    broken.step(60.0)
    with pytest.raises(ValueError, match="non-finite"):
        broken.step(60.0)


class _NanAfterStart:
    """Weather that breaks after the first instant."""

    def at(self, when: datetime) -> WeatherSample:
        return WeatherSample(1.0 if when == START else math.nan, 0.0)


def test_interval_record_matches_totals(knmi: WeatherSeries) -> None:
    configs = make_realistic_configs(5, 8)
    model = NeighbourhoodModel(configs, knmi, START, meter_seed=3)
    run = model.run(86_400.0, 60.0, record_interval_s=900.0)
    record = run.record
    assert record is not None
    assert record.hp_electric_w.shape == (96, 5)
    np.testing.assert_allclose(
        record.hp_electric_w.sum(axis=0) * 0.25, run.electric_energy_wh, rtol=1e-9
    )
    # The power sensor reads close to, not exactly, the truth; never negative.
    assert np.all(record.metered_electric_w >= 0)
    ratio = record.metered_electric_w.sum(axis=0) / record.hp_electric_w.sum(axis=0)
    assert np.all(np.abs(ratio - 1) < 0.12)
    assert not np.allclose(record.metered_electric_w, record.hp_electric_w)
