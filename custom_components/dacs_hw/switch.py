"""The participation switch: the resident's opt-out, which always wins."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, override

from homeassistant.components.switch import SwitchEntity, SwitchEntityDescription
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .coordinator import DacsConfigEntry
from .entity import DacsEntity, DacsEntityDescription, linked
from .helpers import dacs_exception_handler

# Switching writes the heat pump's limit over Modbus: one request at a time.
PARALLEL_UPDATES = 1


@dataclass(frozen=True, kw_only=True)
class DacsSwitchEntityDescription(DacsEntityDescription, SwitchEntityDescription):
    """A DACS-HW switch."""


PARTICIPATION = DacsSwitchEntityDescription(
    key="participation",
    translation_key="participation",
    requires_device=False,
    has_fn=linked,
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: DacsConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Set up the participation switch where the home is linked to an aggregator."""
    runtime = entry.runtime_data
    if PARTICIPATION.has_fn(runtime):
        async_add_entities([ParticipationSwitch(runtime.coordinator, PARTICIPATION)])


class ParticipationSwitch(DacsEntity, SwitchEntity):
    """On: the home takes part in flexibility events. Off (or paused): it does not."""

    entity_description: DacsSwitchEntityDescription

    @property
    @override
    def is_on(self) -> bool:
        """Whether the home takes part right now."""
        snapshot = self.coordinator.data
        return snapshot.settings.participating(snapshot.time)

    @dacs_exception_handler
    @override
    async def async_turn_on(self, **kwargs: Any) -> None:
        """Take part again (ends a pause too)."""
        await self.coordinator.async_set_participation(True)

    @dacs_exception_handler
    @override
    async def async_turn_off(self, **kwargs: Any) -> None:
        """Step out: any limit of the aggregator is released at once."""
        await self.coordinator.async_set_participation(False)
