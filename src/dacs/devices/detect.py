"""Find the profile a heat pump speaks by probing identification registers."""

from __future__ import annotations

from collections.abc import Iterable
import logging

from .codec import decode
from .errors import HeatPumpDeviceError, HeatPumpInvalidDataError, ProfileDetectionError
from .modbus_profile import DeviceProfile, builtin_profiles
from .transport import ModbusTransport

_LOGGER = logging.getLogger(__name__)


async def matches(transport: ModbusTransport, profile: DeviceProfile) -> bool:
    """True when every probe of the profile reads back as the profile expects.

    A Modbus exception (e.g. illegal address) or an out-of-range value means
    "not this profile"; connection problems propagate.
    """
    for check in profile.probe:
        point = check.point
        try:
            raw = await transport.read(point.table, point.address, point.count)
            value = decode(point, raw)
        except (HeatPumpDeviceError, HeatPumpInvalidDataError) as err:
            _LOGGER.debug(
                "profile %s: probe at %s failed: %s", profile.id, point.address, err
            )
            return False
        if check.equals is not None and value != check.equals:
            return False
    return True


async def detect_profile(
    transport: ModbusTransport, candidates: Iterable[DeviceProfile] | None = None
) -> DeviceProfile:
    """Return the first autodetectable profile whose probes all match."""
    pool = (
        list(candidates)
        if candidates is not None
        else list(builtin_profiles().values())
    )
    ordered = sorted(
        (p for p in pool if p.detect_order is not None),
        key=lambda p: p.detect_order or 0,
    )
    for profile in ordered:
        if await matches(transport, profile):
            return profile
    tried = ", ".join(p.id for p in ordered) or "none"
    manual = ", ".join(sorted(p.id for p in pool if p.detect_order is None))
    raise ProfileDetectionError(
        f"no known heat pump profile answers at {transport.host}:{transport.port} "
        f"(device id {transport.device_id}); probed {tried}. Check the Modbus "
        f"settings or choose a profile by hand"
        + (f" (manual-only profiles: {manual})" if manual else "")
    )
