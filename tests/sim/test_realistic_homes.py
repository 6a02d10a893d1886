"""Realistic homes: hot water, occupants, setback, sensor noise, compressor timers, models."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from importlib import resources

import numpy as np
import pandas as pd
import pytest

from dacs.testbed.sim import equations as eq
from dacs.testbed.sim.boiler import GAS_HHV_J_PER_M3, BoilerSpec
from dacs.testbed.sim.catalogue import CATALOGUE, catalogue_heat_pump
from dacs.testbed.sim.heat_pump_model import HeatPumpSpec, modulating_heat_pump
from dacs.testbed.sim.house import DwellingType, InsulationLevel, house_parameters
from dacs.testbed.sim.hybrid import (
    HybridHome,
    HybridHomeConfig,
    StepResult,
    make_neighbourhood_configs,
)
from dacs.testbed.sim.occupants import (
    LOCAL,
    Household,
    HouseholdArrays,
    calendar,
    day_uniform,
    household_inputs,
)
from dacs.testbed.sim.realistic import make_realistic_configs
from dacs.testbed.sim.weather import ConstantWeather

# A Monday, local midnight.
MONDAY = datetime(2025, 1, 13, tzinfo=LOCAL).astimezone(UTC)
HOUSE = house_parameters(DwellingType.TERRACED, InsulationLevel.AVERAGE)


def _home(
    household: Household | None = None, heat_pump: HeatPumpSpec | None = None
) -> HybridHomeConfig:
    return HybridHomeConfig(
        house=HOUSE,
        heat_pump=heat_pump or modulating_heat_pump(1700.0),
        household=household,
    )


def _run(
    config: HybridHomeConfig, hours: float, outdoor: float = 5.0, dt: float = 60.0
) -> tuple[HybridHome, list[StepResult]]:
    home = HybridHome(config, ConstantWeather(outdoor, 0.0), MONDAY)
    steps = [home.step(dt) for _ in range(round(hours * 3600 / dt))]
    return home, steps


def _local_minute(step: StepResult, dt: float = 60.0) -> float:
    moment = (step.time - timedelta(seconds=dt)).astimezone(LOCAL)
    return moment.hour * 60 + moment.minute


def test_hot_water_comes_from_the_boiler_in_the_morning_and_evening() -> None:
    people = Household(seed=5, occupants=3, hot_water_l_per_person=40.0)
    home, steps = _run(_home(people), 48, outdoor=12.0)
    tap_minutes = [_local_minute(s) for s in steps if s.hot_water_w > 0]
    assert tap_minutes
    assert all(360 <= m <= 600 or 1020 <= m <= 1260 for m in tap_minutes)
    assert any(m < 720 for m in tap_minutes)
    assert any(m > 720 for m in tap_minutes)
    # Per day 3 people x 40 l x 50 K, varied 0.6-1.4 from day to day.
    daily_wh = 3 * 40 * 4186 * 50 / 3600
    assert 2 * 0.6 * daily_wh <= home.hot_water_wh <= 2 * 1.4 * daily_wh
    # Mild weather: the heat pump covers the rooms, all gas is hot water.
    assert home.gas_m3 == pytest.approx(
        home.hot_water_wh * 3600 / 0.80 / GAS_HHV_J_PER_M3, rel=0.02
    )
    # Without a household: no hot water at all.
    bare, _ = _run(_home(), 24, outdoor=12.0)
    assert bare.hot_water_wh == 0.0


def test_internal_gains_follow_presence_and_vary_from_day_to_day() -> None:
    people = Household(seed=11, occupants=4, away_weekdays=True)
    arrays = HouseholdArrays.of([people])
    times = MONDAY.timestamp() + 60.0 * np.arange(7 * 1440)
    inputs = household_inputs(arrays, calendar(times), 60.0)
    gains = inputs.gains_w[:, 0].reshape(7, 1440)
    # Out at work on Monday 11:00 (unless working at home that day), in at 21:00.
    working = day_uniform(arrays.seed, calendar(times[:1]).day, 1)[0] >= 0.15
    people_w = gains[0, 21 * 60] - gains[0, 11 * 60]
    assert (people_w > 200) if working else (people_w < 200)
    daily = gains.mean(axis=1)
    assert np.ptp(daily) > 0.05 * daily.mean()  # day-to-day variation
    assert np.all(gains > 0)
    again = household_inputs(arrays, calendar(times), 60.0)
    np.testing.assert_array_equal(again.gains_w, inputs.gains_w)
    other = household_inputs(
        HouseholdArrays.of([replace(people, seed=12)]), calendar(times), 60.0
    )
    assert not np.array_equal(other.gains_w, inputs.gains_w)


def test_night_setback_lowers_the_setpoint_only_at_night() -> None:
    people = Household(seed=2, setback_k=2.0, wake_min=420.0, sleep_min=1380.0)
    _, steps = _run(_home(people), 24)
    by_minute = {_local_minute(s): s.room_setpoint_c for s in steps}
    assert by_minute[3 * 60] == pytest.approx(18.0)
    assert by_minute[12 * 60] == pytest.approx(20.0)
    assert by_minute[23 * 60 + 30] == pytest.approx(18.0)
    _, plain = _run(_home(replace(people, setback_k=0.0)), 24)
    assert all(s.room_setpoint_c == 20.0 for s in plain)


def test_thermostat_offset_and_resolution_shift_what_it_holds() -> None:
    assert eq.sensed_temp_c(20.04, 0.0, 0.1) == pytest.approx(20.0)
    assert eq.sensed_temp_c(20.3, 0.0, 0.5) == pytest.approx(20.5)
    assert eq.sensed_temp_c(20.37, 0.0, 0.0) == pytest.approx(20.37)
    arrays = eq.sensed_temp_c(
        np.array([20.04, 20.3, 20.37]), np.zeros(3), np.array([0.1, 0.5, 0.0])
    )
    np.testing.assert_allclose(arrays, [20.0, 20.5, 20.37])
    exact = Household(seed=1, thermostat_resolution_k=0.0, away_weekdays=False)
    reads_high = replace(exact, thermostat_offset_k=0.5)
    # The mass settles over days: compare the third day.
    _, held = _run(_home(exact), 72, outdoor=0.0)
    _, low = _run(_home(reads_high), 72, outdoor=0.0)
    late = slice(48 * 60, None)
    mean_exact = np.mean([s.indoor_temp_c for s in held[late]])
    mean_low = np.mean([s.indoor_temp_c for s in low[late]])
    assert mean_exact - mean_low == pytest.approx(0.5, abs=0.15)


def test_compressor_minimum_run_and_off_times_and_start_up_losses() -> None:
    pump = replace(
        modulating_heat_pump(1700.0),
        min_run_s=600.0,
        min_off_s=900.0,
        startup_ramp_s=120.0,
    )
    # Mild weather: the demand is below the minimum output, so it cycles.
    home, steps = _run(_home(heat_pump=pump), 24, outdoor=13.0)
    running = np.array([s.hp_electric_w > 0 for s in steps])
    edges = np.flatnonzero(np.diff(running.astype(int))) + 1
    runs = np.split(running, edges)
    inner = runs[1:-1]  # whole runs and pauses
    assert len(inner) > 4
    for run in inner:
        minutes = len(run)
        assert minutes >= (10 if run[0] else 15)
    assert home.starts == sum(1 for s in steps if s.started)
    assert home.starts <= 24 * 60 / 25 + 1
    # Start-up loss: the first minute after a start delivers less than P x COP.
    first = next(s for s in steps if s.started)
    assert first.hp_thermal_w < first.hp_electric_w * first.cop * 0.8
    assert home.startup_loss_wh > 0
    # The averaged compressor (no timers) meets the same demand without starts.
    plain, _ = _run(_home(), 24, outdoor=13.0)
    assert plain.starts <= 1
    assert plain.startup_loss_wh == 0.0


def test_a_limit_below_the_floor_stops_the_compressor_despite_its_run_timer() -> None:
    pump = replace(modulating_heat_pump(1700.0), min_run_s=1800.0, min_off_s=600.0)
    home = HybridHome(_home(heat_pump=pump), ConstantWeather(0.0, 0.0), MONDAY)
    for _ in range(5):
        home.step(60.0)
    assert home.hp_electric_w > 0
    home.electric_limit_w = 100.0  # below the 595 W floor
    assert home.step(60.0).hp_electric_w == 0.0
    assert home.boiler_thermal_w > 0


def test_catalogue_constants_match_hplib() -> None:
    path = resources.files("hplib").joinpath("hplib_database.csv")
    with resources.as_file(path) as csv:
        database = pd.read_csv(csv)
    for entry in CATALOGUE:
        row = database[database["Model"] == entry.model].iloc[0]
        assert row["Manufacturer"].strip() == entry.manufacturer
        assert row["P_el_h_ref [W]"] == entry.reference_electric_w
        assert row["P_th_h_ref [W]"] == entry.reference_thermal_w
        assert row["Group"] == 1
        for index, column in enumerate(
            ("p1_COP [-]", "p2_COP [-]", "p3_COP [-]", "p4_COP [-]")
        ):
            assert entry.cop_fit.coefficients[index] == pytest.approx(
                row[column], rel=1e-12
            )
        spec = catalogue_heat_pump(entry)
        assert spec.nominal_electric_w == entry.reference_electric_w
        assert entry.manufacturer in spec.model


def test_realistic_street_is_reproducible_and_varied() -> None:
    street = make_realistic_configs(200, 7)
    assert street == make_realistic_configs(200, 7)
    assert street != make_realistic_configs(200, 8)
    models = {c.heat_pump.model for c in street}
    assert len(models) >= 8
    people = [c.household for c in street if c.household is not None]
    assert len(people) == 200
    assert {p.occupants for p in people} >= {1, 2, 3, 4, 5}
    setback = sum(p.setback_k > 0 for p in people) / 200
    assert 0.2 < setback < 0.5
    assert {p.thermostat_resolution_k for p in people} == {0.1, 0.5}
    assert all(
        c.heat_pump.min_run_s > 0 and c.heat_pump.startup_ramp_s > 0 for c in street
    )
    # Same dwellings as the generic street of the same seed.
    generic = make_neighbourhood_configs(200, 7)
    assert [c.house for c in street] == [c.house for c in generic]


def test_bad_households_are_refused() -> None:
    with pytest.raises(ValueError, match="occupants"):
        Household(seed=1, occupants=0)
    with pytest.raises(ValueError, match="wake_min"):
        Household(seed=1, wake_min=1400.0, sleep_min=1300.0)
    with pytest.raises(ValueError, match="setback_k"):
        Household(seed=1, setback_k=-1.0)
    with pytest.raises(ValueError, match="finite"):
        Household(seed=1, hot_water_l_per_person=float("nan"))
    with pytest.raises(ValueError, match="meter_gain_error"):
        Household(seed=1, meter_gain_error=0.7)
    with pytest.raises(ValueError, match="min_run_s"):
        replace(modulating_heat_pump(1000.0), min_run_s=-1.0)
    with pytest.raises(ValueError, match="hot_water_efficiency"):
        BoilerSpec(hot_water_efficiency=1.5)
