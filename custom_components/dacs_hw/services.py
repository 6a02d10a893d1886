"""Actions: pause flexibility participation for a while, and resume it."""

from __future__ import annotations

from datetime import timedelta

from homeassistant.const import ATTR_CONFIG_ENTRY_ID
from homeassistant.core import HomeAssistant, ServiceCall, callback
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers.service import async_get_config_entry
import probatio

from .const import (
    ATTR_DURATION,
    DOMAIN,
    SERVICE_PAUSE_PARTICIPATION,
    SERVICE_RESUME_PARTICIPATION,
)
from .coordinator import DacsConfigEntry, DacsCoordinator
from .helpers import translated_errors

# A pause ends by itself; a week is the longest one that still reads as "a
# pause" rather than leaving. Longer: switch participation off.
MAX_PAUSE = timedelta(days=7)

ENTRY_SCHEMA = probatio.Schema({probatio.Required(ATTR_CONFIG_ENTRY_ID): cv.string})
PAUSE_SCHEMA = ENTRY_SCHEMA.extend(
    {probatio.Required(ATTR_DURATION): cv.positive_time_period}
)


def _coordinator(hass: HomeAssistant, call: ServiceCall) -> DacsCoordinator:
    """The coordinator of the heat pump an action names."""
    entry: DacsConfigEntry = async_get_config_entry(
        hass, DOMAIN, call.data[ATTR_CONFIG_ENTRY_ID]
    )
    if entry.runtime_data.controller.link is None:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="not_linked",
            translation_placeholders={"name": entry.title},
        )
    return entry.runtime_data.coordinator


@callback
def async_setup_services(hass: HomeAssistant) -> None:
    """Register the integration's actions."""

    async def _async_pause(call: ServiceCall) -> None:
        coordinator = _coordinator(hass, call)
        duration: timedelta = call.data[ATTR_DURATION]
        if not timedelta(0) < duration <= MAX_PAUSE:
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="invalid_pause",
                translation_placeholders={"days": str(MAX_PAUSE.days)},
            )
        async with translated_errors():
            await coordinator.async_pause(duration)

    async def _async_resume(call: ServiceCall) -> None:
        coordinator = _coordinator(hass, call)
        async with translated_errors():
            await coordinator.async_set_participation(True)

    hass.services.async_register(
        DOMAIN, SERVICE_PAUSE_PARTICIPATION, _async_pause, schema=PAUSE_SCHEMA
    )
    hass.services.async_register(
        DOMAIN, SERVICE_RESUME_PARTICIPATION, _async_resume, schema=ENTRY_SCHEMA
    )
