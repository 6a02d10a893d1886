"""Heat pump model: agreement with hplib, limits, cycling, bad input."""

from __future__ import annotations

from collections.abc import Callable
import math
from typing import Any

from hypothesis import given, settings, strategies as st
import pytest

from dacs.testbed.sim.heat_pump_model import (
    GENERIC_ON_OFF_COP,
    GENERIC_ON_OFF_ELECTRIC,
    GENERIC_REGULATED_COP,
    GENERIC_REGULATED_ELECTRIC,
    HeatPumpSpec,
    HplibFit,
    cop,
    max_electric_w,
    modulating_heat_pump,
    on_off_heat_pump,
    operate,
)

hplib = pytest.importorskip("hplib.hplib")

REGULATED = 1  # hplib group: Outdoor Air/Water, Regulated
ON_OFF = 4  # hplib group: Outdoor Air/Water, On-Off
# (outdoor °C, flow °C) inside the Keymark test range, all with COP > 1.
POINTS = [
    (-7.0, 52.0),
    (-3.0, 45.0),
    (2.0, 35.0),
    (7.0, 45.0),
    (12.0, 35.0),
    (0.0, 55.0),
]
SPEC = modulating_heat_pump(2000.0)


@pytest.fixture(scope="module")
def hplib_parameters() -> Callable[[int], Any]:
    cache: dict[int, Any] = {}

    def parameters(group: int) -> Any:
        if group not in cache:
            cache[group] = hplib.get_parameters(
                "Generic", group_id=group, t_in=-7, t_out=52, p_th=6000
            )
        return cache[group]

    return parameters


def _fit(parameters: Any, quantity: str) -> HplibFit:
    names = {
        "COP": ("p1_COP [-]", "p2_COP [-]", "p3_COP [-]", "p4_COP [-]"),
        "P_el": (
            "p1_P_el_h [1/°C]",
            "p2_P_el_h [1/°C]",
            "p3_P_el_h [-]",
            "p4_P_el_h [1/°C]",
        ),
    }[quantity]
    return HplibFit(*(float(parameters[name].array[0]) for name in names))


@pytest.mark.parametrize(
    ("group", "cop_fit", "electric_fit"),
    [
        (REGULATED, GENERIC_REGULATED_COP, GENERIC_REGULATED_ELECTRIC),
        (ON_OFF, GENERIC_ON_OFF_COP, GENERIC_ON_OFF_ELECTRIC),
    ],
)
def test_embedded_constants_are_hplibs(
    hplib_parameters: Callable[[int], Any],
    group: int,
    cop_fit: HplibFit,
    electric_fit: HplibFit,
) -> None:
    parameters = hplib_parameters(group)
    # pandas' fast CSV parser may round the last digit differently from float().
    for quantity, embedded in (("COP", cop_fit), ("P_el", electric_fit)):
        loaded = _fit(parameters, quantity)
        for name in ("p1", "p2", "p3", "p4"):
            assert getattr(embedded, name) == pytest.approx(
                getattr(loaded, name), rel=1e-14
            )


@pytest.mark.parametrize(("outdoor", "flow"), POINTS)
@pytest.mark.parametrize("group", [REGULATED, ON_OFF])
def test_cop_matches_hplib(
    hplib_parameters: Callable[[int], Any], group: int, outdoor: float, flow: float
) -> None:
    spec = (
        modulating_heat_pump(2000.0) if group == REGULATED else on_off_heat_pump(2000.0)
    )
    reference = hplib.HeatPump(hplib_parameters(group))
    # hplib heats the water by 5 K: its secondary input is the return, flow - 5.
    result = reference.simulate(
        t_in_primary=outdoor, t_in_secondary=flow - 5, t_amb=outdoor
    )
    assert cop(spec, outdoor, flow) == pytest.approx(result["COP"], rel=1e-12)


@pytest.mark.parametrize(("outdoor", "flow"), POINTS)
def test_full_speed_power_matches_hplibs_on_off_fit(
    hplib_parameters: Callable[[int], Any], outdoor: float, flow: float
) -> None:
    parameters = hplib_parameters(ON_OFF)
    reference = hplib.HeatPump(parameters)
    result = reference.simulate(
        t_in_primary=outdoor, t_in_secondary=flow - 5, t_amb=outdoor
    )
    spec = on_off_heat_pump(float(parameters["P_el_h_ref [W]"].array[0]))
    assert max_electric_w(spec, outdoor, flow) == pytest.approx(
        result["P_el"], rel=1e-12
    )


def test_typical_values() -> None:
    assert cop(SPEC, 7.0, 35.0) == pytest.approx(5.06, abs=0.01)
    assert cop(SPEC, 2.0, 35.0) == pytest.approx(4.29, abs=0.01)
    assert cop(SPEC, -7.0, 52.0) == pytest.approx(1.41, abs=0.01)
    # hplib's linear fit falls below 1 in the cold, hot corner; we floor at 1.
    assert cop(SPEC, -15.0, 60.0) == 1.0
    # Full-speed power rises with the flow temperature, little with outdoor.
    assert max_electric_w(SPEC, 0.0, 55.0) > max_electric_w(SPEC, 0.0, 35.0)
    assert 0.8 * 2000 < max_electric_w(SPEC, 7.0, 35.0) < 2000


@settings(max_examples=300, deadline=None)
@given(
    demand=st.floats(min_value=0.0, max_value=20_000.0),
    outdoor=st.floats(min_value=-15.0, max_value=20.0),
    flow=st.floats(min_value=25.0, max_value=60.0),
    limit=st.none() | st.floats(min_value=0.0, max_value=4000.0),
    nominal=st.floats(min_value=800.0, max_value=3000.0),
    on_off=st.booleans(),
    allowed=st.booleans(),
)
def test_never_above_the_limit(
    *,
    demand: float,
    outdoor: float,
    flow: float,
    limit: float | None,
    nominal: float,
    on_off: bool,
    allowed: bool,
) -> None:
    spec = on_off_heat_pump(nominal) if on_off else modulating_heat_pump(nominal)
    out = operate(
        spec,
        heat_demand_w=demand,
        outdoor_temp_c=outdoor,
        flow_temp_c=flow,
        electric_limit_w=limit,
        allowed=allowed,
    )
    assert out.electric_w >= 0.0
    assert out.thermal_w == pytest.approx(out.electric_w * out.cop)
    assert out.thermal_w <= demand + 1e-9
    assert out.electric_w <= max_electric_w(spec, outdoor, flow) * (1 + 1e-12)
    if limit is not None:
        assert out.electric_w <= limit
        if limit < spec.min_electric_w:
            assert out.electric_w == 0.0
    if not allowed:
        assert out.electric_w == 0.0
    if out.electric_w > 0:
        assert out.cop == cop(spec, outdoor, flow)
    else:
        assert out.thermal_w == 0.0


def test_meets_demand_within_capacity_and_caps_above_it() -> None:
    capacity = max_electric_w(SPEC, 0.0, 45.0) * cop(SPEC, 0.0, 45.0)
    common: dict[str, Any] = {
        "outdoor_temp_c": 0.0,
        "flow_temp_c": 45.0,
        "allowed": True,
    }
    met = operate(SPEC, heat_demand_w=0.5 * capacity, electric_limit_w=None, **common)
    assert met.thermal_w == pytest.approx(0.5 * capacity)
    capped = operate(SPEC, heat_demand_w=2 * capacity, electric_limit_w=None, **common)
    assert capped.thermal_w == pytest.approx(capacity)
    limited = operate(
        SPEC, heat_demand_w=2 * capacity, electric_limit_w=900.0, **common
    )
    assert limited.electric_w == 900.0


def test_small_demand_is_met_by_cycling_but_a_small_limit_stops_it() -> None:
    common: dict[str, Any] = {
        "outdoor_temp_c": 5.0,
        "flow_temp_c": 40.0,
        "allowed": True,
    }
    small = operate(SPEC, heat_demand_w=300.0, electric_limit_w=None, **common)
    assert small.thermal_w == pytest.approx(300.0)
    assert small.electric_w < SPEC.min_electric_w  # mean of on/off cycling
    at_min = operate(
        SPEC, heat_demand_w=300.0, electric_limit_w=SPEC.min_electric_w, **common
    )
    assert at_min.thermal_w == pytest.approx(300.0)
    below = operate(
        SPEC, heat_demand_w=300.0, electric_limit_w=SPEC.min_electric_w - 1, **common
    )
    assert below.electric_w == 0.0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"nominal_electric_w": 0.0, "min_electric_w": 0.0}, "nominal_electric_w"),
        ({"nominal_electric_w": 1000.0, "min_electric_w": 1200.0}, "min_electric_w"),
        ({"nominal_electric_w": 1000.0, "min_electric_w": 0.0}, "min_electric_w"),
        (
            {"nominal_electric_w": math.nan, "min_electric_w": 300.0},
            "nominal_electric_w",
        ),
    ],
)
def test_bad_specs(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        HeatPumpSpec(**kwargs)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"heat_demand_w": -1.0}, "heat_demand_w"),
        ({"heat_demand_w": math.nan}, "heat_demand_w"),
        ({"outdoor_temp_c": math.nan}, "outdoor_temp_c"),
        ({"flow_temp_c": math.inf}, "flow_temp_c"),
        ({"electric_limit_w": -5.0}, "electric_limit_w"),
        ({"electric_limit_w": math.nan}, "electric_limit_w"),
    ],
)
def test_bad_operating_inputs(overrides: dict[str, float], message: str) -> None:
    arguments: dict[str, Any] = {
        "heat_demand_w": 1000.0,
        "outdoor_temp_c": 0.0,
        "flow_temp_c": 45.0,
        "electric_limit_w": None,
        "allowed": True,
    } | overrides
    with pytest.raises(ValueError, match=message):
        operate(SPEC, **arguments)
    if "heat_demand_w" not in overrides and "electric_limit_w" not in overrides:
        with pytest.raises(ValueError, match=message):
            cop(SPEC, arguments["outdoor_temp_c"], arguments["flow_temp_c"])
