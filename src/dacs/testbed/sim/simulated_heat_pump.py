"""Assemble a simulated hybrid heat pump in a simulated house behind a Modbus port."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
import math
import time
from typing import Protocol

from dacs.devices.modbus_profile import DeviceProfile, get_profile

from .boiler import BoilerSpec
from .firmware import FirmwareIdentity, HeatPumpFirmware
from .heat_pump_model import modulating_heat_pump
from .home_config import HybridHomeConfig
from .house import DwellingType, InsulationLevel, house_parameters
from .hybrid import HybridHome
from .server import SimulatedHeatPumpServer
from .weather import Weather, WeatherSeries

# The coldest evening in the packaged KNMI winter: De Bilt, 2 February 2025,
# about 0 °C at 17:00 UTC, falling to -2.7 °C by 20:00 (KNMI's hourly
# temperature is observed at the end of the hour).
DEFAULT_START = datetime(2025, 2, 2, 16, 0, tzinfo=UTC)


@dataclass(frozen=True, kw_only=True)
class SimulatedHomeOptions:
    """What to simulate: the device profile, the house and the heat pump."""

    profile: str = "dacs"
    dwelling: DwellingType = DwellingType.SEMI_DETACHED
    insulation: InsulationLevel = InsulationLevel.AVERAGE
    nominal_electric_w: float | None = None  # default: the profile's, else 2 kW
    min_modulation: float = 0.35
    room_setpoint_c: float = 20.0
    start: datetime = DEFAULT_START
    serial: str = "SIM-0001"
    weather: Weather | None = field(default=None, compare=False)


def _nominal_for(profile: DeviceProfile, options: SimulatedHomeOptions) -> float:
    if options.nominal_electric_w is not None:
        return options.nominal_electric_w
    nominal = profile.capabilities.get("nominal_electric_w")
    return float(nominal) if isinstance(nominal, (int, float)) else 2000.0


def build_home(options: SimulatedHomeOptions) -> HybridHome:
    """The physics alone: a hybrid heat pump in a house, under the weather."""
    profile = get_profile(options.profile)
    nominal = _nominal_for(profile, options)
    config = HybridHomeConfig(
        house=house_parameters(options.dwelling, options.insulation),
        heat_pump=modulating_heat_pump(nominal, min_modulation=options.min_modulation),
        boiler=BoilerSpec(),
        room_setpoint_c=options.room_setpoint_c,
    )
    weather = options.weather or WeatherSeries.default(wrap=True)
    return HybridHome(config, weather, options.start)


def build_simulated_heat_pump(
    options: SimulatedHomeOptions | None = None,
    *,
    port: int | None = None,
    device_id: int = 1,
    speed: float = 1.0,
    autorun: bool = True,
    clock: Callable[[], float] = time.monotonic,
) -> SimulatedHeatPumpServer[HybridHome]:
    """A simulated heat pump ready to start(): firmware + physics + Modbus server."""
    options = options or SimulatedHomeOptions()
    return serve_home(
        build_home(options),
        options.profile,
        serial=options.serial,
        port=port,
        device_id=device_id,
        speed=speed,
        autorun=autorun,
        clock=clock,
    )


def serve_home(
    home: HybridHome,
    profile_id: str,
    *,
    serial: str,
    port: int | None = None,
    device_id: int = 1,
    speed: float = 1.0,
    autorun: bool = True,
    clock: Callable[[], float] = time.monotonic,
) -> SimulatedHeatPumpServer[HybridHome]:
    """Put an existing simulated home behind a Modbus port in one profile's registers."""
    firmware = firmware_for(home, profile_id, serial=serial, clock=clock)
    return SimulatedHeatPumpServer(
        firmware,
        home,
        port=port,
        device_id=device_id,
        speed=speed,
        autorun=autorun,
    )


class Configured(Protocol):
    """Anything that knows its home's configuration (a home, or one of a street)."""

    @property
    def config(self) -> HybridHomeConfig:
        """The home's configuration."""
        ...


def firmware_for(
    home: Configured,
    profile_id: str,
    *,
    serial: str,
    clock: Callable[[], float] = time.monotonic,
) -> HeatPumpFirmware:
    """The firmware of a home's heat pump in one profile's registers."""
    profile = get_profile(profile_id)
    spec = home.config.heat_pump
    floor = profile.capabilities.get("safety_floor_w")
    identity = FirmwareIdentity(
        serial=serial,
        nominal_electric_w=round(spec.nominal_electric_w),
        # The firmware refuses limits below the compressor's stable minimum.
        safety_floor_w=(
            int(floor)
            if isinstance(floor, (int, float))
            else min(
                int(math.ceil(spec.min_electric_w / 100) * 100),
                round(spec.nominal_electric_w),
            )
        ),
    )
    return HeatPumpFirmware(profile, identity=identity, clock=clock)
