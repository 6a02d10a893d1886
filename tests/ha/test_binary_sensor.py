"""The binary sensors: curtailment, comfort override, the link and problems."""

from __future__ import annotations

from homeassistant.const import STATE_OFF, STATE_ON, Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    snapshot_platform,
)
from syrupy.assertion import SnapshotAssertion

from .conftest import Simulator, wait_for

PROBLEM = "binary_sensor.hybrid_heat_pump_heat_pump_problem"


@pytest.mark.parametrize("init_integration", [Platform.BINARY_SENSOR], indirect=True)
@pytest.mark.usefixtures("init_integration")
async def test_entities(
    hass: HomeAssistant,
    snapshot: SnapshotAssertion,
    entity_registry: er.EntityRegistry,
    mock_config_entry: MockConfigEntry,
) -> None:
    """Every binary sensor of a linked heat pump."""
    await snapshot_platform(hass, entity_registry, snapshot, mock_config_entry.entry_id)


@pytest.mark.usefixtures("init_integration")
async def test_fault_code_is_a_problem(
    hass: HomeAssistant, simulator: Simulator
) -> None:
    """A fault code from the heat pump turns the problem sensor on, and off again."""
    assert hass.states.get(PROBLEM).state == STATE_OFF
    simulator.firmware.faults.fault_code = 17
    await wait_for(lambda: hass.states.get(PROBLEM).state == STATE_ON)
    assert hass.states.get("sensor.hybrid_heat_pump_fault_code").state == "17"
    assert hass.states.get("sensor.hybrid_heat_pump_operating_state").state == "fault"
    simulator.firmware.faults.fault_code = 0
    await wait_for(lambda: hass.states.get(PROBLEM).state == STATE_OFF)


@pytest.mark.parametrize("linked", [False])
@pytest.mark.usefixtures("init_integration")
async def test_without_an_aggregator(hass: HomeAssistant) -> None:
    """Only the problem sensor exists without a broker link."""
    assert hass.states.get(PROBLEM) is not None
    for key in ("curtailment_active", "comfort_override", "aggregator_connection"):
        assert hass.states.get(f"binary_sensor.hybrid_heat_pump_{key}") is None
