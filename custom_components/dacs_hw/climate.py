"""The heating as the resident sees it: warm enough, and who is doing the work."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, override

from homeassistant.components.climate import ClimateEntity, ClimateEntityDescription
from homeassistant.components.climate.const import (
    DEFAULT_MAX_TEMP,
    DEFAULT_MIN_TEMP,
    ClimateEntityFeature,
    HVACAction,
    HVACMode,
)
from homeassistant.const import ATTR_TEMPERATURE, UnitOfTemperature
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from dacs.devices import HeatPump

from .coordinator import DacsConfigEntry, DacsCoordinator
from .entity import DacsEntity, DacsEntityDescription
from .heating import heat_source, hvac_action
from .helpers import dacs_exception_handler

# The room setpoint is written to the heat pump over Modbus: one at a time.
PARALLEL_UPDATES = 1

ATTR_HEAT_SOURCE = "heat_source"


@dataclass(frozen=True, kw_only=True)
class DacsClimateEntityDescription(DacsEntityDescription, ClimateEntityDescription):
    """The DACS-HW climate entity."""


HEATING = DacsClimateEntityDescription(key="heating", translation_key="heating")


async def async_setup_entry(
    hass: HomeAssistant,
    entry: DacsConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Set up the heating of one heat pump."""
    async_add_entities([DacsClimateEntity(entry.runtime_data.coordinator, HEATING)])


class DacsClimateEntity(DacsEntity, ClimateEntity):
    """The heating: room temperature, setpoint where supported, what heats.

    Only "heat": switching the heating off is the thermostat's business, and
    the power limit is not an HVAC mode. Home Assistant's HVAC actions know
    no boiler, so the action is "heating" whenever either appliance heats and
    the ``heat_source`` attribute (and the heat source sensor) says which.
    """

    entity_description: DacsClimateEntityDescription

    _attr_name = None
    _attr_hvac_mode = HVACMode.HEAT
    _attr_temperature_unit = UnitOfTemperature.CELSIUS
    _attr_target_temperature_step = 0.5

    def __init__(
        self, coordinator: DacsCoordinator, description: DacsClimateEntityDescription
    ) -> None:
        """Offer a target temperature where the heat pump takes one."""
        super().__init__(coordinator, description)
        self._attr_hvac_modes = [HVACMode.HEAT]
        heat_pump = coordinator.heat_pump
        point = (
            heat_pump.profile.room_setpoint if isinstance(heat_pump, HeatPump) else None
        )
        if (
            point is not None
            and coordinator.heat_pump.capabilities.supports_room_setpoint
        ):
            self._attr_supported_features = ClimateEntityFeature.TARGET_TEMPERATURE
            self._attr_min_temp = (
                point.min if point.min is not None else DEFAULT_MIN_TEMP
            )
            self._attr_max_temp = (
                point.max if point.max is not None else DEFAULT_MAX_TEMP
            )

    @property
    @override
    def current_temperature(self) -> float | None:
        """The indoor temperature the heat pump measures."""
        measured = self.coordinator.data.measurements
        return measured.indoor_temp_c if measured else None

    @property
    @override
    def target_temperature(self) -> float | None:
        """The room setpoint, where the heat pump has one."""
        return self.coordinator.room_setpoint_c

    @property
    @override
    def hvac_action(self) -> HVACAction | None:
        """Heating whenever the heat pump or the boiler heats."""
        return hvac_action(self.coordinator.data.measurements)

    @property
    @override
    def extra_state_attributes(self) -> dict[str, Any]:
        """Which appliance heats: heat pump, boiler, both or none."""
        source = heat_source(self.coordinator.data.measurements)
        return {ATTR_HEAT_SOURCE: source.value if source else None}

    @override
    async def async_set_hvac_mode(self, hvac_mode: HVACMode) -> None:
        """Heat is the only mode; there is nothing to switch."""

    @dacs_exception_handler
    @override
    async def async_set_temperature(self, **kwargs: Any) -> None:
        """Write the room setpoint to the heat pump."""
        # Home Assistant only calls this with a temperature: the entity has no range.
        await self.coordinator.async_set_room_setpoint(float(kwargs[ATTR_TEMPERATURE]))
