"""Numbers: the resident's comfort floor, asks and limits."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass, replace
from typing import Any, override

from homeassistant.components.number import (
    NumberDeviceClass,
    NumberEntity,
    NumberEntityDescription,
    NumberMode,
)
from homeassistant.const import (
    CURRENCY_EURO,
    EntityCategory,
    UnitOfEnergy,
    UnitOfPower,
    UnitOfTemperature,
    UnitOfTime,
)
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from dacs.home import ResidentSettings
from dacs.home.resident import MAX_COMFORT_FLOOR_C, MIN_COMFORT_FLOOR_C

from .coordinator import DacsConfigEntry, DacsCoordinator
from .entity import DacsEntity, DacsEntityDescription, linked
from .helpers import dacs_exception_handler

# A manual limit is written to the heat pump over Modbus: one at a time.
PARALLEL_UPDATES = 1


@dataclass(frozen=True, kw_only=True)
class DacsNumberEntityDescription(DacsEntityDescription, NumberEntityDescription):
    """A DACS-HW number: where it is read and how it is set."""

    value_fn: Callable[[ResidentSettings], float]
    set_fn: Callable[[DacsCoordinator, float], Coroutine[Any, Any, None]]


NUMBERS: tuple[DacsNumberEntityDescription, ...] = (
    DacsNumberEntityDescription(
        key="comfort_floor",
        translation_key="comfort_floor",
        device_class=NumberDeviceClass.TEMPERATURE,
        entity_category=EntityCategory.CONFIG,
        native_unit_of_measurement=UnitOfTemperature.CELSIUS,
        native_min_value=MIN_COMFORT_FLOOR_C,
        native_max_value=MAX_COMFORT_FLOOR_C,
        native_step=0.5,
        mode=NumberMode.BOX,
        requires_device=False,
        has_fn=linked,
        value_fn=lambda settings: settings.comfort_floor_c,
        set_fn=lambda coordinator, value: coordinator.async_set_comfort_floor(value),
    ),
    DacsNumberEntityDescription(
        key="min_compensation",
        translation_key="min_compensation",
        entity_category=EntityCategory.CONFIG,
        native_unit_of_measurement=f"{CURRENCY_EURO}/{UnitOfEnergy.KILO_WATT_HOUR}",
        native_min_value=0,
        native_max_value=10,
        native_step=0.01,
        mode=NumberMode.BOX,
        requires_device=False,
        has_fn=linked,
        value_fn=lambda settings: settings.min_compensation_eur_per_kwh,
        set_fn=lambda coordinator, value: coordinator.async_update_preferences(
            min_compensation_eur_per_kwh=value
        ),
    ),
    DacsNumberEntityDescription(
        key="max_curtailment",
        translation_key="max_curtailment",
        device_class=NumberDeviceClass.DURATION,
        entity_category=EntityCategory.CONFIG,
        native_unit_of_measurement=UnitOfTime.MINUTES,
        native_min_value=0,
        native_max_value=1440,
        native_step=5,
        mode=NumberMode.BOX,
        requires_device=False,
        has_fn=linked,
        value_fn=lambda settings: settings.max_curtailment_minutes,
        set_fn=lambda coordinator, value: coordinator.async_update_preferences(
            max_curtailment_minutes=round(value)
        ),
    ),
)

# 0 W means "no manual limit": a heat pump is never asked to draw nothing by
# this number (a value below the safety floor already means gas-only).
MANUAL_LIMIT = DacsNumberEntityDescription(
    key="manual_limit",
    translation_key="manual_limit",
    device_class=NumberDeviceClass.POWER,
    native_unit_of_measurement=UnitOfPower.WATT,
    native_min_value=0,
    mode=NumberMode.BOX,
    requires_device=False,
    value_fn=lambda settings: settings.manual_limit_w or 0,
    set_fn=lambda coordinator, value: coordinator.async_update_preferences(
        manual_limit_w=value or None
    ),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: DacsConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Set up the numbers of one heat pump."""
    runtime = entry.runtime_data
    caps = runtime.heat_pump.capabilities
    manual_limit = replace(
        MANUAL_LIMIT,
        native_max_value=caps.nominal_electric_w,
        native_step=caps.limit_step_w,
    )
    async_add_entities(
        DacsNumberEntity(runtime.coordinator, description)
        for description in (*NUMBERS, manual_limit)
        if description.has_fn(runtime)
    )


class DacsNumberEntity(DacsEntity, NumberEntity):
    """A DACS-HW number."""

    entity_description: DacsNumberEntityDescription

    @property
    @override
    def native_value(self) -> float:
        """The setting's value."""
        return self.entity_description.value_fn(self.coordinator.data.settings)

    @dacs_exception_handler
    @override
    async def async_set_native_value(self, value: float) -> None:
        """Change the setting."""
        await self.entity_description.set_fn(self.coordinator, value)
