"""The safety floor is absolute: properties of plan_limit over all inputs."""

from __future__ import annotations

from hypothesis import given, strategies as st
import pytest

from dacs.devices import (
    Capabilities,
    HeatPumpUnsupportedError,
    LimitAction,
    OperatingMode,
    plan_limit,
)


@st.composite
def capabilities(draw: st.DrawFn) -> Capabilities:
    nominal = draw(st.integers(500, 8000))
    floor = draw(st.integers(0, nominal))
    return Capabilities(
        nominal_electric_w=nominal,
        safety_floor_w=floor,
        limit_step_w=draw(st.sampled_from([1, 10, 50, 100, 250])),
        supports_power_limit=True,
        supports_gas_only=draw(st.booleans()),
        supports_sg_ready=False,
        supports_room_setpoint=False,
        boiler_present=True,
        native_watchdog=True,
        watchdog_s=60,
    )


@given(capabilities(), st.floats(0, 20000, allow_nan=False))
def test_never_below_the_floor_and_never_above_the_request(
    caps: Capabilities, max_power_w: float
) -> None:
    result = plan_limit(max_power_w, caps)
    if result.action is LimitAction.RELEASED:
        assert max_power_w >= caps.nominal_electric_w
        assert result.max_power_w is None
    elif result.action is LimitAction.GAS_ONLY:
        assert caps.supports_gas_only
        assert max_power_w < caps.safety_floor_w
        assert result.mode is OperatingMode.GAS_ONLY
    else:
        assert result.max_power_w is not None
        assert result.max_power_w >= caps.safety_floor_w
        if result.action is LimitAction.FLOOR_APPLIED:
            assert not caps.supports_gas_only
            assert result.max_power_w == caps.safety_floor_w
        else:
            assert result.max_power_w <= max_power_w
            assert (
                result.max_power_w > max_power_w - caps.limit_step_w
                or result.max_power_w == caps.safety_floor_w
            )


def _caps(**kwargs: object) -> Capabilities:
    values: dict[str, object] = {
        "nominal_electric_w": 3000,
        "safety_floor_w": 1200,
        "limit_step_w": 100,
        "supports_power_limit": True,
        "supports_gas_only": False,
        "supports_sg_ready": False,
        "supports_room_setpoint": False,
        "boiler_present": True,
        "native_watchdog": False,
        "watchdog_s": None,
    }
    values.update(kwargs)
    return Capabilities(**values)  # type: ignore[arg-type]


def test_examples() -> None:
    nibe = _caps()
    assert plan_limit(1234, nibe).max_power_w == 1200
    assert plan_limit(1234, nibe).action is LimitAction.ROUNDED
    assert plan_limit(1500, nibe).action is LimitAction.APPLIED
    assert plan_limit(500, nibe).action is LimitAction.FLOOR_APPLIED
    assert plan_limit(500, _caps(supports_gas_only=True)).action is LimitAction.GAS_ONLY
    assert plan_limit(None, nibe).action is LimitAction.RELEASED


def test_profile_without_power_limit() -> None:
    sg = _caps(supports_power_limit=False, supports_gas_only=True, safety_floor_w=3000)
    assert plan_limit(2999, sg).action is LimitAction.GAS_ONLY
    with pytest.raises(HeatPumpUnsupportedError, match="neither"):
        plan_limit(100, _caps(supports_power_limit=False))


@pytest.mark.parametrize("bad", [-1.0, float("nan")])
def test_bad_requests(bad: float) -> None:
    with pytest.raises(ValueError, match="must be a number"):
        plan_limit(bad, _caps())


def test_inconsistent_capabilities_refused() -> None:
    with pytest.raises(ValueError, match="safety floor"):
        _caps(safety_floor_w=4000)
    with pytest.raises(ValueError, match="step"):
        _caps(limit_step_w=0)
