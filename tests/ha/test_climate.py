"""The climate entity: room temperature, setpoint and what heats."""

from __future__ import annotations

from homeassistant.components.climate import DOMAIN as CLIMATE_DOMAIN
from homeassistant.components.climate.const import (
    ATTR_HVAC_ACTION,
    ATTR_HVAC_MODE,
    SERVICE_SET_HVAC_MODE,
    SERVICE_SET_TEMPERATURE,
    HVACAction,
    HVACMode,
)
from homeassistant.const import ATTR_ENTITY_ID, ATTR_TEMPERATURE, Platform
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import entity_registry as er
from pymodbus.constants import ExcCodes
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    snapshot_platform,
)
from syrupy.assertion import SnapshotAssertion

from .conftest import Simulator, wait_for

CLIMATE = "climate.hybrid_heat_pump"


@pytest.mark.parametrize("init_integration", [Platform.CLIMATE], indirect=True)
@pytest.mark.usefixtures("init_integration")
async def test_entities(
    hass: HomeAssistant,
    snapshot: SnapshotAssertion,
    entity_registry: er.EntityRegistry,
    mock_config_entry: MockConfigEntry,
) -> None:
    """The heating of a DACS-profile heat pump."""
    await snapshot_platform(hass, entity_registry, snapshot, mock_config_entry.entry_id)


@pytest.mark.usefixtures("init_integration")
async def test_setpoint_and_the_boiler_helping(
    hass: HomeAssistant, simulator: Simulator
) -> None:
    """A higher setpoint reaches the heat pump; the boiler joins to meet it."""
    await hass.services.async_call(
        CLIMATE_DOMAIN,
        SERVICE_SET_TEMPERATURE,
        {ATTR_ENTITY_ID: CLIMATE, ATTR_TEMPERATURE: 26},
        blocking=True,
    )
    assert simulator.firmware.state.room_setpoint_c == 26
    assert hass.states.get(CLIMATE).attributes[ATTR_TEMPERATURE] == 26
    simulator.advance(120)
    await wait_for(
        lambda: (
            hass.states.get(CLIMATE).attributes["heat_source"] == "heat_pump_and_boiler"
        )
    )
    state = hass.states.get(CLIMATE)
    assert state.attributes[ATTR_HVAC_ACTION] == HVACAction.HEATING
    assert hass.states.get("sensor.hybrid_heat_pump_heat_source").state == (
        "heat_pump_and_boiler"
    )
    assert hass.states.get("sensor.hybrid_heat_pump_operating_state").state == "hybrid"
    assert float(hass.states.get("sensor.hybrid_heat_pump_boiler_share").state) > 0


@pytest.mark.usefixtures("init_integration")
async def test_idle_and_off(hass: HomeAssistant, simulator: Simulator) -> None:
    """Nothing heats: idle. The heat pump switched off: off."""
    simulator.plant.room_setpoint_c = 10
    simulator.firmware.state.room_setpoint_c = 10
    simulator.advance(600)
    await wait_for(
        lambda: hass.states.get(CLIMATE).attributes[ATTR_HVAC_ACTION] == HVACAction.IDLE
    )
    assert hass.states.get(CLIMATE).attributes["heat_source"] == "none"
    simulator.firmware.write(
        simulator.firmware.profile.modes[HVACMode.OFF.value][0].table,
        simulator.firmware.profile.modes[HVACMode.OFF.value][0].address,
        [simulator.firmware.profile.modes[HVACMode.OFF.value][0].value],
    )
    await wait_for(
        lambda: hass.states.get(CLIMATE).attributes[ATTR_HVAC_ACTION] == HVACAction.OFF
    )


@pytest.mark.usefixtures("init_integration")
async def test_heat_is_the_only_mode(hass: HomeAssistant) -> None:
    """Setting heat changes nothing; it is the only mode."""
    await hass.services.async_call(
        CLIMATE_DOMAIN,
        SERVICE_SET_HVAC_MODE,
        {ATTR_ENTITY_ID: CLIMATE, ATTR_HVAC_MODE: HVACMode.HEAT},
        blocking=True,
    )
    assert hass.states.get(CLIMATE).state == HVACMode.HEAT


@pytest.mark.usefixtures("init_integration")
async def test_setpoint_errors(hass: HomeAssistant, simulator: Simulator) -> None:
    """A heat pump that went away: a translated error."""
    await simulator.stop()
    with pytest.raises(HomeAssistantError) as gone:
        await hass.services.async_call(
            CLIMATE_DOMAIN,
            SERVICE_SET_TEMPERATURE,
            {ATTR_ENTITY_ID: CLIMATE, ATTR_TEMPERATURE: 21},
            blocking=True,
        )
    assert gone.value.translation_key == "communication_error"


@pytest.mark.parametrize(("profile", "linked"), [("nibe_s", False)])
@pytest.mark.usefixtures("init_integration")
async def test_no_setpoint_without_a_register(hass: HomeAssistant) -> None:
    """A NIBE takes no room setpoint: no target temperature is offered."""
    state = hass.states.get(CLIMATE)
    assert state.attributes.get(ATTR_TEMPERATURE) is None
    assert state.attributes["supported_features"] == 0
    assert state.attributes[ATTR_HVAC_ACTION] == HVACAction.HEATING


@pytest.mark.usefixtures("init_integration")
async def test_setpoint_kept_when_it_cannot_be_read(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry, simulator: Simulator
) -> None:
    """A setpoint that cannot be read back keeps the last known value."""
    simulator.firmware.faults.exception = ExcCodes.DEVICE_BUSY
    await mock_config_entry.runtime_data.coordinator.async_read_room_setpoint()
    simulator.firmware.faults.exception = None
    assert hass.states.get(CLIMATE).attributes[ATTR_TEMPERATURE] == 20
