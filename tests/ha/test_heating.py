"""Which appliance heats, from whatever evidence a profile offers."""

from __future__ import annotations

from dataclasses import replace

from homeassistant.components.climate.const import HVACAction
import pytest

from custom_components.dacs_hw.heating import (
    HeatSource,
    boiler_share,
    heat_source,
    hvac_action,
)
from dacs.devices import Measurements, OperatingState

NOTHING = Measurements(
    electric_power_w=None,
    hp_thermal_w=None,
    boiler_thermal_w=None,
    boiler_active=None,
    flow_temp_c=None,
    return_temp_c=None,
    outdoor_temp_c=None,
    indoor_temp_c=None,
    operating_state=None,
    fault_code=None,
    limit_in_force_w=None,
    limit_source=None,
    mode=None,
    electric_energy_kwh=None,
    hp_heat_energy_kwh=None,
    boiler_heat_energy_kwh=None,
)


@pytest.mark.parametrize(
    ("changes", "source"),
    [
        ({}, None),
        (
            {"hp_thermal_w": 3000.0, "boiler_thermal_w": 1500.0},
            HeatSource.HEAT_PUMP_AND_BOILER,
        ),
        ({"hp_thermal_w": 0.0, "boiler_thermal_w": 0.0}, HeatSource.NONE),
        ({"operating_state": OperatingState.HYBRID}, HeatSource.HEAT_PUMP_AND_BOILER),
        ({"operating_state": OperatingState.BOILER}, HeatSource.BOILER),
        ({"operating_state": OperatingState.STANDBY}, HeatSource.NONE),
        ({"electric_power_w": 900.0}, HeatSource.HEAT_PUMP),
        ({"electric_power_w": 20.0, "boiler_active": True}, HeatSource.BOILER),
        ({"boiler_active": False}, HeatSource.NONE),
    ],
)
def test_heat_source(changes: dict[str, object], source: HeatSource | None) -> None:
    """Thermal power first, then the operating state, then electric power."""
    assert heat_source(replace(NOTHING, **changes)) is source


def test_nothing_measured() -> None:
    """No measurements at all: nothing to say."""
    assert heat_source(None) is None
    assert boiler_share(None) is None
    assert hvac_action(None) is None
    assert hvac_action(NOTHING) is None


@pytest.mark.parametrize(
    ("changes", "action"),
    [
        ({"operating_state": OperatingState.OFF}, HVACAction.OFF),
        ({"operating_state": OperatingState.DEFROST}, HVACAction.DEFROSTING),
        ({"operating_state": OperatingState.BOILER}, HVACAction.HEATING),
        ({"operating_state": OperatingState.STANDBY}, HVACAction.IDLE),
    ],
)
def test_hvac_action(changes: dict[str, object], action: HVACAction) -> None:
    """The boiler heating is heating too."""
    assert hvac_action(replace(NOTHING, **changes)) is action


def test_boiler_share() -> None:
    """The boiler's part of the heat; unknown while nothing heats."""
    both = replace(NOTHING, hp_thermal_w=3000.0, boiler_thermal_w=1000.0)
    assert boiler_share(both) == 25.0
    assert boiler_share(replace(both, hp_thermal_w=0.0, boiler_thermal_w=0.0)) is None
    assert boiler_share(replace(both, boiler_thermal_w=None)) is None
