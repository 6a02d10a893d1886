"""The pause button: the resident's opt-out for a few hours, which always wins."""

from __future__ import annotations

from datetime import datetime, timedelta
from unittest.mock import patch

from homeassistant.components.button import DOMAIN as BUTTON_DOMAIN, SERVICE_PRESS
from homeassistant.components.switch import DOMAIN as SWITCH_DOMAIN, SERVICE_TURN_OFF
from homeassistant.const import (
    ATTR_CONFIG_ENTRY_ID,
    ATTR_ENTITY_ID,
    STATE_OFF,
    STATE_ON,
    STATE_UNAVAILABLE,
    STATE_UNKNOWN,
    Platform,
)
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import entity_registry as er
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    snapshot_platform,
)
from syrupy.assertion import SnapshotAssertion

from custom_components.dacs_hw.button import PAUSE_DURATION
from custom_components.dacs_hw.const import (
    ATTR_DURATION,
    DOMAIN,
    SERVICE_PAUSE_PARTICIPATION,
)
from dacs.protocol import Participation
from tests.home.conftest import AggregatorProbe, make_command

from .conftest import Simulator, wait_connected, wait_for

BUTTON = "button.hybrid_heat_pump_pause_flexibility_for_4_hours"
SWITCH = "switch.hybrid_heat_pump_flexibility_participation"
PAUSED_UNTIL = "sensor.hybrid_heat_pump_participation_paused_until"
POWER = "sensor.hybrid_heat_pump_electric_power"


async def _press(hass: HomeAssistant) -> None:
    await hass.services.async_call(
        BUTTON_DOMAIN, SERVICE_PRESS, {ATTR_ENTITY_ID: BUTTON}, blocking=True
    )


def _paused_until(hass: HomeAssistant) -> datetime:
    until = dt_util.parse_datetime(hass.states.get(PAUSED_UNTIL).state)
    assert until is not None
    return until


async def _pause_action(
    hass: HomeAssistant, entry: MockConfigEntry, duration: dict[str, int]
) -> None:
    await hass.services.async_call(
        DOMAIN,
        SERVICE_PAUSE_PARTICIPATION,
        {ATTR_CONFIG_ENTRY_ID: entry.entry_id, ATTR_DURATION: duration},
        blocking=True,
    )


@pytest.mark.parametrize("init_integration", [Platform.BUTTON], indirect=True)
@pytest.mark.usefixtures("init_integration")
async def test_entities(
    hass: HomeAssistant,
    snapshot: SnapshotAssertion,
    entity_registry: er.EntityRegistry,
    mock_config_entry: MockConfigEntry,
) -> None:
    """The pause button."""
    await snapshot_platform(hass, entity_registry, snapshot, mock_config_entry.entry_id)


@pytest.mark.usefixtures("init_integration")
async def test_press_releases_the_limit_at_once(
    hass: HomeAssistant, simulator: Simulator, probe: AggregatorProbe
) -> None:
    """The aggregator's limit is gone when the press returns; the pause lasts 4 hours."""
    await probe.send(make_command("c-1", 1000))
    await wait_for(lambda: simulator.firmware.limit_w == 1000)
    mark = probe.mark()

    before = dt_util.utcnow()
    await _press(hass)

    assert simulator.firmware.limit_w is None
    assert hass.states.get(SWITCH).state == STATE_OFF
    # The sensor shows whole seconds.
    until = _paused_until(hass)
    assert before.replace(microsecond=0) + PAUSE_DURATION <= until
    assert until <= dt_util.utcnow() + PAUSE_DURATION
    # A button's state is when it was last pressed.
    assert hass.states.get(BUTTON).state not in (STATE_UNKNOWN, STATE_UNAVAILABLE)
    preferences = await probe.wait_for(
        "preferences", lambda m: m["participation"] == "paused", since=mark
    )
    assert preferences["paused_until"] is not None


@pytest.mark.usefixtures("init_integration")
async def test_pause_ends_by_itself_and_the_home_takes_part_again(
    hass: HomeAssistant, simulator: Simulator, probe: AggregatorProbe
) -> None:
    """A pause always expires: afterwards the aggregator's limits apply again."""
    with patch("custom_components.dacs_hw.button.PAUSE_DURATION", timedelta(seconds=1)):
        await _press(hass)
    assert hass.states.get(SWITCH).state == STATE_OFF
    await wait_for(lambda: hass.states.get(SWITCH).state == STATE_ON, within_s=10)
    assert hass.states.get(PAUSED_UNTIL).state == STATE_UNKNOWN

    await probe.send(make_command("c-after", 1200))
    await wait_for(lambda: simulator.firmware.limit_w == 1200, within_s=10)


@pytest.mark.usefixtures("init_integration")
async def test_press_never_shortens_a_longer_pause(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry
) -> None:
    """A two-day pause keeps its end; a one-hour pause grows to four hours."""
    await _pause_action(hass, mock_config_entry, {"days": 2})
    two_days = _paused_until(hass)
    await _press(hass)
    assert _paused_until(hass) == two_days

    await _pause_action(hass, mock_config_entry, {"hours": 1})
    before = dt_util.utcnow()
    await _press(hass)
    # The sensor shows whole seconds.
    assert _paused_until(hass) >= before.replace(microsecond=0) + PAUSE_DURATION
    assert hass.states.get(SWITCH).state == STATE_OFF


@pytest.mark.usefixtures("init_integration")
async def test_press_while_switched_off_is_refused(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry, probe: AggregatorProbe
) -> None:
    """Off stays off: a pause would end by itself and switch the home back in."""
    await hass.services.async_call(
        SWITCH_DOMAIN, SERVICE_TURN_OFF, {ATTR_ENTITY_ID: SWITCH}, blocking=True
    )
    await probe.wait_for("preferences", lambda m: m["participation"] == "off")
    mark = probe.mark()

    with pytest.raises(ServiceValidationError) as refused:
        await _press(hass)
    assert refused.value.translation_domain == DOMAIN
    assert refused.value.translation_key == "pause_while_off"
    assert hass.states.get(SWITCH).state == STATE_OFF
    assert hass.states.get(PAUSED_UNTIL).state == STATE_UNKNOWN
    assert (
        mock_config_entry.runtime_data.controller.settings.participation
        is Participation.OFF
    )
    await hass.async_block_till_done()
    assert not [
        m
        for name, m in probe.received[mark:]
        if name.endswith("/preferences") and m["participation"] != "off"
    ]


@pytest.mark.usefixtures("init_integration")
async def test_press_while_the_heat_pump_is_away(
    hass: HomeAssistant, simulator: Simulator
) -> None:
    """The opt-out lives in Home Assistant: it works while the heat pump is gone."""
    await simulator.stop()
    await wait_for(lambda: hass.states.get(POWER).state == STATE_UNAVAILABLE)
    assert hass.states.get(BUTTON).state != STATE_UNAVAILABLE
    await _press(hass)
    assert hass.states.get(SWITCH).state == STATE_OFF
    await simulator.start()


@pytest.mark.usefixtures("init_integration")
async def test_pause_survives_a_restart(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry
) -> None:
    """The stored choice brings the same pause back after a reload."""
    await _press(hass)
    until = _paused_until(hass)
    await hass.async_block_till_done()  # the store writes in a task
    assert await hass.config_entries.async_reload(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    await wait_connected(hass, mock_config_entry)
    assert hass.states.get(SWITCH).state == STATE_OFF
    assert _paused_until(hass) == until


@pytest.mark.parametrize("linked", [False])
@pytest.mark.usefixtures("init_integration")
async def test_no_button_without_an_aggregator(hass: HomeAssistant) -> None:
    """A heat pump without a broker link takes part in nothing to pause."""
    assert hass.states.get(BUTTON) is None
