"""Heat pump drivers: the DACS open Modbus profile and brand profiles as data.

S2 heat pumps live in :mod:`dacs.devices.s2` (imported only where used).
"""

from .client import HeatPump
from .controllable import ControllableHeatPump
from .detect import detect_profile
from .errors import (
    HeatPumpConnectionError,
    HeatPumpDeviceError,
    HeatPumpError,
    HeatPumpInvalidDataError,
    HeatPumpTimeoutError,
    HeatPumpUnsupportedError,
    ProfileDetectionError,
    ProfileError,
)
from .limits import plan_limit
from .modbus_profile import (
    DeviceProfile,
    builtin_profiles,
    get_profile,
    load_profile_file,
)
from .models import (
    Capabilities,
    DeviceIdentity,
    LimitAction,
    LimitResult,
    LimitSource,
    Measurements,
    OperatingMode,
    OperatingState,
)
from .transport import ModbusTransport

__all__ = [
    "Capabilities",
    "ControllableHeatPump",
    "DeviceIdentity",
    "DeviceProfile",
    "HeatPump",
    "HeatPumpConnectionError",
    "HeatPumpDeviceError",
    "HeatPumpError",
    "HeatPumpInvalidDataError",
    "HeatPumpTimeoutError",
    "HeatPumpUnsupportedError",
    "LimitAction",
    "LimitResult",
    "LimitSource",
    "Measurements",
    "ModbusTransport",
    "OperatingMode",
    "OperatingState",
    "ProfileDetectionError",
    "ProfileError",
    "builtin_profiles",
    "detect_profile",
    "get_profile",
    "load_profile_file",
    "plan_limit",
]
