"""The hybrid home: energy bookkeeping, limits, modes, fast path, bad input."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
import math

from hypothesis import given, settings, strategies as st
import pytest

from dacs.testbed.sim.boiler import GAS_HHV_J_PER_M3, BoilerSpec, burn
from dacs.testbed.sim.heat_pump_model import (
    cop,
    max_electric_w,
    modulating_heat_pump,
    on_off_heat_pump,
)
from dacs.testbed.sim.house import (
    DwellingType,
    InsulationLevel,
    heat_loss_w,
    house_parameters,
    steady_state_heat_w,
    stored_heat_j,
)
from dacs.testbed.sim.hybrid import (
    HeatingCurve,
    HybridHome,
    HybridHomeConfig,
    OperatingMode,
    Thermostat,
    make_neighbourhood_configs,
    simulate_year,
)
from dacs.testbed.sim.weather import ConstantWeather, WeatherSample, WeatherSeries

START = datetime(2025, 1, 10, tzinfo=UTC)
MID_HOUSE = house_parameters(DwellingType.SEMI_DETACHED, InsulationLevel.AVERAGE)


def mid_home(**overrides: object) -> HybridHomeConfig:
    config = HybridHomeConfig(house=MID_HOUSE, heat_pump=modulating_heat_pump(1700.0))
    for name, value in overrides.items():
        setattr(config, name, value)
    return config


@pytest.fixture(scope="module")
def knmi() -> WeatherSeries:
    return WeatherSeries.default(wrap=True)


class _SequenceWeather:
    """A Weather without the vectorised method, to exercise the slow sampling path."""

    def __init__(self, inner: WeatherSeries) -> None:
        self._inner = inner

    def at(self, when: datetime) -> WeatherSample:
        return self._inner.at(when)


class _BrokenWeather:
    def at(self, when: datetime) -> WeatherSample:
        return WeatherSample(math.nan, 0.0)


# --- boiler, curve, thermostat -------------------------------------------------


def test_boiler_burns_groningen_gas() -> None:
    spec = BoilerSpec(max_thermal_w=24_000.0, efficiency=0.9)
    out = burn(spec, 9_000.0)
    assert out.thermal_w == 9_000.0
    assert out.gas_w == pytest.approx(10_000.0)
    assert out.gas_m3_per_h == pytest.approx(10_000.0 * 3600 / 35.17e6)
    assert burn(spec, 30_000.0).thermal_w == 24_000.0
    assert burn(spec, 500.0).thermal_w == 500.0  # cycling below min_thermal_w
    with pytest.raises(ValueError, match="heat_w"):
        burn(spec, -1.0)
    with pytest.raises(ValueError, match="efficiency"):
        BoilerSpec(efficiency=1.07)
    with pytest.raises(ValueError, match="min_thermal_w"):
        BoilerSpec(max_thermal_w=10_000.0, min_thermal_w=12_000.0)


def test_heating_curve_is_clipped_and_linear() -> None:
    curve = HeatingCurve()
    assert curve.flow_temp_c(20.0) == 35.0
    assert curve.flow_temp_c(15.0) == 35.0
    assert curve.flow_temp_c(2.5) == pytest.approx(45.0)
    assert curve.flow_temp_c(-10.0) == 55.0
    assert curve.flow_temp_c(-20.0) == 55.0
    with pytest.raises(ValueError, match="design_outdoor_c"):
        HeatingCurve(design_outdoor_c=20.0)
    with pytest.raises(ValueError, match="design_flow_c"):
        HeatingCurve(design_flow_c=30.0)


def test_thermostat_feed_forward_deadband_and_gain() -> None:
    thermostat = Thermostat(gain_w_per_k=1000.0, deadband_k=0.2)
    assert thermostat.demand_w(2000.0, 20.0, 20.05) == 2000.0
    assert thermostat.demand_w(2000.0, 20.0, 19.1) == pytest.approx(2800.0)
    assert thermostat.demand_w(2000.0, 20.0, 21.1) == pytest.approx(1000.0)
    assert thermostat.demand_w(500.0, 20.0, 23.0) == 0.0
    with pytest.raises(ValueError, match="gain"):
        Thermostat(gain_w_per_k=-1.0)


# --- properties of the stepped home -----------------------------------------------

modes = st.sampled_from(list(OperatingMode))
limits = st.none() | st.floats(min_value=0.0, max_value=3000.0)


@settings(max_examples=25, deadline=None)
@given(
    outdoor=st.floats(min_value=-10.0, max_value=15.0),
    solar=st.floats(min_value=0.0, max_value=400.0),
    start_indoor=st.floats(min_value=12.0, max_value=24.0),
    setpoint=st.floats(min_value=16.0, max_value=22.0),
    limit=limits,
    mode=modes,
)
def test_energy_bookkeeping(
    *,
    outdoor: float,
    solar: float,
    start_indoor: float,
    setpoint: float,
    limit: float | None,
    mode: OperatingMode,
) -> None:
    """Heat in = HP + boiler, HP heat = electricity x COP, and the house's stored
    heat changes by what came in minus what leaked out."""
    home = HybridHome(
        mid_home(),
        ConstantWeather(outdoor, solar),
        START,
        initial_indoor_c=start_indoor,
    )
    home.electric_limit_w = limit
    home.mode = mode
    home.room_setpoint_c = setpoint
    house = home.config.house
    dt_s = 60.0
    before = stored_heat_j(house, home.state)
    lost_j = 0.0
    delivered_j = 0.0
    for _ in range(240):
        state = home.state
        step = home.step(dt_s)
        assert step.delivered_heat_w == pytest.approx(
            step.hp_thermal_w + step.boiler_thermal_w
        )
        assert step.hp_thermal_w == pytest.approx(step.hp_electric_w * step.cop)
        assert step.unmet_heat_w >= 0.0
        assert step.delivered_heat_w + step.unmet_heat_w == pytest.approx(
            step.heat_demand_w, abs=1e-6
        )
        assert step.boiler_gas_w == pytest.approx(
            step.boiler_thermal_w / home.config.boiler.efficiency
        )
        delivered_j += step.delivered_heat_w * dt_s
        lost_j += (
            (
                heat_loss_w(house, state, outdoor)
                + heat_loss_w(house, home.state, outdoor)
            )
            / 2
            * dt_s
        )
    gains_j = (house.internal_gains_w + house.solar_aperture_m2 * solar) * 240 * dt_s
    change_j = stored_heat_j(house, home.state) - before
    scale_j = delivered_j + gains_j + abs(lost_j)
    assert change_j == pytest.approx(delivered_j + gains_j - lost_j, abs=1e-3 * scale_j)
    assert home.hp_heat_wh + home.boiler_heat_wh == pytest.approx(delivered_j / 3600)
    assert home.gas_m3 == pytest.approx(
        home.boiler_heat_wh * 3600 / home.config.boiler.efficiency / GAS_HHV_J_PER_M3
    )


@settings(max_examples=30, deadline=None)
@given(
    limits_w=st.lists(limits, min_size=1, max_size=6),
    outdoor=st.floats(min_value=-10.0, max_value=15.0),
    on_off=st.booleans(),
    nominal=st.floats(min_value=900.0, max_value=2500.0),
)
def test_heat_pump_never_exceeds_the_limit(
    limits_w: list[float | None], outdoor: float, on_off: bool, nominal: float
) -> None:
    spec = on_off_heat_pump(nominal) if on_off else modulating_heat_pump(nominal)
    home = HybridHome(
        mid_home(heat_pump=spec), ConstantWeather(outdoor), START, initial_indoor_c=17.0
    )
    for limit in limits_w:
        home.electric_limit_w = limit
        for _ in range(30):
            step = home.step(60.0)
            if limit is not None:
                assert step.hp_electric_w <= limit
                if limit < spec.min_electric_w:
                    assert step.hp_electric_w == 0.0


@settings(max_examples=25, deadline=None)
@given(
    outdoor=st.floats(min_value=-10.0, max_value=18.0),
    start_indoor=st.floats(min_value=10.0, max_value=24.0),
    setpoint=st.floats(min_value=16.0, max_value=22.0),
    limit=limits,
    mode=modes,
)
def test_indoor_temperature_stays_within_physical_bounds(
    *,
    outdoor: float,
    start_indoor: float,
    setpoint: float,
    limit: float | None,
    mode: OperatingMode,
) -> None:
    config = mid_home(room_setpoint_c=setpoint)
    home = HybridHome(
        config, ConstantWeather(outdoor), START, initial_indoor_c=start_indoor
    )
    home.electric_limit_w = limit
    home.mode = mode
    # Without heating the house floats at outdoor + internal gains / H.
    free_float = (
        outdoor + config.house.internal_gains_w / config.house.total_conductance_w_per_k
    )
    low = min(start_indoor, free_float) - 1e-6
    high = max(start_indoor, free_float, setpoint) + 0.3
    for _ in range(48):
        step = home.step(900.0)
        assert low <= step.indoor_temp_c <= high


@settings(max_examples=25, deadline=None)
@given(
    outdoor=st.floats(min_value=-10.0, max_value=15.0),
    limit=st.floats(min_value=0.0, max_value=3000.0),
    dwelling=st.sampled_from(list(DwellingType)),
    insulation=st.sampled_from(list(InsulationLevel)),
)
def test_boiler_covers_what_the_limited_heat_pump_cannot(
    outdoor: float,
    limit: float,
    dwelling: DwellingType,
    insulation: InsulationLevel,
) -> None:
    config = HybridHomeConfig(
        house=house_parameters(dwelling, insulation),
        heat_pump=modulating_heat_pump(1700.0),
    )
    result = simulate_year(
        config,
        ConstantWeather(outdoor),
        START,
        duration_s=12 * 3600.0,
        electric_limit_w=limit,
    )
    assert result.unmet_heat_wh == 0.0
    assert result.min_indoor_c >= config.room_setpoint_c - 0.15
    assert result.max_indoor_c <= config.room_setpoint_c + 0.15


def test_gas_only_draws_no_electricity_and_keeps_the_house_warm() -> None:
    home = HybridHome(mid_home(), ConstantWeather(2.0), START)
    home.mode = OperatingMode.GAS_ONLY
    for _ in range(120):
        step = home.step(60.0)
        assert step.hp_electric_w == 0.0
        assert step.boiler_thermal_w > 0.0
    assert home.electric_energy_wh == 0.0
    assert home.indoor_temp_c == pytest.approx(20.0, abs=0.1)


def test_off_delivers_nothing_and_the_house_cools_towards_outdoor() -> None:
    home = HybridHome(mid_home(), ConstantWeather(0.0), START)
    home.mode = OperatingMode.OFF
    previous = home.indoor_temp_c
    for _ in range(72):
        step = home.step(3600.0)
        assert step.delivered_heat_w == 0.0
        assert step.unmet_heat_w == step.heat_demand_w > 0.0
        assert step.indoor_temp_c < previous
        previous = step.indoor_temp_c
    free_float = MID_HOUSE.internal_gains_w / MID_HOUSE.total_conductance_w_per_k
    assert free_float < home.indoor_temp_c < 16.0
    assert home.electric_energy_wh == home.gas_m3 == 0.0


def test_below_switch_over_the_boiler_heats_alone() -> None:
    home = HybridHome(
        mid_home(switch_over_outdoor_c=-3.0), ConstantWeather(-5.0), START
    )
    step = home.step(60.0)
    assert step.hp_electric_w == 0.0
    assert step.boiler_thermal_w == pytest.approx(step.heat_demand_w)
    never = HybridHome(
        mid_home(switch_over_outdoor_c=None), ConstantWeather(-5.0), START
    )
    assert never.step(60.0).hp_electric_w > 0.0


def test_steady_state_of_a_mid_home_at_zero_degrees() -> None:
    """The number to expect: ~1.2 kW electric for an average semi-detached house."""
    home = HybridHome(mid_home(), ConstantWeather(0.0), START)
    for _ in range(60):
        step = home.step(60.0)
    demand = steady_state_heat_w(MID_HOUSE, 20.0, 0.0)
    flow = home.config.heating_curve.flow_temp_c(0.0)
    assert step.heat_demand_w == pytest.approx(demand)
    assert step.hp_thermal_w == pytest.approx(demand)
    assert step.hp_electric_w == pytest.approx(
        demand / cop(home.config.heat_pump, 0.0, flow)
    )
    assert 1000.0 < step.hp_electric_w < 1400.0
    assert step.boiler_thermal_w == 0.0
    assert step.return_temp_c < step.flow_temp_c == flow


def test_limited_heat_pump_runs_at_the_limit_and_the_boiler_tops_up() -> None:
    home = HybridHome(mid_home(), ConstantWeather(0.0), START)
    home.electric_limit_w = 700.0
    step = home.step(60.0)
    assert step.hp_electric_w == pytest.approx(700.0)
    assert step.boiler_thermal_w == pytest.approx(
        step.heat_demand_w - step.hp_thermal_w
    )
    home.electric_limit_w = 100.0  # below the minimum modulation
    step = home.step(60.0)
    assert step.hp_electric_w == 0.0
    assert step.boiler_thermal_w == pytest.approx(step.heat_demand_w)


def test_latest_values_and_clock() -> None:
    home = HybridHome(mid_home(), ConstantWeather(0.0), START)
    before = home.last_step
    assert before is None
    assert home.hp_electric_w == home.cop == 0.0
    assert home.flow_temp_c == home.config.heating_curve.flow_temp_c(0.0)
    step = home.step(90.0)
    assert home.time == step.time == START + timedelta(seconds=90)
    assert home.last_step is step
    assert home.hp_electric_w == step.hp_electric_w
    assert home.indoor_temp_c == step.indoor_temp_c
    assert home.electric_energy_wh == pytest.approx(step.hp_electric_w * 90 / 3600)


# --- the fast path ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "limit"),
    [
        (OperatingMode.NORMAL, None),
        (OperatingMode.NORMAL, 800.0),
        (OperatingMode.NORMAL, 300.0),
        (OperatingMode.GAS_ONLY, None),
        (OperatingMode.OFF, None),
    ],
)
def test_fast_path_equals_stepping_for_a_day(
    knmi: WeatherSeries, mode: OperatingMode, limit: float | None
) -> None:
    config = mid_home(room_setpoint_c=20.5)
    start = datetime(2025, 1, 17, 6, tzinfo=UTC)  # a frosty day with sun
    fast = simulate_year(
        config,
        knmi,
        start,
        duration_s=86_400.0,
        electric_limit_w=limit,
        mode=mode,
        initial_indoor_c=18.0,
        record=True,
    )
    home = HybridHome(config, knmi, start, initial_indoor_c=18.0)
    home.electric_limit_w = limit
    home.mode = mode
    indoor = [home.step(60.0).indoor_temp_c for _ in range(1440)]
    assert fast.steps == 1440
    assert fast.end == home.time
    assert fast.trace is not None
    assert fast.trace.indoor_temp_c.tolist() == pytest.approx(indoor, abs=1e-9)
    assert fast.final_state.indoor_temp_c == pytest.approx(home.indoor_temp_c, abs=1e-9)
    assert fast.final_state.mass_temp_c == pytest.approx(home.mass_temp_c, abs=1e-9)
    for name in (
        "electric_energy_wh",
        "hp_heat_wh",
        "boiler_heat_wh",
        "gas_m3",
        "unmet_heat_wh",
    ):
        assert getattr(fast, name) == pytest.approx(
            getattr(home, name), rel=1e-9, abs=1e-9
        )


def test_fast_path_samples_plain_weather_too(knmi: WeatherSeries) -> None:
    config = mid_home()
    vectorised = simulate_year(config, knmi, START, 300.0, duration_s=86_400.0)
    stepwise = simulate_year(
        config, _SequenceWeather(knmi), START, 300.0, duration_s=86_400.0
    )
    assert stepwise.electric_energy_wh == pytest.approx(vectorised.electric_energy_wh)
    assert stepwise.final_state.indoor_temp_c == pytest.approx(
        vectorised.final_state.indoor_temp_c
    )


def test_a_year_at_one_minute_steps(knmi: WeatherSeries) -> None:
    result = simulate_year(mid_home(), knmi, datetime(2024, 12, 1, tzinfo=UTC))
    assert result.steps == 525_600
    assert result.unmet_heat_wh == 0.0
    assert result.min_indoor_c > 19.5
    assert result.max_indoor_c < 24.0
    assert 2.5 < result.seasonal_cop < 4.5
    assert result.heat_pump_share > 0.9


# --- neighbourhood ----------------------------------------------------------------


def test_neighbourhood_is_deterministic_and_diverse() -> None:
    homes = make_neighbourhood_configs(60, seed=7)
    assert homes == make_neighbourhood_configs(60, seed=7)
    assert homes != make_neighbourhood_configs(60, seed=8)
    assert make_neighbourhood_configs(0, seed=1) == []
    design_kw = [home.house.design_heat_loss_w() / 1000 for home in homes]
    assert min(design_kw) > 1.0
    assert max(design_kw) < 14.0
    assert len({home.house.floor_area_m2 for home in homes}) > 30
    assert len({home.heat_pump.nominal_electric_w for home in homes}) == 3
    assert any(
        h.heat_pump.min_electric_w == h.heat_pump.nominal_electric_w for h in homes
    )
    assert all(18.5 <= home.room_setpoint_c <= 22.0 for home in homes)
    with pytest.raises(ValueError, match="n must be"):
        make_neighbourhood_configs(-1, seed=1)


# --- bad input --------------------------------------------------------------------


def test_bad_inputs_are_rejected() -> None:
    home = HybridHome(mid_home(), ConstantWeather(5.0), START)
    for dt_s in (-60.0, 0.0, math.nan, math.inf):
        with pytest.raises(ValueError, match="dt_s"):
            home.step(dt_s)
    with pytest.raises(ValueError, match="electric_limit_w"):
        home.electric_limit_w = -1.0
    with pytest.raises(ValueError, match="electric_limit_w"):
        home.electric_limit_w = math.nan
    with pytest.raises(ValueError, match="setpoint"):
        home.room_setpoint_c = math.nan
    with pytest.raises(ValueError, match="setpoint"):
        home.room_setpoint_c = 45.0
    with pytest.raises(ValueError, match="turbo"):
        home.mode = "turbo"  # type: ignore[assignment]  # a caller passing a wrong string
    home.mode = "gas_only"  # type: ignore[assignment]  # strings of the enum are accepted
    assert home.mode is OperatingMode.GAS_ONLY
    with pytest.raises(ValueError, match="timezone"):
        HybridHome(mid_home(), ConstantWeather(5.0), datetime(2025, 1, 1))  # noqa: DTZ001
    with pytest.raises(ValueError, match="non-finite"):
        HybridHome(mid_home(), _BrokenWeather(), START)
    with pytest.raises(ValueError, match="setpoint"):
        HybridHomeConfig(
            house=MID_HOUSE,
            heat_pump=modulating_heat_pump(1700.0),
            room_setpoint_c=math.nan,
        )


def test_bad_fast_path_inputs_are_rejected(knmi: WeatherSeries) -> None:
    config = mid_home()
    with pytest.raises(ValueError, match="timezone"):
        simulate_year(config, knmi, datetime(2025, 1, 1))  # noqa: DTZ001
    with pytest.raises(ValueError, match="step_s"):
        simulate_year(config, knmi, START, -60.0)
    with pytest.raises(ValueError, match="duration_s"):
        simulate_year(config, knmi, START, duration_s=10.0)
    with pytest.raises(ValueError, match="electric_limit_w"):
        simulate_year(config, knmi, START, duration_s=3600.0, electric_limit_w=-5.0)
    with pytest.raises(ValueError, match="outside"):
        simulate_year(config, WeatherSeries.default(), START, duration_s=120 * 86_400.0)
    with pytest.raises(ValueError, match="non-finite"):
        simulate_year(config, _BrokenWeather(), START, duration_s=3600.0)


def test_config_replace_keeps_validation() -> None:
    config = mid_home()
    with pytest.raises(ValueError, match="design_delta_t_k"):
        replace(config, design_delta_t_k=-1.0)
    assert max_electric_w(config.heat_pump, 0.0, 45.0) > 0
