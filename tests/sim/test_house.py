"""House model: reference parameters, exact stepping, energy balance, bad input."""

from __future__ import annotations

from dataclasses import replace
import itertools
import math

from hypothesis import given, settings, strategies as st
import pytest

from dacs.testbed.sim.house import (
    DwellingType,
    HouseState,
    InsulationLevel,
    heat_loss_w,
    house_parameters,
    steady_state_heat_w,
    steady_state_house,
    step_house,
    stored_heat_j,
)

ALL_HOUSES = list(itertools.product(DwellingType, InsulationLevel))
GROUND_BOUND = [d for d in DwellingType if d is not DwellingType.APARTMENT]
MID = house_parameters(DwellingType.SEMI_DETACHED, InsulationLevel.AVERAGE)


def test_design_heat_loss_spans_the_dutch_stock() -> None:
    def design_kw(dwelling: DwellingType, insulation: InsulationLevel) -> float:
        return house_parameters(dwelling, insulation).design_heat_loss_w() / 1000

    assert 10.0 <= design_kw(DwellingType.DETACHED, InsulationLevel.POOR) <= 12.0
    assert 2.5 <= design_kw(DwellingType.TERRACED, InsulationLevel.GOOD) <= 4.0
    assert 5.0 <= design_kw(DwellingType.SEMI_DETACHED, InsulationLevel.AVERAGE) <= 7.0
    for dwelling in DwellingType:
        losses = [design_kw(dwelling, level) for level in InsulationLevel]
        assert losses == sorted(losses, reverse=True)  # poor > average > good
    for insulation in InsulationLevel:
        losses = [design_kw(d, insulation) for d in GROUND_BOUND]
        assert losses == sorted(losses)  # terraced < semi-detached < detached


@pytest.mark.parametrize(("dwelling", "insulation"), ALL_HOUSES)
def test_time_constants_are_tens_of_hours(
    dwelling: DwellingType, insulation: InsulationLevel
) -> None:
    params = house_parameters(dwelling, insulation)
    fast_s, slow_s = params.time_constants_s
    assert 60.0 < fast_s < 3600.0
    assert 15 * 3600.0 < slow_s < 120 * 3600.0


def test_floor_area_override_scales_the_house() -> None:
    double = house_parameters(
        DwellingType.TERRACED, InsulationLevel.AVERAGE, floor_area_m2=220.0
    )
    single = house_parameters(DwellingType.TERRACED, InsulationLevel.AVERAGE)
    assert double.design_heat_loss_w() == pytest.approx(2 * single.design_heat_loss_w())
    assert double.time_constants_s == pytest.approx(single.time_constants_s)
    with pytest.raises(ValueError, match="floor_area_m2"):
        house_parameters(
            DwellingType.TERRACED, InsulationLevel.AVERAGE, floor_area_m2=0
        )


def test_unknown_types_are_rejected() -> None:
    with pytest.raises(ValueError, match="castle"):
        # An untyped caller (a config file) passing an unknown name.
        house_parameters("castle", InsulationLevel.GOOD)  # type: ignore[arg-type]
    # The enums are StrEnums, so their plain string values are accepted too.
    from_strings = house_parameters("terraced", "good")  # type: ignore[arg-type]
    assert from_strings == house_parameters(DwellingType.TERRACED, InsulationLevel.GOOD)


@pytest.mark.parametrize(
    "field_name",
    [
        "floor_area_m2",
        "air_heat_capacity_j_per_k",
        "mass_heat_capacity_j_per_k",
        "air_to_outdoor_w_per_k",
        "air_to_mass_w_per_k",
        "mass_to_outdoor_w_per_k",
    ],
)
@pytest.mark.parametrize("bad", [0.0, -1.0, math.nan, math.inf])
def test_parameters_must_be_positive(field_name: str, bad: float) -> None:
    with pytest.raises(ValueError, match=field_name):
        replace(MID, **{field_name: bad})


def test_gains_may_be_zero_but_not_negative() -> None:
    assert replace(MID, solar_aperture_m2=0.0, internal_gains_w=0.0)
    with pytest.raises(ValueError, match="internal_gains_w"):
        replace(MID, internal_gains_w=-1.0)


@pytest.mark.parametrize("dt_s", [1.0, 60.0, 3600.0, 86_400.0])
def test_steady_state_holds(dt_s: float) -> None:
    state = steady_state_house(MID, 20.0, 0.0)
    heat = steady_state_heat_w(MID, 20.0, 0.0)
    for _ in range(24):
        state = step_house(
            MID, state, heat_to_air_w=heat, outdoor_temp_c=0.0, solar_wm2=0.0, dt_s=dt_s
        )
    assert state.indoor_temp_c == pytest.approx(20.0, abs=1e-9)
    assert state.mass_temp_c == pytest.approx(
        steady_state_house(MID, 20.0, 0.0).mass_temp_c
    )
    assert heat_loss_w(MID, state, 0.0) == pytest.approx(heat + MID.internal_gains_w)


def test_steady_state_heat_subtracts_gains_and_never_goes_negative() -> None:
    conductance = MID.total_conductance_w_per_k
    assert steady_state_heat_w(MID, 20.0, 0.0) == pytest.approx(
        20.0 * conductance - MID.internal_gains_w
    )
    assert steady_state_heat_w(MID, 20.0, 19.0) == 0.0


def test_one_long_step_equals_many_short_ones() -> None:
    """Zero-order hold is exact: step length does not change the answer."""
    start = HouseState(15.0, 12.0)
    inputs = {"heat_to_air_w": 6000.0, "outdoor_temp_c": -5.0, "solar_wm2": 150.0}
    long = step_house(MID, start, dt_s=3600.0, **inputs)
    short = start
    for _ in range(60):
        short = step_house(MID, short, dt_s=60.0, **inputs)
    assert long.indoor_temp_c == pytest.approx(short.indoor_temp_c, abs=1e-9)
    assert long.mass_temp_c == pytest.approx(short.mass_temp_c, abs=1e-9)


@pytest.mark.parametrize("dt_s", [3600.0, 1e6, 1e9])
def test_huge_steps_settle_at_equilibrium(dt_s: float) -> None:
    """No blow-up at any step length: the house lands on its equilibrium."""
    free_running = step_house(
        MID,
        HouseState(20.0, 20.0),
        heat_to_air_w=0.0,
        outdoor_temp_c=0.0,
        solar_wm2=0.0,
        dt_s=dt_s,
    )
    equilibrium = MID.internal_gains_w / MID.total_conductance_w_per_k
    assert equilibrium - 1e-9 <= free_running.indoor_temp_c <= 20.0
    if dt_s >= 1e9:
        assert free_running.indoor_temp_c == pytest.approx(equilibrium)


@settings(max_examples=40, deadline=None)
@given(
    house=st.sampled_from(ALL_HOUSES),
    indoor=st.floats(min_value=5.0, max_value=25.0),
    mass=st.floats(min_value=5.0, max_value=25.0),
    outdoor=st.floats(min_value=-15.0, max_value=20.0),
    heat=st.floats(min_value=0.0, max_value=15_000.0),
    solar=st.floats(min_value=0.0, max_value=800.0),
)
def test_energy_balance(
    *,
    house: tuple[DwellingType, InsulationLevel],
    indoor: float,
    mass: float,
    outdoor: float,
    heat: float,
    solar: float,
) -> None:
    """Change in stored heat = heating + gains + sun - losses, over 6 hours."""
    params = house_parameters(*house)
    state = HouseState(indoor, mass)
    dt_s = 30.0
    gains_w = heat + params.internal_gains_w + params.solar_aperture_m2 * solar
    lost_j = 0.0
    stored_before = stored_heat_j(params, state)
    for _ in range(720):
        after = step_house(
            params,
            state,
            heat_to_air_w=heat,
            outdoor_temp_c=outdoor,
            solar_wm2=solar,
            dt_s=dt_s,
        )
        # Trapezoid rule on the losses; the step itself is exact.
        lost_j += (
            (heat_loss_w(params, state, outdoor) + heat_loss_w(params, after, outdoor))
            / 2
            * dt_s
        )
        state = after
    change_j = stored_heat_j(params, state) - stored_before
    throughput_j = gains_w * 720 * dt_s + abs(lost_j)
    assert change_j == pytest.approx(
        gains_w * 720 * dt_s - lost_j, abs=1e-4 * throughput_j
    )


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        ({"dt_s": -60.0}, "dt_s"),
        ({"dt_s": 0.0}, "dt_s"),
        ({"dt_s": math.nan}, "dt_s"),
        ({"outdoor_temp_c": math.nan}, "outdoor_temp_c"),
        ({"heat_to_air_w": math.inf}, "heat_to_air_w"),
        ({"solar_wm2": -1.0}, "solar_wm2"),
    ],
)
def test_bad_step_inputs(inputs: dict[str, float], message: str) -> None:
    arguments = {
        "heat_to_air_w": 0.0,
        "outdoor_temp_c": 0.0,
        "solar_wm2": 0.0,
        "dt_s": 60.0,
    } | inputs
    with pytest.raises(ValueError, match=message):
        step_house(MID, HouseState(20.0, 20.0), **arguments)


def test_nan_state_is_rejected() -> None:
    with pytest.raises(ValueError, match="indoor_temp_c"):
        step_house(
            MID,
            HouseState(math.nan, 20.0),
            heat_to_air_w=0.0,
            outdoor_temp_c=0.0,
            solar_wm2=0.0,
            dt_s=60.0,
        )
    with pytest.raises(ValueError, match="indoor_c"):
        steady_state_house(MID, math.nan, 0.0)
