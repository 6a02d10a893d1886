"""Typed values that cross the device layer's boundary."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import IntEnum, StrEnum
from typing import Any


class OperatingMode(StrEnum):
    """What the heat pump is asked to do."""

    NORMAL = "normal"
    GAS_ONLY = "gas_only"  # compressor off, the boiler heats
    OFF = "off"


class OperatingState(IntEnum):
    """What the heating system is doing (DACS profile register values)."""

    STANDBY = 0
    HEAT_PUMP = 1
    HYBRID = 2  # heat pump and boiler together
    BOILER = 3
    DEFROST = 4
    DOMESTIC_HOT_WATER = 5
    OFF = 6
    FAULT = 7


class LimitSource(IntEnum):
    """Who set the limit that is in force (DACS profile register values)."""

    NONE = 0
    MODBUS = 1  # written over Modbus, i.e. by this layer
    LOCAL = 2  # set on the heat pump's own controls
    SG_READY = 3  # a blocking signal on the SG-Ready contacts
    PROTECTION = 4  # the device limits itself (e.g. safety, defrost)


class LimitAction(StrEnum):
    """What the device layer did with a limit request."""

    APPLIED = "applied"  # written as asked
    ROUNDED = "rounded"  # rounded down to the profile's step
    FLOOR_APPLIED = "floor_applied"  # below the safety floor: floor written instead
    GAS_ONLY = "gas_only"  # below the safety floor: compressor off, boiler heats
    RELEASED = "released"  # no limit in force


@dataclass(frozen=True, kw_only=True)
class DeviceIdentity:
    """Who the heat pump says it is."""

    profile_id: str
    profile_version: str
    manufacturer: str
    model: str
    serial: str | None
    firmware: str | None


@dataclass(frozen=True, kw_only=True)
class Capabilities:
    """What the heat pump can do, as far as power limiting is concerned."""

    nominal_electric_w: int
    safety_floor_w: int  # minimum stable electric power; never limit below it
    limit_step_w: int
    supports_power_limit: bool
    supports_gas_only: bool
    supports_sg_ready: bool
    supports_room_setpoint: bool
    boiler_present: bool
    native_watchdog: bool  # the device itself drops a limit that is not refreshed
    watchdog_s: int | None  # the device's watchdog period, when it has one

    def __post_init__(self) -> None:
        """Reject capabilities that would make the floor logic unsafe."""
        if self.nominal_electric_w <= 0:
            raise ValueError("nominal electric power must be positive")
        if not 0 <= self.safety_floor_w <= self.nominal_electric_w:
            raise ValueError(
                f"safety floor {self.safety_floor_w} W must lie between 0 and the "
                f"nominal power {self.nominal_electric_w} W"
            )
        if self.limit_step_w <= 0:
            raise ValueError("limit step must be positive")

    @classmethod
    def from_values(cls, values: Mapping[str, Any]) -> Capabilities:
        """Capabilities from a profile's named values (registers read or constants).

        Raises KeyError, TypeError or ValueError for missing or inconsistent values.
        """
        return cls(
            nominal_electric_w=int(values["nominal_electric_w"]),
            safety_floor_w=int(values["safety_floor_w"]),
            limit_step_w=int(values["limit_step_w"]),
            supports_power_limit=bool(values["supports_power_limit"]),
            supports_gas_only=bool(values["supports_gas_only"]),
            supports_sg_ready=bool(values["supports_sg_ready"]),
            supports_room_setpoint=bool(values["supports_room_setpoint"]),
            boiler_present=bool(values["boiler_present"]),
            native_watchdog=bool(values["native_watchdog"]),
            watchdog_s=int(values["watchdog_s"]) if values.get("watchdog_s") else None,
        )


@dataclass(frozen=True, kw_only=True)
class Measurements:
    """One consistent read of the heat pump's measurements.

    ``None`` means the profile or the device does not provide the value.
    """

    electric_power_w: float | None
    hp_thermal_w: float | None
    boiler_thermal_w: float | None
    boiler_active: bool | None
    flow_temp_c: float | None
    return_temp_c: float | None
    outdoor_temp_c: float | None
    indoor_temp_c: float | None
    operating_state: OperatingState | None
    fault_code: int | None
    limit_in_force_w: float | None  # None: no limit in force (or not reported)
    limit_source: LimitSource | None
    mode: OperatingMode | None
    electric_energy_kwh: float | None
    hp_heat_energy_kwh: float | None
    boiler_heat_energy_kwh: float | None
    # Fields the device returned garbage for (name -> reason); their value is None.
    invalid: Mapping[str, str] = field(default_factory=dict)

    @property
    def cop(self) -> float | None:
        """Momentary coefficient of performance, when both powers are known."""
        if not self.electric_power_w or self.hp_thermal_w is None:
            return None
        return self.hp_thermal_w / self.electric_power_w


@dataclass(frozen=True, kw_only=True)
class LimitResult:
    """The outcome of a limit request: what was asked and what is in force."""

    requested_max_power_w: float | None
    max_power_w: int | None  # None: unlimited
    action: LimitAction
    mode: OperatingMode

    @property
    def limited(self) -> bool:
        """True when the heat pump's electric power is restricted."""
        return self.action is not LimitAction.RELEASED
