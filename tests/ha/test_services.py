"""The pause and resume actions."""

from __future__ import annotations

from datetime import timedelta

from homeassistant.const import ATTR_CONFIG_ENTRY_ID, STATE_OFF, STATE_ON, STATE_UNKNOWN
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.dacs_hw.const import (
    ATTR_DURATION,
    DOMAIN,
    SERVICE_PAUSE_PARTICIPATION,
    SERVICE_RESUME_PARTICIPATION,
)
from tests.home.conftest import AggregatorProbe, make_command

from .conftest import Simulator, wait_for

SWITCH = "switch.hybrid_heat_pump_flexibility_participation"
PAUSED_UNTIL = "sensor.hybrid_heat_pump_participation_paused_until"


@pytest.mark.usefixtures("init_integration")
async def test_pause_and_resume(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    simulator: Simulator,
    probe: AggregatorProbe,
) -> None:
    """A pause releases the limit at once and shows until when; resume ends it."""
    await probe.send(make_command("c-1", 1000))
    await wait_for(lambda: simulator.firmware.limit_w == 1000)
    mark = probe.mark()
    await hass.services.async_call(
        DOMAIN,
        SERVICE_PAUSE_PARTICIPATION,
        {
            ATTR_CONFIG_ENTRY_ID: mock_config_entry.entry_id,
            ATTR_DURATION: {"hours": 3},
        },
        blocking=True,
    )
    assert simulator.firmware.limit_w is None
    assert hass.states.get(SWITCH).state == STATE_OFF
    until = dt_util.parse_datetime(hass.states.get(PAUSED_UNTIL).state)
    assert until is not None
    assert (
        timedelta(hours=2, minutes=59) < until - dt_util.utcnow() <= timedelta(hours=3)
    )
    await probe.wait_for(
        "preferences", lambda m: m["participation"] == "paused", since=mark
    )

    await hass.services.async_call(
        DOMAIN,
        SERVICE_RESUME_PARTICIPATION,
        {ATTR_CONFIG_ENTRY_ID: mock_config_entry.entry_id},
        blocking=True,
    )
    assert hass.states.get(SWITCH).state == STATE_ON
    assert hass.states.get(PAUSED_UNTIL).state == STATE_UNKNOWN


@pytest.mark.usefixtures("init_integration")
async def test_pause_ends_by_itself(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry
) -> None:
    """A short pause ends on its own and the home takes part again."""
    await hass.services.async_call(
        DOMAIN,
        SERVICE_PAUSE_PARTICIPATION,
        {ATTR_CONFIG_ENTRY_ID: mock_config_entry.entry_id, ATTR_DURATION: "00:00:01"},
        blocking=True,
    )
    assert hass.states.get(SWITCH).state == STATE_OFF
    await wait_for(lambda: hass.states.get(SWITCH).state == STATE_ON, within_s=5)
    await hass.async_block_till_done()


@pytest.mark.parametrize("duration", ["00:00:00", {"days": 8}])
@pytest.mark.usefixtures("init_integration")
async def test_pause_duration_refused(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry, duration: object
) -> None:
    """No pause of nothing, and none longer than a week."""
    with pytest.raises(ServiceValidationError) as refused:
        await hass.services.async_call(
            DOMAIN,
            SERVICE_PAUSE_PARTICIPATION,
            {ATTR_CONFIG_ENTRY_ID: mock_config_entry.entry_id, ATTR_DURATION: duration},
            blocking=True,
        )
    assert refused.value.translation_domain == DOMAIN
    assert refused.value.translation_key == "invalid_pause"
    assert hass.states.get(SWITCH).state == STATE_ON


@pytest.mark.parametrize("linked", [False])
@pytest.mark.usefixtures("init_integration")
async def test_not_linked(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry
) -> None:
    """A heat pump without a broker link takes part in nothing to pause."""
    with pytest.raises(ServiceValidationError) as refused:
        await hass.services.async_call(
            DOMAIN,
            SERVICE_RESUME_PARTICIPATION,
            {ATTR_CONFIG_ENTRY_ID: mock_config_entry.entry_id},
            blocking=True,
        )
    assert refused.value.translation_key == "not_linked"


@pytest.mark.usefixtures("init_integration")
async def test_unknown_entry(hass: HomeAssistant) -> None:
    """An action for a heat pump that is not there."""
    with pytest.raises(ServiceValidationError):
        await hass.services.async_call(
            DOMAIN,
            SERVICE_RESUME_PARTICIPATION,
            {ATTR_CONFIG_ENTRY_ID: "not-an-entry"},
            blocking=True,
        )


@pytest.mark.usefixtures("init_integration")
async def test_pause_while_switched_off_is_refused(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry
) -> None:
    """Off stays off: a pause would end by itself and switch the home back in."""
    await hass.services.async_call(
        "switch", "turn_off", {"entity_id": SWITCH}, blocking=True
    )
    with pytest.raises(ServiceValidationError) as refused:
        await hass.services.async_call(
            DOMAIN,
            SERVICE_PAUSE_PARTICIPATION,
            {
                ATTR_CONFIG_ENTRY_ID: mock_config_entry.entry_id,
                ATTR_DURATION: {"hours": 3},
            },
            blocking=True,
        )
    assert refused.value.translation_key == "pause_while_off"
    assert hass.states.get(SWITCH).state == STATE_OFF
    assert hass.states.get(PAUSED_UNTIL).state == STATE_UNKNOWN
