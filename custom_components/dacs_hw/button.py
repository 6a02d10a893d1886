"""The pause button: the resident steps out of flexibility events for a while."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, override

from homeassistant.components.button import ButtonEntity, ButtonEntityDescription
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .coordinator import DacsConfigEntry, DacsCoordinator
from .entity import DacsEntity, DacsEntityDescription, linked
from .helpers import dacs_exception_handler

# Pausing releases the heat pump's limit over Modbus: one request at a time.
PARALLEL_UPDATES = 1

# Long enough to cover an evening or a morning's shower and cooking, short
# enough that the home is back in by itself the same day.
PAUSE_DURATION = timedelta(hours=4)


@dataclass(frozen=True, kw_only=True)
class DacsButtonEntityDescription(DacsEntityDescription, ButtonEntityDescription):
    """A DACS-HW button: what pressing it does."""

    press_fn: Callable[[DacsCoordinator], Coroutine[Any, Any, None]]


PAUSE = DacsButtonEntityDescription(
    key="pause_participation",
    translation_key="pause_participation",
    # The name says how long; it comes from the one constant that decides it.
    translation_placeholders={"hours": f"{PAUSE_DURATION / timedelta(hours=1):g}"},
    # The opt-out lives in Home Assistant: it works while the heat pump is away.
    requires_device=False,
    has_fn=linked,
    # Never shortens a longer pause, e.g. one the pause action set for a week.
    press_fn=lambda coordinator: coordinator.async_pause_at_least(PAUSE_DURATION),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: DacsConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Set up the pause button where the home is linked to an aggregator."""
    runtime = entry.runtime_data
    if PAUSE.has_fn(runtime):
        async_add_entities([DacsButtonEntity(runtime.coordinator, PAUSE)])


class DacsButtonEntity(DacsEntity, ButtonEntity):
    """A DACS-HW button."""

    entity_description: DacsButtonEntityDescription

    @dacs_exception_handler
    @override
    async def async_press(self) -> None:
        """Press: any limit of the aggregator is released before this returns."""
        await self.entity_description.press_fn(self.coordinator)
