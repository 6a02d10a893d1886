"""The numbers: comfort floor, compensation, curtailment and the manual limit."""

from __future__ import annotations

from homeassistant.components.number import (
    ATTR_VALUE,
    DOMAIN as NUMBER_DOMAIN,
    SERVICE_SET_VALUE,
)
from homeassistant.const import ATTR_ENTITY_ID, Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    snapshot_platform,
)
from syrupy.assertion import SnapshotAssertion

from custom_components.dacs_hw.const import CONF_COMFORT_FLOOR
from tests.home.conftest import AggregatorProbe

from .conftest import Simulator

MANUAL_LIMIT = "number.hybrid_heat_pump_manual_power_limit"
LIMIT = "sensor.hybrid_heat_pump_power_limit_in_force"
SOURCE = "sensor.hybrid_heat_pump_power_limit_source"


async def _set(hass: HomeAssistant, entity_id: str, value: float) -> None:
    await hass.services.async_call(
        NUMBER_DOMAIN,
        SERVICE_SET_VALUE,
        {ATTR_ENTITY_ID: entity_id, ATTR_VALUE: value},
        blocking=True,
    )


@pytest.mark.parametrize("init_integration", [Platform.NUMBER], indirect=True)
@pytest.mark.usefixtures("init_integration")
async def test_entities(
    hass: HomeAssistant,
    snapshot: SnapshotAssertion,
    entity_registry: er.EntityRegistry,
    mock_config_entry: MockConfigEntry,
) -> None:
    """Every number of a linked heat pump."""
    await snapshot_platform(hass, entity_registry, snapshot, mock_config_entry.entry_id)


@pytest.mark.usefixtures("init_integration")
async def test_manual_limit(hass: HomeAssistant, simulator: Simulator) -> None:
    """A manual limit reaches the heat pump at once; 0 W takes it away."""
    await _set(hass, MANUAL_LIMIT, 1200)
    assert simulator.firmware.limit_w == 1200
    assert hass.states.get(MANUAL_LIMIT).state == "1200.0"
    assert hass.states.get(LIMIT).state == "1200.0"
    assert hass.states.get(SOURCE).state == "manual"

    # Below the heat pump's safety floor the boiler takes over entirely.
    await _set(hass, MANUAL_LIMIT, 100)
    assert simulator.firmware.mode.value == "gas_only"
    assert hass.states.get(LIMIT).state == "0.0"
    assert hass.states.get(SOURCE).state == "gas_only"

    await _set(hass, MANUAL_LIMIT, 0)
    assert simulator.firmware.limit_w is None
    assert simulator.firmware.mode.value == "normal"
    assert hass.states.get(SOURCE).state == "none"


@pytest.mark.usefixtures("init_integration")
async def test_preferences_are_published(
    hass: HomeAssistant, probe: AggregatorProbe, mock_config_entry: MockConfigEntry
) -> None:
    """Comfort floor, compensation and maximum curtailment reach the aggregator."""
    mark = probe.mark()
    await _set(hass, "number.hybrid_heat_pump_comfort_floor", 19.5)
    await _set(hass, "number.hybrid_heat_pump_minimum_compensation", 0.15)
    await _set(hass, "number.hybrid_heat_pump_maximum_curtailment", 60)
    preferences = await probe.wait_for(
        "preferences", lambda m: m["max_curtailment_minutes"] == 60, since=mark
    )
    assert preferences["comfort_floor_c"] == 19.5
    assert preferences["min_compensation_eur_per_kwh"] == 0.15
    assert hass.states.get("number.hybrid_heat_pump_comfort_floor").state == "19.5"
    # The comfort floor is an option of the entry: the options flow shows it.
    assert mock_config_entry.options[CONF_COMFORT_FLOOR] == 19.5
