"""The base entity of the DACS-HW integration."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import override

from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.entity import EntityDescription
from homeassistant.helpers.update_coordinator import CoordinatorEntity

from .const import DOMAIN
from .coordinator import DacsCoordinator, DacsRuntimeData


@dataclass(frozen=True, kw_only=True)
class DacsEntityDescription(EntityDescription):
    """What every DACS-HW entity description has."""

    # False for what lives in Home Assistant, not in the heat pump (the
    # resident's choices, the aggregator link): it stays available when the
    # heat pump is unreachable, so the resident can always step out.
    requires_device: bool = True
    has_fn: Callable[[DacsRuntimeData], bool] = lambda _runtime: True


def linked(runtime: DacsRuntimeData) -> bool:
    """True when the home is linked to an aggregator through a broker."""
    return runtime.controller.link is not None


class DacsEntity(CoordinatorEntity[DacsCoordinator]):
    """An entity of one heat pump."""

    _attr_has_entity_name = True
    entity_description: DacsEntityDescription

    def __init__(
        self, coordinator: DacsCoordinator, description: DacsEntityDescription
    ) -> None:
        """Describe the entity and the heat pump it belongs to."""
        super().__init__(coordinator)
        self.entity_description = description
        entry = coordinator.config_entry
        self._attr_unique_id = f"{entry.unique_id}_{description.key}"
        identity = coordinator.heat_pump.identity
        self._attr_device_info = DeviceInfo(
            identifiers={(DOMAIN, str(entry.unique_id))},
            manufacturer=identity.manufacturer,
            model=identity.model,
            serial_number=identity.serial,
            sw_version=identity.firmware,
            translation_key="heat_pump",
        )

    @property
    @override
    def available(self) -> bool:
        """Unavailable while the heat pump cannot be reached (where that matters)."""
        return super().available and (
            not self.entity_description.requires_device
            or self.coordinator.data.device_available
        )
