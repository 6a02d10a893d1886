"""Setting up and unloading, the heat pump coming and going, options and storage."""

from __future__ import annotations

import asyncio
import logging
from unittest.mock import patch

from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import (
    EVENT_HOMEASSISTANT_STOP,
    STATE_OFF,
    STATE_ON,
    STATE_UNAVAILABLE,
)
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr
from pymodbus.constants import ExcCodes
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from syrupy.assertion import SnapshotAssertion

from custom_components.dacs_hw.const import (
    CONF_COMFORT_FLOOR,
    CONF_PARTICIPATION_DEFAULT,
    CONF_PROFILE,
    CONF_TELEMETRY_INTERVAL,
    DOMAIN,
)
from dacs.testbed.servers import MosquittoBroker
from tests.home.conftest import AggregatorProbe, make_command

from .conftest import SERIAL, Simulator, setup_entry, wait_connected, wait_for

POWER = "sensor.hybrid_heat_pump_electric_power"
SWITCH = "switch.hybrid_heat_pump_flexibility_participation"
PROBLEM = "binary_sensor.hybrid_heat_pump_heat_pump_problem"


async def test_load_unload_config_entry(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry, simulator: Simulator
) -> None:
    """The entry loads and unloads; unloading releases the heat pump's limit."""
    mock_config_entry.add_to_hass(hass)
    await setup_entry(hass, mock_config_entry)
    assert mock_config_entry.state is ConfigEntryState.LOADED
    await mock_config_entry.runtime_data.coordinator.async_update_preferences(
        manual_limit_w=1000
    )
    assert simulator.firmware.limit_w == 1000

    assert await hass.config_entries.async_unload(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    assert mock_config_entry.state is ConfigEntryState.NOT_LOADED
    assert simulator.firmware.limit_w is None


@pytest.mark.parametrize(
    ("fault", "translation_key"),
    [
        ("stopped", "cannot_connect"),
        ("garbage", "invalid_data"),
        ("refusing", "device_error"),
    ],
)
async def test_config_entry_not_ready(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    simulator: Simulator,
    fault: str,
    translation_key: str,
) -> None:
    """A heat pump that cannot be used yet: Home Assistant tries again later."""
    if fault == "stopped":
        await simulator.stop()
    elif fault == "garbage":
        simulator.firmware.faults.garbage = True
    else:
        simulator.firmware.faults.exception = ExcCodes.DEVICE_FAILURE
    mock_config_entry.add_to_hass(hass)
    await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    assert mock_config_entry.state is ConfigEntryState.SETUP_RETRY
    assert mock_config_entry.error_reason_translation_key == translation_key


async def test_unknown_profile(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry
) -> None:
    """A profile this version does not know cannot be set up by retrying."""
    mock_config_entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(
        mock_config_entry, data={**mock_config_entry.data, CONF_PROFILE: "vaillant"}
    )
    await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    assert mock_config_entry.state is ConfigEntryState.SETUP_ERROR
    assert mock_config_entry.error_reason_translation_key == "unknown_profile"


@pytest.mark.usefixtures("init_integration")
async def test_device_entry(
    device_registry: dr.DeviceRegistry,
    mock_config_entry: MockConfigEntry,
    snapshot: SnapshotAssertion,
) -> None:
    """One device per heat pump, described by what the heat pump says."""
    device = device_registry.async_get_device_by_identifier(
        (DOMAIN, SERIAL), mock_config_entry.entry_id
    )
    assert device == snapshot


@pytest.mark.usefixtures("init_integration")
async def test_heat_pump_goes_away_and_comes_back(
    hass: HomeAssistant, simulator: Simulator, caplog: pytest.LogCaptureFixture
) -> None:
    """Unavailable while gone, one log line each way; the opt-out stays usable."""
    caplog.set_level(logging.INFO)
    await simulator.stop()
    await wait_for(lambda: hass.states.get(POWER).state == STATE_UNAVAILABLE)
    assert hass.states.get(PROBLEM).state == STATE_ON
    # What lives in Home Assistant stays available: the resident can step out.
    assert hass.states.get(SWITCH).state == STATE_ON
    await asyncio.sleep(0.5)  # several more polls fail meanwhile
    gone = [r for r in caplog.records if "heat pump unavailable" in r.getMessage()]
    assert len(gone) == 1

    await simulator.start()
    await wait_for(lambda: hass.states.get(POWER).state == "763.0", within_s=10)
    assert hass.states.get(PROBLEM).state == STATE_OFF
    back = [r for r in caplog.records if "heat pump available again" in r.getMessage()]
    assert len(back) == 1
    assert (
        len([r for r in caplog.records if "heat pump unavailable" in r.getMessage()])
        == 1
    )


@pytest.mark.usefixtures("init_integration")
async def test_home_assistant_stopping_releases_the_limit(
    hass: HomeAssistant, simulator: Simulator, probe: AggregatorProbe
) -> None:
    """Stopping Home Assistant releases the limit and says goodbye on the broker."""
    await probe.send(make_command("c-1", 1000))
    await wait_for(lambda: simulator.firmware.limit_w == 1000)
    mark = probe.mark()
    hass.bus.async_fire(EVENT_HOMEASSISTANT_STOP)
    await hass.async_block_till_done()
    assert simulator.firmware.limit_w is None
    await probe.wait_for("status", lambda m: m["state"] == "offline", since=mark)


async def test_choices_survive_a_restart(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry, simulator: Simulator
) -> None:
    """An opt-out and the resident's numbers are remembered across a reload."""
    mock_config_entry.add_to_hass(hass)
    await setup_entry(hass, mock_config_entry)
    coordinator = mock_config_entry.runtime_data.coordinator
    await coordinator.async_set_participation(False)
    await coordinator.async_update_preferences(
        min_compensation_eur_per_kwh=0.2, manual_limit_w=1500
    )
    await hass.async_block_till_done()

    assert await hass.config_entries.async_reload(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    await wait_connected(hass, mock_config_entry)
    settings = mock_config_entry.runtime_data.controller.settings
    assert settings.participation.value == "off"
    assert settings.min_compensation_eur_per_kwh == 0.2
    assert settings.manual_limit_w == 1500
    assert hass.states.get(SWITCH).state == STATE_OFF
    assert simulator.firmware.limit_w == 1500
    assert await hass.config_entries.async_unload(mock_config_entry.entry_id)


async def test_invalid_stored_choices_are_forgotten(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    hass_storage: dict[str, object],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A broken store does not keep the heat pump from starting."""
    hass_storage[f"{DOMAIN}.{mock_config_entry.entry_id}"] = {
        "version": 1,
        "key": f"{DOMAIN}.{mock_config_entry.entry_id}",
        "data": {"participation": "sometimes"},
    }
    mock_config_entry.add_to_hass(hass)
    await setup_entry(hass, mock_config_entry)
    assert "Forgot the stored resident settings" in caplog.text
    assert hass.states.get(SWITCH).state == STATE_ON
    assert await hass.config_entries.async_unload(mock_config_entry.entry_id)


async def test_removing_the_entry_forgets_the_choices(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    hass_storage: dict[str, object],
) -> None:
    """Removing a heat pump removes its stored choices."""
    mock_config_entry.add_to_hass(hass)
    await setup_entry(hass, mock_config_entry)
    await mock_config_entry.runtime_data.coordinator.async_set_participation(False)
    await hass.async_block_till_done()
    key = f"{DOMAIN}.{mock_config_entry.entry_id}"
    assert key in hass_storage
    await hass.config_entries.async_remove(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    assert key not in hass_storage


@pytest.mark.usefixtures("init_integration")
async def test_options_apply_at_once(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry
) -> None:
    """Comfort floor and participation default apply live, without a reload."""
    controller = mock_config_entry.runtime_data.controller
    hass.config_entries.async_update_entry(
        mock_config_entry,
        options={
            **mock_config_entry.options,
            CONF_COMFORT_FLOOR: 20.5,
            CONF_PARTICIPATION_DEFAULT: False,
        },
    )
    await hass.async_block_till_done()
    assert mock_config_entry.runtime_data.controller is controller
    assert controller.settings.comfort_floor_c == 20.5
    assert hass.states.get("number.hybrid_heat_pump_comfort_floor").state == "20.5"
    assert hass.states.get(SWITCH).state == STATE_OFF


@pytest.mark.usefixtures("init_integration")
async def test_telemetry_interval_reloads(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry
) -> None:
    """A new telemetry interval restarts the controller with it."""
    controller = mock_config_entry.runtime_data.controller
    hass.config_entries.async_update_entry(
        mock_config_entry,
        options={**mock_config_entry.options, CONF_TELEMETRY_INTERVAL: 0.4},
    )
    await hass.async_block_till_done()
    await wait_connected(hass, mock_config_entry)
    assert mock_config_entry.state is ConfigEntryState.LOADED
    assert mock_config_entry.runtime_data.controller is not controller
    assert mock_config_entry.runtime_data.controller.telemetry_interval_s == 0.4


@pytest.mark.parametrize("linked", [False])
async def test_without_a_broker(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    broker: MosquittoBroker | None,
) -> None:
    """Without a broker link the home runs alone: no MQTT at all."""
    assert broker is None
    mock_config_entry.add_to_hass(hass)
    with patch("dacs.home.controller.MqttLink") as link:
        assert await hass.config_entries.async_setup(mock_config_entry.entry_id)
        await hass.async_block_till_done()
    link.assert_not_called()
    assert mock_config_entry.runtime_data.controller.link is None
    assert await hass.config_entries.async_unload(mock_config_entry.entry_id)
