"""Sensors: what the heat pump does, the limit on it, and what flexibility earns."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Self, override

from homeassistant.components.sensor import (
    RestoreSensor,
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorExtraStoredData,
    SensorStateClass,
)
from homeassistant.const import (
    CURRENCY_EURO,
    PERCENTAGE,
    EntityCategory,
    UnitOfEnergy,
    UnitOfPower,
    UnitOfTemperature,
    UnitOfVolume,
)
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.typing import StateType
from homeassistant.util import dt as dt_util

from dacs.devices import OperatingState
from dacs.home import HomeSnapshot
from dacs.protocol import CommandReason, LimitSource, Statement

from .coordinator import DacsConfigEntry, DacsRuntimeData
from .entity import DacsEntity, DacsEntityDescription, linked
from .gas import GasMeter
from .heating import HeatSource, boiler_share, heat_source

PARALLEL_UPDATES = 0

NO_EVENT = "none"


@dataclass(frozen=True, kw_only=True)
class DacsSensorEntityDescription(DacsEntityDescription, SensorEntityDescription):
    """A DACS-HW sensor: where its value comes from."""

    value_fn: Callable[[HomeSnapshot], StateType | datetime]
    # For a monthly total (state class TOTAL): when its month began.
    last_reset_fn: Callable[[HomeSnapshot], datetime] | None = None


def measured(*names: str) -> Callable[[DacsRuntimeData], bool]:
    """Create the entity only where the heat pump's profile measures ``names``."""

    def has(runtime: DacsRuntimeData) -> bool:
        return all(name in runtime.heat_pump.measured for name in names)

    return has


def _statement_this_month(
    snapshot: HomeSnapshot, pick: Callable[[Statement], float]
) -> float | None:
    """A figure of this month's statement; 0 before the month's first statement."""
    statement = snapshot.statement
    if statement is None:
        return None
    month = dt_util.as_local(snapshot.time).strftime("%Y-%m")
    if statement.period != month:
        return 0.0
    return pick(statement)


def _month_start(snapshot: HomeSnapshot) -> datetime:
    """Midnight of the first day of the running month, local time.

    The monthly totals start again from 0 then; Home Assistant's statistics
    need that moment to tell a new month from a correction.
    """
    local = dt_util.as_local(snapshot.time)
    return dt_util.start_of_local_day(local.date().replace(day=1))


def _cop(snapshot: HomeSnapshot) -> float | None:
    """The momentary COP, to two decimals (more digits mean nothing here)."""
    cop = snapshot.measurements.cop if snapshot.measurements else None
    return None if cop is None else round(cop, 2)


def _paused_until(snapshot: HomeSnapshot) -> datetime | None:
    settings = snapshot.settings
    return settings.paused_until if not settings.participating(snapshot.time) else None


SENSORS: tuple[DacsSensorEntityDescription, ...] = (
    DacsSensorEntityDescription(
        key="electric_power",
        translation_key="electric_power",
        device_class=SensorDeviceClass.POWER,
        native_unit_of_measurement=UnitOfPower.WATT,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=0,
        has_fn=measured("electric_power_w"),
        value_fn=lambda s: s.measurements.electric_power_w if s.measurements else None,
    ),
    DacsSensorEntityDescription(
        key="heat_pump_heat_output",
        translation_key="heat_pump_heat_output",
        device_class=SensorDeviceClass.POWER,
        native_unit_of_measurement=UnitOfPower.WATT,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=0,
        has_fn=measured("hp_thermal_w"),
        value_fn=lambda s: s.measurements.hp_thermal_w if s.measurements else None,
    ),
    DacsSensorEntityDescription(
        key="boiler_heat_output",
        translation_key="boiler_heat_output",
        device_class=SensorDeviceClass.POWER,
        native_unit_of_measurement=UnitOfPower.WATT,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=0,
        has_fn=measured("boiler_thermal_w"),
        value_fn=lambda s: s.measurements.boiler_thermal_w if s.measurements else None,
    ),
    DacsSensorEntityDescription(
        key="cop",
        translation_key="cop",
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=2,
        has_fn=measured("electric_power_w", "hp_thermal_w"),
        value_fn=_cop,
    ),
    DacsSensorEntityDescription(
        key="boiler_share",
        translation_key="boiler_share",
        native_unit_of_measurement=PERCENTAGE,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=0,
        has_fn=measured("hp_thermal_w", "boiler_thermal_w"),
        value_fn=lambda s: boiler_share(s.measurements),
    ),
    DacsSensorEntityDescription(
        key="heat_source",
        translation_key="heat_source",
        device_class=SensorDeviceClass.ENUM,
        options=[source.value for source in HeatSource],
        value_fn=lambda s: (
            source.value if (source := heat_source(s.measurements)) else None
        ),
    ),
    DacsSensorEntityDescription(
        key="operating_state",
        translation_key="operating_state",
        device_class=SensorDeviceClass.ENUM,
        options=[state.name.lower() for state in OperatingState],
        has_fn=measured("operating_state"),
        value_fn=lambda s: (
            s.measurements.operating_state.name.lower()
            if s.measurements and s.measurements.operating_state is not None
            else None
        ),
    ),
    DacsSensorEntityDescription(
        key="indoor_temperature",
        translation_key="indoor_temperature",
        device_class=SensorDeviceClass.TEMPERATURE,
        native_unit_of_measurement=UnitOfTemperature.CELSIUS,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=1,
        has_fn=measured("indoor_temp_c"),
        value_fn=lambda s: s.measurements.indoor_temp_c if s.measurements else None,
    ),
    DacsSensorEntityDescription(
        key="power_limit",
        translation_key="power_limit",
        device_class=SensorDeviceClass.POWER,
        native_unit_of_measurement=UnitOfPower.WATT,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=0,
        value_fn=lambda s: s.limit_w,
    ),
    DacsSensorEntityDescription(
        key="power_limit_source",
        translation_key="power_limit_source",
        device_class=SensorDeviceClass.ENUM,
        options=[source.value for source in LimitSource],
        value_fn=lambda s: s.limit_source.value,
    ),
    DacsSensorEntityDescription(
        key="flex_event_reason",
        translation_key="flex_event_reason",
        device_class=SensorDeviceClass.ENUM,
        options=[NO_EVENT, *(reason.value for reason in CommandReason)],
        requires_device=False,
        has_fn=linked,
        value_fn=lambda s: (
            s.current_event.reason.value if s.current_event else NO_EVENT
        ),
    ),
    DacsSensorEntityDescription(
        key="flex_event_end",
        translation_key="flex_event_end",
        device_class=SensorDeviceClass.TIMESTAMP,
        requires_device=False,
        has_fn=linked,
        value_fn=lambda s: s.current_event.end if s.current_event else None,
    ),
    DacsSensorEntityDescription(
        key="next_flex_event_start",
        translation_key="next_flex_event_start",
        device_class=SensorDeviceClass.TIMESTAMP,
        requires_device=False,
        has_fn=linked,
        value_fn=lambda s: s.next_event.start if s.next_event else None,
    ),
    DacsSensorEntityDescription(
        key="participation_paused_until",
        translation_key="participation_paused_until",
        device_class=SensorDeviceClass.TIMESTAMP,
        requires_device=False,
        has_fn=linked,
        value_fn=_paused_until,
    ),
    DacsSensorEntityDescription(
        key="delivered_flexibility_month",
        translation_key="delivered_flexibility_month",
        device_class=SensorDeviceClass.ENERGY,
        native_unit_of_measurement=UnitOfEnergy.KILO_WATT_HOUR,
        state_class=SensorStateClass.TOTAL,
        suggested_display_precision=2,
        requires_device=False,
        has_fn=linked,
        last_reset_fn=_month_start,
        value_fn=lambda s: _statement_this_month(s, lambda st: st.delivered_kwh),
    ),
    DacsSensorEntityDescription(
        key="earnings_month",
        translation_key="earnings_month",
        device_class=SensorDeviceClass.MONETARY,
        native_unit_of_measurement=CURRENCY_EURO,
        state_class=SensorStateClass.TOTAL,
        suggested_display_precision=2,
        requires_device=False,
        has_fn=linked,
        last_reset_fn=_month_start,
        value_fn=lambda s: _statement_this_month(s, lambda st: st.earnings_eur),
    ),
    DacsSensorEntityDescription(
        # The boiler's extra gas is paid back on top of the earnings.
        key="gas_compensation_month",
        translation_key="gas_compensation_month",
        device_class=SensorDeviceClass.MONETARY,
        native_unit_of_measurement=CURRENCY_EURO,
        state_class=SensorStateClass.TOTAL,
        suggested_display_precision=2,
        requires_device=False,
        has_fn=linked,
        last_reset_fn=_month_start,
        value_fn=lambda s: _statement_this_month(s, lambda st: st.gas_compensation_eur),
    ),
    DacsSensorEntityDescription(
        key="electric_energy",
        translation_key="electric_energy",
        device_class=SensorDeviceClass.ENERGY,
        native_unit_of_measurement=UnitOfEnergy.KILO_WATT_HOUR,
        state_class=SensorStateClass.TOTAL_INCREASING,
        suggested_display_precision=2,
        has_fn=measured("electric_energy_kwh"),
        value_fn=lambda s: (
            s.measurements.electric_energy_kwh if s.measurements else None
        ),
    ),
    DacsSensorEntityDescription(
        key="heat_pump_heat_energy",
        translation_key="heat_pump_heat_energy",
        device_class=SensorDeviceClass.ENERGY,
        native_unit_of_measurement=UnitOfEnergy.KILO_WATT_HOUR,
        state_class=SensorStateClass.TOTAL_INCREASING,
        suggested_display_precision=2,
        entity_registry_enabled_default=False,
        has_fn=measured("hp_heat_energy_kwh"),
        value_fn=lambda s: (
            s.measurements.hp_heat_energy_kwh if s.measurements else None
        ),
    ),
    DacsSensorEntityDescription(
        key="boiler_heat_energy",
        translation_key="boiler_heat_energy",
        device_class=SensorDeviceClass.ENERGY,
        native_unit_of_measurement=UnitOfEnergy.KILO_WATT_HOUR,
        state_class=SensorStateClass.TOTAL_INCREASING,
        suggested_display_precision=2,
        entity_registry_enabled_default=False,
        has_fn=measured("boiler_heat_energy_kwh"),
        value_fn=lambda s: (
            s.measurements.boiler_heat_energy_kwh if s.measurements else None
        ),
    ),
    DacsSensorEntityDescription(
        key="outdoor_temperature",
        translation_key="outdoor_temperature",
        device_class=SensorDeviceClass.TEMPERATURE,
        native_unit_of_measurement=UnitOfTemperature.CELSIUS,
        state_class=SensorStateClass.MEASUREMENT,
        entity_category=EntityCategory.DIAGNOSTIC,
        suggested_display_precision=1,
        has_fn=measured("outdoor_temp_c"),
        value_fn=lambda s: s.measurements.outdoor_temp_c if s.measurements else None,
    ),
    DacsSensorEntityDescription(
        key="flow_temperature",
        translation_key="flow_temperature",
        device_class=SensorDeviceClass.TEMPERATURE,
        native_unit_of_measurement=UnitOfTemperature.CELSIUS,
        state_class=SensorStateClass.MEASUREMENT,
        entity_category=EntityCategory.DIAGNOSTIC,
        suggested_display_precision=1,
        has_fn=measured("flow_temp_c"),
        value_fn=lambda s: s.measurements.flow_temp_c if s.measurements else None,
    ),
    DacsSensorEntityDescription(
        key="return_temperature",
        translation_key="return_temperature",
        device_class=SensorDeviceClass.TEMPERATURE,
        native_unit_of_measurement=UnitOfTemperature.CELSIUS,
        state_class=SensorStateClass.MEASUREMENT,
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,
        suggested_display_precision=1,
        has_fn=measured("return_temp_c"),
        value_fn=lambda s: s.measurements.return_temp_c if s.measurements else None,
    ),
    DacsSensorEntityDescription(
        key="fault_code",
        translation_key="fault_code",
        entity_category=EntityCategory.DIAGNOSTIC,
        has_fn=measured("fault_code"),
        value_fn=lambda s: s.measurements.fault_code if s.measurements else None,
    ),
)

BOILER_GAS = DacsSensorEntityDescription(
    # For the Energy dashboard's gas: counted from the boiler's heat (gas.py).
    key="boiler_gas",
    translation_key="boiler_gas",
    device_class=SensorDeviceClass.GAS,
    native_unit_of_measurement=UnitOfVolume.CUBIC_METERS,
    state_class=SensorStateClass.TOTAL_INCREASING,
    suggested_display_precision=2,
    has_fn=measured("boiler_heat_energy_kwh"),
    value_fn=lambda s: (
        s.measurements.boiler_heat_energy_kwh if s.measurements else None
    ),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: DacsConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Set up the sensors of one heat pump."""
    runtime = entry.runtime_data
    entities: list[DacsSensorEntity] = [
        DacsSensorEntity(runtime.coordinator, description)
        for description in SENSORS
        if description.has_fn(runtime)
    ]
    if BOILER_GAS.has_fn(runtime):
        entities.append(BoilerGasSensor(runtime.coordinator, BOILER_GAS))
    async_add_entities(entities)


class DacsSensorEntity(DacsEntity, SensorEntity):
    """A DACS-HW sensor."""

    entity_description: DacsSensorEntityDescription

    @property
    @override
    def native_value(self) -> StateType | datetime:
        """The sensor's value."""
        return self.entity_description.value_fn(self.coordinator.data)

    @property
    @override
    def last_reset(self) -> datetime | None:
        """When a monthly total began (None for the other sensors)."""
        last_reset_fn = self.entity_description.last_reset_fn
        return last_reset_fn(self.coordinator.data) if last_reset_fn else None


@dataclass
class GasMeterStoredData(SensorExtraStoredData):
    """The gas total, and the boiler's heat counter it was last fed."""

    boiler_heat_kwh: float | None = None

    @override
    def as_dict(self) -> dict[str, Any]:
        """The stored state, with the heat counter."""
        return {**super().as_dict(), "boiler_heat_kwh": self.boiler_heat_kwh}

    @classmethod
    @override
    def from_dict(cls, restored: dict[str, Any]) -> Self | None:
        """The stored state; None when it is not a gas meter's."""
        base = SensorExtraStoredData.from_dict(restored)
        if base is None:
            return None
        heat = restored.get("boiler_heat_kwh")
        return cls(
            base.native_value,
            base.native_unit_of_measurement,
            float(heat) if isinstance(heat, int | float) else None,
        )


class BoilerGasSensor(DacsSensorEntity, RestoreSensor):
    """The boiler's gas in m³: a total that survives restarts and never drops.

    Its description's value is the boiler's heat counter; the meter turns
    each step of that counter into gas.
    """

    _meter = GasMeter()

    @override
    async def async_added_to_hass(self) -> None:
        """Take up the total where the last run left it, then read on."""
        await super().async_added_to_hass()
        extra = await self.async_get_last_extra_data()
        stored = GasMeterStoredData.from_dict(extra.as_dict()) if extra else None
        if stored is not None and isinstance(stored.native_value, int | float):
            self._meter = GasMeter(
                total_m3=float(stored.native_value),
                boiler_heat_kwh=stored.boiler_heat_kwh,
            )
        self._read_counter()

    @callback
    @override
    def _handle_coordinator_update(self) -> None:
        self._read_counter()
        super()._handle_coordinator_update()

    def _read_counter(self) -> None:
        heat = self.entity_description.value_fn(self.coordinator.data)
        self._meter = self._meter.read(
            float(heat) if isinstance(heat, int | float) else None
        )

    @property
    @override
    def native_value(self) -> float | None:
        """Cubic metres of gas the boiler burnt, as far as this meter counted."""
        return self._meter.total_m3

    @property
    @override
    def extra_restore_state_data(self) -> GasMeterStoredData:
        """The total and the counter, for the next start."""
        return GasMeterStoredData(
            self.native_value,
            self.native_unit_of_measurement,
            self._meter.boiler_heat_kwh,
        )
