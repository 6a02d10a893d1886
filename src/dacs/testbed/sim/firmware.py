"""Heat pump firmware emulation: a device profile's registers on top of the physics.

The same class emulates every profile that has measurement points: it
renders the plant's state into the profile's input/holding registers and
applies writes the way the profile's device does. What differs between
devices is data (the profile) plus a few rules written down here:

- a power limit below the point's minimum (NIBE: 1.1 kW) or, for the DACS
  profile, below the minimum stable power is refused with Modbus exception 3;
- the limit acts only while the profile's "enable" writes hold (NIBE: the
  Modbus AUX input 2741 = 1 and 3032 = 1);
- devices with a native watchdog (DACS) drop a limit and any gas-only/off
  request that is not refreshed within the watchdog period, and a limit whose
  validity has run out.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
import logging
import time
from typing import Protocol

from pymodbus.constants import ExcCodes

from dacs.devices.codec import encode, encode_raw
from dacs.devices.modbus_profile import DeviceProfile, RegisterPoint, RegisterTable
from dacs.devices.models import LimitSource, OperatingMode, OperatingState

_LOGGER = logging.getLogger(__name__)

_DEFAULT_WATCHDOG_S = 60
_MIN_WATCHDOG_S = 10
_MAX_WATCHDOG_S = 3600
_DACS_VERSION_ADDRESS = 16386


class PlantReading(Protocol):
    """The physical state the firmware reports (a simulator step result)."""

    @property
    def outdoor_temp_c(self) -> float:
        """Outdoor temperature (°C)."""

    @property
    def indoor_temp_c(self) -> float:
        """Indoor air temperature (°C)."""

    @property
    def flow_temp_c(self) -> float:
        """Flow (supply) water temperature (°C)."""

    @property
    def return_temp_c(self) -> float:
        """Return water temperature (°C)."""

    @property
    def hp_electric_w(self) -> float:
        """Heat pump electric power (W)."""

    @property
    def hp_thermal_w(self) -> float:
        """Heat pump thermal output (W)."""

    @property
    def boiler_thermal_w(self) -> float:
        """Boiler thermal output (W)."""


@dataclass(frozen=True, kw_only=True)
class FirmwareIdentity:
    """What the emulated device reports about itself (DACS identification block)."""

    manufacturer: str = "DACS-HW Simulator"
    model: str = "Hybrid HP sim"
    serial: str = "SIM-0001"
    firmware: str = "1.0.0"
    nominal_electric_w: int = 2000
    safety_floor_w: int = 800
    limit_step_w: int = 100
    watchdog_s: int = _DEFAULT_WATCHDOG_S
    supports_room_setpoint: bool = True


@dataclass
class FaultInjection:
    """Misbehaviour on demand, to prove the driver copes with broken devices."""

    garbage: bool = False  # measurements read back as out-of-range values
    exception: ExcCodes | None = None  # every request answered with this exception
    ignore_limit: bool = False  # accept limits but keep drawing unlimited power
    fault_code: int = 0  # the device's own fault code register


@dataclass
class EnergyCounters:
    """Cumulative energy the firmware counts (Wh)."""

    electric_wh: float = 0.0
    hp_heat_wh: float = 0.0
    boiler_heat_wh: float = 0.0


@dataclass
class ControlState:
    """What the firmware has been told, and when."""

    limit_raw: int | None = None  # None: unlimited
    limit_set_at: float = 0.0
    validity_s: int = 0
    watchdog_s: int = _DEFAULT_WATCHDOG_S
    last_refresh: float = 0.0
    mode: OperatingMode = OperatingMode.NORMAL
    room_setpoint_c: float = 20.0
    holding: dict[int, int] = field(default_factory=dict)
    coils: dict[int, int] = field(default_factory=dict)


class HeatPumpFirmware:
    """Registers <-> plant, following one device profile."""

    def __init__(
        self,
        profile: DeviceProfile,
        *,
        identity: FirmwareIdentity | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Emulate ``profile``; ``clock`` drives the watchdog and validity."""
        self.profile = profile
        self.identity = identity or FirmwareIdentity()
        self.faults = FaultInjection()
        self.energy = EnergyCounters()
        self._clock = clock
        self.state = ControlState(watchdog_s=self.identity.watchdog_s)
        self.reading: PlantReading | None = None
        self._write_values = self._allowed_write_values()
        self._sources = self._readable_sources()
        unique = {
            (p.table, p.address, p.bit): p for p in profile.points() if not p.writable
        }
        self._readable_points = list(unique.values())
        self._initialise_registers()

    # -- what the plant should do -----------------------------------------

    @property
    def limit_w(self) -> float | None:
        """The electric power limit in force (None: unlimited)."""
        control = self.profile.power_limit
        if control is None or self.state.limit_raw is None or self.faults.ignore_limit:
            return None
        if not all(self._holds(w.table, w.address, w.value) for w in control.enable):
            return None
        return self.state.limit_raw * control.point.scale

    @property
    def mode(self) -> OperatingMode:
        """The operating mode in force."""
        for mode in (OperatingMode.OFF, OperatingMode.GAS_ONLY):
            writes = self.profile.modes.get(mode)
            if writes and all(self._holds(w.table, w.address, w.value) for w in writes):
                return mode
        return OperatingMode.NORMAL

    @property
    def limit_source(self) -> LimitSource:
        """Who set the limit in force."""
        if self.limit_w is not None or self.mode is not OperatingMode.NORMAL:
            return LimitSource.MODBUS
        return LimitSource.NONE

    def tick(self) -> None:
        """Apply the watchdog and the limit's validity (call often)."""
        control = self.profile.power_limit
        if not self.profile.capabilities.get("native_watchdog"):
            return
        now = self._clock()
        curtailed = (
            self.state.limit_raw is not None or self.mode is not OperatingMode.NORMAL
        )
        if not curtailed:
            return
        expired_watchdog = now - self.state.last_refresh > self.state.watchdog_s
        expired_validity = (
            self.state.limit_raw is not None
            and self.state.validity_s > 0
            and now - self.state.limit_set_at > self.state.validity_s
        )
        if expired_watchdog or expired_validity:
            _LOGGER.info(
                "simulated %s: %s expired, back to unlimited",
                self.profile.id,
                "watchdog" if expired_watchdog else "limit validity",
            )
            self.state.limit_raw = None
            if control is not None and control.unlimited_raw is not None:
                self.state.holding[control.point.address] = control.unlimited_raw
            normal = self.profile.modes.get(OperatingMode.NORMAL, ())
            for write in normal:
                self._store(write.table, write.address, write.value)
            self.state.mode = OperatingMode.NORMAL

    def record(self, reading: PlantReading, dt_s: float) -> None:
        """Take the plant's latest state and count energy over ``dt_s``."""
        self.reading = reading
        hours = dt_s / 3600.0
        self.energy.electric_wh += reading.hp_electric_w * hours
        self.energy.hp_heat_wh += reading.hp_thermal_w * hours
        self.energy.boiler_heat_wh += reading.boiler_thermal_w * hours

    # -- Modbus side -------------------------------------------------------

    def blocks(self) -> dict[RegisterTable, tuple[int, int]]:
        """Address range (start, count) per table that the device answers."""
        addresses: dict[RegisterTable, list[int]] = {}
        for point in self.profile.points():
            addresses.setdefault(point.table, []).extend(
                range(point.address, point.address + point.count)
            )
        for table, address in self._write_values:
            addresses.setdefault(table, []).append(address)
        return {t: (min(a), max(a) - min(a) + 1) for t, a in addresses.items()}

    def read(
        self, table: RegisterTable, address: int, count: int
    ) -> list[int] | ExcCodes:
        """Register (or bit) values for a read request."""
        if self.faults.exception is not None:
            return self.faults.exception
        self.tick()
        image = self._render(table)
        return [image.get(address + i, 0) for i in range(count)]

    def write(
        self, table: RegisterTable, address: int, values: list[int]
    ) -> ExcCodes | None:
        """Apply a write request; an exception code refuses it and changes nothing."""
        if self.faults.exception is not None:
            return self.faults.exception
        self.tick()
        for offset, value in enumerate(values):
            if (refusal := self._check(table, address + offset, value)) is not None:
                return refusal
        for offset, value in enumerate(values):
            self._apply(table, address + offset, value)
        return None

    # -- internals ---------------------------------------------------------

    def _allowed_write_values(self) -> dict[tuple[RegisterTable, int], set[int]]:
        allowed: dict[tuple[RegisterTable, int], set[int]] = {}
        control = self.profile.power_limit
        writes = [w for mode in self.profile.modes.values() for w in mode]
        if control is not None:
            writes += [*control.enable, *control.release]
            if control.heartbeat is not None:
                writes.append(control.heartbeat)
        for write in writes:
            allowed.setdefault((write.table, write.address), set()).add(write.value)
        return allowed

    def _initialise_registers(self) -> None:
        control = self.profile.power_limit
        if control is not None:
            for write in control.release:
                self._store(write.table, write.address, write.value)
            if control.unlimited_raw is not None:
                self.state.holding[control.point.address] = control.unlimited_raw
            else:
                # Devices without an "unlimited" value hold a setting; start at nominal.
                self.state.holding[control.point.address] = encode(
                    control.point,
                    min(
                        max(self.identity.nominal_electric_w, control.point.min or 0),
                        control.point.max or 1e9,
                    ),
                )[0]
            if control.validity is not None:
                self.state.holding[control.validity.address] = 0
            if control.watchdog_period is not None:
                self.state.holding[control.watchdog_period.address] = 0
        for write in self.profile.modes.get(OperatingMode.NORMAL, ()):
            self._store(write.table, write.address, write.value)
        # Writes that switch things on (enable, other modes) start switched off.
        for (table, address), values in self._write_values.items():
            image = (
                self.state.coils if table is RegisterTable.COIL else self.state.holding
            )
            image.setdefault(address, min(values) if 0 not in values else 0)
        if self.profile.room_setpoint is not None:
            self.state.holding[self.profile.room_setpoint.address] = encode(
                self.profile.room_setpoint, self.state.room_setpoint_c
            )[0]

    def _holds(self, table: RegisterTable, address: int, value: int) -> bool:
        image = self.state.coils if table is RegisterTable.COIL else self.state.holding
        return image.get(address) == value

    def _store(self, table: RegisterTable, address: int, value: int) -> None:
        image = self.state.coils if table is RegisterTable.COIL else self.state.holding
        image[address] = value

    def _check(self, table: RegisterTable, address: int, value: int) -> ExcCodes | None:
        control = self.profile.power_limit
        if table not in (RegisterTable.HOLDING, RegisterTable.COIL):
            return ExcCodes.ILLEGAL_FUNCTION
        if (
            control is not None
            and table is control.point.table
            and address == control.point.address
        ):
            if value == control.unlimited_raw:
                return None
            watts = value * control.point.scale
            floor = self.identity.safety_floor_w if self.profile.id == "dacs" else 0
            low = max(control.point.min or 0, floor)
            high = control.point.max
            if watts < low or (high is not None and watts > high):
                return ExcCodes.ILLEGAL_VALUE
            return None
        if (
            control is not None
            and control.validity is not None
            and address == control.validity.address
        ):
            return None
        if (
            control is not None
            and control.watchdog_period is not None
            and (address == control.watchdog_period.address)
        ):
            ok = value == 0 or _MIN_WATCHDOG_S <= value <= _MAX_WATCHDOG_S
            return None if ok else ExcCodes.ILLEGAL_VALUE
        setpoint = self.profile.room_setpoint
        if setpoint is not None and address == setpoint.address:
            celsius = (value - 0x10000 if value >= 0x8000 else value) * setpoint.scale
            in_range = (setpoint.min or -1e9) <= celsius <= (setpoint.max or 1e9)
            return None if in_range else ExcCodes.ILLEGAL_VALUE
        allowed = self._write_values.get((table, address))
        if allowed is None:
            return ExcCodes.ILLEGAL_ADDRESS
        return None if value in allowed else ExcCodes.ILLEGAL_VALUE

    def _apply(self, table: RegisterTable, address: int, value: int) -> None:
        now = self._clock()
        control = self.profile.power_limit
        self._store(table, address, value)
        if control is None:
            return
        if address == control.point.address and table is control.point.table:
            self.state.limit_raw = None if value == control.unlimited_raw else value
            self.state.limit_set_at = now
            self.state.last_refresh = now
        elif control.validity is not None and address == control.validity.address:
            self.state.validity_s = value
        elif (
            control.watchdog_period is not None
            and address == control.watchdog_period.address
        ):
            self.state.watchdog_s = value or self.identity.watchdog_s
        elif control.heartbeat is not None and address == control.heartbeat.address:
            self.state.last_refresh = now
        if any(
            w.address == address and w.table is table
            for writes in self.profile.modes.values()
            for w in writes
        ):
            self.state.mode = self.mode
            self.state.last_refresh = now
        setpoint = self.profile.room_setpoint
        if setpoint is not None and address == setpoint.address:
            self.state.room_setpoint_c = (
                value - 0x10000 if value >= 0x8000 else value
            ) * setpoint.scale

    def _render(self, table: RegisterTable) -> dict[int, int]:
        image: dict[int, int] = {}
        if table is RegisterTable.HOLDING:
            image.update(self.state.holding)
        elif table is RegisterTable.COIL:
            image.update(self.state.coils)
        for point in self._readable_points:
            if point.table is not table:
                continue
            words = self._encode(point, self._value_for(point))
            for i, word in enumerate(words):
                address = point.address + i
                # Capability flags share one register, one bit each.
                image[address] = (
                    image.get(address, 0) | word if point.bit is not None else word
                )
        return image

    def _encode(
        self, point: RegisterPoint, value: float | bool | str | None
    ) -> list[int]:
        if value is None:
            if point.missing is None:
                return [0] * point.count
            return (
                [point.missing & 0xFFFF]
                if point.count == 1
                else encode_raw(point, point.missing)
            )
        if point.bit is not None:
            return [(1 << point.bit) if value else 0]
        if isinstance(value, str) and point.values:
            return encode_raw(point, point.raw_for(value))
        if (
            self.faults.garbage
            and point.max is not None
            and point.type.value != "string"
        ):
            # Out of range on purpose: 0x7FFF * scale (e.g. 3276.7 °C).
            return encode_raw(point, 0x7FFF)
        if point.min is not None or point.max is not None:
            value = min(
                max(float(value), point.min if point.min is not None else -1e18),
                point.max if point.max is not None else 1e18,
            )
        return encode(point, value)

    def _readable_sources(
        self,
    ) -> dict[tuple[RegisterTable, int, int | None], tuple[str, str]]:
        """Which value each read-only register start holds: (kind, name)."""
        sources: dict[tuple[RegisterTable, int, int | None], tuple[str, str]] = {}
        for name, spec in self.profile.identity.items():
            if isinstance(spec, RegisterPoint):
                sources[spec.table, spec.address, spec.bit] = ("identity", name)
        for name, capability in self.profile.capabilities.items():
            if isinstance(capability, RegisterPoint):
                key = (capability.table, capability.address, capability.bit)
                sources.setdefault(key, ("capability", name))
        for name, spec in self.profile.measurements.items():
            sources[spec.table, spec.address, spec.bit] = ("measurement", name)
        for check in self.profile.probe:
            key = (check.point.table, check.point.address, check.point.bit)
            if key not in sources and check.equals is not None:
                sources[key] = ("constant", str(check.equals))
        if self.profile.id == "dacs":
            sources[RegisterTable.INPUT, _DACS_VERSION_ADDRESS, None] = (
                "constant",
                "1",
            )
        return sources

    def _value_for(self, point: RegisterPoint) -> float | bool | str | None:
        """The engineering value the device reports for a read-only point."""
        kind, name = self._sources.get(
            (point.table, point.address, point.bit), ("", "")
        )
        if kind == "identity":
            return str(getattr(self.identity, name))
        if kind == "capability":
            return self.capability(name)
        if kind == "measurement":
            return self._measurement(name)
        if kind == "constant":
            return name if point.type.value == "string" else float(name) * point.scale
        return None

    def capability(self, name: str) -> float | bool:
        """The value the firmware holds for one of the profile's capabilities."""
        ident = self.identity
        values: dict[str, float | bool] = {
            "nominal_electric_w": ident.nominal_electric_w,
            "safety_floor_w": ident.safety_floor_w,
            "limit_step_w": ident.limit_step_w,
            "supports_power_limit": self.profile.power_limit is not None,
            "supports_gas_only": OperatingMode.GAS_ONLY in self.profile.modes,
            "supports_sg_ready": False,
            "boiler_present": True,
            "supports_room_setpoint": ident.supports_room_setpoint
            and self.profile.room_setpoint is not None,
            "watchdog_s": ident.watchdog_s,
        }
        return values[name]

    def _measurement(self, name: str) -> float | bool | str | None:
        reading = self.reading
        if name == "fault_code":
            return float(self.faults.fault_code)
        if name == "limit_in_force_w":
            return self.limit_w
        if name == "limit_source":
            return self.limit_source.name.lower()
        if name == "mode":
            return self.mode.value
        if name == "electric_energy_kwh":
            return self.energy.electric_wh / 1000
        if name == "hp_heat_energy_kwh":
            return self.energy.hp_heat_wh / 1000
        if name == "boiler_heat_energy_kwh":
            return self.energy.boiler_heat_wh / 1000
        if reading is None:
            return None
        if name == "operating_state":
            return _state_name(self, reading, self.profile.measurements[name])
        values: dict[str, float | bool] = {
            "electric_power_w": reading.hp_electric_w,
            "hp_thermal_w": reading.hp_thermal_w,
            "boiler_thermal_w": reading.boiler_thermal_w,
            "boiler_active": reading.boiler_thermal_w > 0,
            "flow_temp_c": reading.flow_temp_c,
            "return_temp_c": reading.return_temp_c,
            "outdoor_temp_c": reading.outdoor_temp_c,
            "indoor_temp_c": reading.indoor_temp_c,
        }
        return values.get(name)


def _state_name(
    firmware: HeatPumpFirmware, reading: PlantReading, point: RegisterPoint
) -> str:
    if firmware.mode is OperatingMode.OFF:
        state = OperatingState.OFF
    elif firmware.faults.fault_code:
        state = OperatingState.FAULT
    elif reading.hp_thermal_w > 0 and reading.boiler_thermal_w > 0:
        state = OperatingState.HYBRID
    elif reading.hp_thermal_w > 0:
        state = OperatingState.HEAT_PUMP
    elif reading.boiler_thermal_w > 0:
        state = OperatingState.BOILER
    else:
        state = OperatingState.STANDBY
    name = state.name.lower()
    if name in point.values:
        return name
    # Brand enumerations are coarser: fall back to the nearest they know.
    for fallback in ("heat_pump", "standby", "off"):
        if fallback in point.values:
            return fallback
    return next(iter(point.values))
