"""The participation switch: stepping out releases the limit at once."""

from __future__ import annotations

from homeassistant.components.switch import (
    DOMAIN as SWITCH_DOMAIN,
    SERVICE_TURN_OFF,
    SERVICE_TURN_ON,
)
from homeassistant.const import ATTR_ENTITY_ID, STATE_OFF, STATE_ON, Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    snapshot_platform,
)
from syrupy.assertion import SnapshotAssertion

from tests.home.conftest import AggregatorProbe, make_command

from .conftest import Simulator, wait_for

SWITCH = "switch.hybrid_heat_pump_flexibility_participation"


@pytest.mark.parametrize("init_integration", [Platform.SWITCH], indirect=True)
@pytest.mark.usefixtures("init_integration")
async def test_entities(
    hass: HomeAssistant,
    snapshot: SnapshotAssertion,
    entity_registry: er.EntityRegistry,
    mock_config_entry: MockConfigEntry,
) -> None:
    """The participation switch."""
    await snapshot_platform(hass, entity_registry, snapshot, mock_config_entry.entry_id)


@pytest.mark.usefixtures("init_integration")
async def test_turning_off_releases_the_limit_at_once(
    hass: HomeAssistant, simulator: Simulator, probe: AggregatorProbe
) -> None:
    """Off: the aggregator's limit is gone when the action returns; on again later."""
    await probe.send(make_command("c-1", 1000))
    await wait_for(lambda: simulator.firmware.limit_w == 1000)

    mark = probe.mark()
    await hass.services.async_call(
        SWITCH_DOMAIN, SERVICE_TURN_OFF, {ATTR_ENTITY_ID: SWITCH}, blocking=True
    )
    assert simulator.firmware.limit_w is None
    assert hass.states.get(SWITCH).state == STATE_OFF
    preferences = await probe.wait_for(
        "preferences", lambda m: m["participation"] == "off", since=mark
    )
    assert preferences["paused_until"] is None

    await hass.services.async_call(
        SWITCH_DOMAIN, SERVICE_TURN_ON, {ATTR_ENTITY_ID: SWITCH}, blocking=True
    )
    assert hass.states.get(SWITCH).state == STATE_ON
    await probe.wait_for(
        "preferences", lambda m: m["participation"] == "on", since=mark
    )
