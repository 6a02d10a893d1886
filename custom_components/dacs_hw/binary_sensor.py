"""Binary sensors: curtailment, the aggregator link, the comfort guard, problems."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import override

from homeassistant.components.binary_sensor import (
    BinarySensorEntity,
    BinarySensorEntityDescription,
)
from homeassistant.components.binary_sensor.const import BinarySensorDeviceClass
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from dacs.devices import OperatingState
from dacs.home import HomeSnapshot

from .coordinator import DacsConfigEntry
from .entity import DacsEntity, DacsEntityDescription, linked

PARALLEL_UPDATES = 0


@dataclass(frozen=True, kw_only=True)
class DacsBinarySensorEntityDescription(
    DacsEntityDescription, BinarySensorEntityDescription
):
    """A DACS-HW binary sensor: what makes it on."""

    is_on_fn: Callable[[HomeSnapshot], bool]


def _device_problem(snapshot: HomeSnapshot) -> bool:
    """The heat pump cannot be reached or reports a fault."""
    measured = snapshot.measurements
    if not snapshot.device_available or measured is None:
        return True
    return bool(measured.fault_code) or (
        measured.operating_state is OperatingState.FAULT
    )


BINARY_SENSORS: tuple[DacsBinarySensorEntityDescription, ...] = (
    DacsBinarySensorEntityDescription(
        key="curtailment_active",
        translation_key="curtailment_active",
        requires_device=False,
        has_fn=linked,
        is_on_fn=lambda s: s.decision.aggregator_limited,
    ),
    DacsBinarySensorEntityDescription(
        key="comfort_override",
        translation_key="comfort_override",
        requires_device=False,
        has_fn=linked,
        is_on_fn=lambda s: s.comfort_override,
    ),
    DacsBinarySensorEntityDescription(
        key="aggregator_connected",
        translation_key="aggregator_connected",
        device_class=BinarySensorDeviceClass.CONNECTIVITY,
        entity_category=EntityCategory.DIAGNOSTIC,
        requires_device=False,
        has_fn=linked,
        is_on_fn=lambda s: s.aggregator_connected,
    ),
    DacsBinarySensorEntityDescription(
        key="device_problem",
        translation_key="device_problem",
        device_class=BinarySensorDeviceClass.PROBLEM,
        entity_category=EntityCategory.DIAGNOSTIC,
        requires_device=False,
        is_on_fn=_device_problem,
    ),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: DacsConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Set up the binary sensors of one heat pump."""
    runtime = entry.runtime_data
    async_add_entities(
        DacsBinarySensorEntity(runtime.coordinator, description)
        for description in BINARY_SENSORS
        if description.has_fn(runtime)
    )


class DacsBinarySensorEntity(DacsEntity, BinarySensorEntity):
    """A DACS-HW binary sensor."""

    entity_description: DacsBinarySensorEntityDescription

    @property
    @override
    def is_on(self) -> bool:
        """Whether the condition holds."""
        return self.entity_description.is_on_fn(self.coordinator.data)
