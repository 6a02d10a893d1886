"""Which appliance heats the house: the heat pump, the boiler, or both."""

from __future__ import annotations

from enum import StrEnum

from homeassistant.components.climate.const import HVACAction

from dacs.devices import Measurements, OperatingState
from dacs.protocol.rules import compressor_running


class HeatSource(StrEnum):
    """What heats the house right now."""

    NONE = "none"
    HEAT_PUMP = "heat_pump"
    BOILER = "boiler"
    HEAT_PUMP_AND_BOILER = "heat_pump_and_boiler"


def heat_source(measured: Measurements | None) -> HeatSource | None:
    """Tell what heats, from the best evidence the profile offers.

    Thermal powers first; the device's operating state where the profile has
    no thermal power; the compressor's electric power and the boiler flag as
    a last resort. None when nothing tells.
    """
    if measured is None:
        return None
    state = measured.operating_state
    heat_pump: bool | None
    if measured.hp_thermal_w is not None:
        heat_pump = measured.hp_thermal_w > 0
    elif state is not None:
        heat_pump = state in (OperatingState.HEAT_PUMP, OperatingState.HYBRID)
    elif measured.electric_power_w is not None:
        heat_pump = compressor_running(measured.electric_power_w)
    else:
        heat_pump = None
    boiler: bool | None
    if measured.boiler_thermal_w is not None:
        boiler = measured.boiler_thermal_w > 0
    elif measured.boiler_active is not None:
        boiler = measured.boiler_active
    elif state is not None:
        boiler = state in (OperatingState.BOILER, OperatingState.HYBRID)
    else:
        boiler = None
    if heat_pump is None and boiler is None:
        return None
    if heat_pump and boiler:
        return HeatSource.HEAT_PUMP_AND_BOILER
    if heat_pump:
        return HeatSource.HEAT_PUMP
    if boiler:
        return HeatSource.BOILER
    return HeatSource.NONE


def boiler_share(measured: Measurements | None) -> float | None:
    """The boiler's share of the heat delivered right now, in percent."""
    if measured is None:
        return None
    heat_pump, boiler = measured.hp_thermal_w, measured.boiler_thermal_w
    if heat_pump is None or boiler is None or heat_pump + boiler <= 0:
        return None
    return 100.0 * boiler / (heat_pump + boiler)


def hvac_action(measured: Measurements | None) -> HVACAction | None:
    """Home Assistant's HVAC action: heating whenever either appliance heats.

    Home Assistant has no action for "the boiler heats"; the heat source
    says which appliance it is.
    """
    if measured is None:
        return None
    if measured.operating_state is OperatingState.OFF:
        return HVACAction.OFF
    if measured.operating_state is OperatingState.DEFROST:
        return HVACAction.DEFROSTING
    source = heat_source(measured)
    if source is None:
        return None
    return HVACAction.IDLE if source is HeatSource.NONE else HVACAction.HEATING
