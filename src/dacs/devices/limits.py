"""Turn a requested electric power limit into one the heat pump can safely run at.

The pilot behind this project found that heat pumps misbehave when their
maximum power is set below the power at which the compressor still runs
stably (aborted hot water, defrost problems). The rule here is therefore
absolute: nothing below the profile's safety floor is ever written.
"""

from __future__ import annotations

import math

from .errors import HeatPumpUnsupportedError
from .models import Capabilities, LimitAction, LimitResult, OperatingMode


def plan_limit(
    requested_max_power_w: float | None, capabilities: Capabilities
) -> LimitResult:
    """Decide what to write for a requested limit (``None`` releases it).

    - at or above nominal power: no restriction is needed, the limit is released;
    - below the safety floor: gas-only where the device supports it (the boiler
      heats), otherwise the floor itself;
    - otherwise rounded *down* to the profile's step, never below the floor.
    """
    if requested_max_power_w is None:
        return _released(None)
    if math.isnan(requested_max_power_w) or requested_max_power_w < 0:
        raise ValueError(
            f"a power limit must be a number >= 0 W, got {requested_max_power_w}"
        )
    if requested_max_power_w >= capabilities.nominal_electric_w:
        return _released(requested_max_power_w)
    if requested_max_power_w < capabilities.safety_floor_w or (
        not capabilities.supports_power_limit
    ):
        if capabilities.supports_gas_only:
            return LimitResult(
                requested_max_power_w=requested_max_power_w,
                max_power_w=0,
                action=LimitAction.GAS_ONLY,
                mode=OperatingMode.GAS_ONLY,
            )
        if not capabilities.supports_power_limit:
            raise HeatPumpUnsupportedError(
                "this heat pump's profile can neither limit electric power nor "
                "switch to gas-only"
            )
        return LimitResult(
            requested_max_power_w=requested_max_power_w,
            max_power_w=capabilities.safety_floor_w,
            action=LimitAction.FLOOR_APPLIED,
            mode=OperatingMode.NORMAL,
        )
    step = capabilities.limit_step_w
    applied = max(
        int(requested_max_power_w // step) * step,
        _round_up(capabilities.safety_floor_w, step),
    )
    if applied > requested_max_power_w:
        # The floor is not on the step grid and the request lies between the
        # floor and the next step: the floor itself is the safe choice.
        applied = capabilities.safety_floor_w
    return LimitResult(
        requested_max_power_w=requested_max_power_w,
        max_power_w=applied,
        action=LimitAction.APPLIED
        if applied == requested_max_power_w
        else LimitAction.ROUNDED,
        mode=OperatingMode.NORMAL,
    )


def _round_up(value: int, step: int) -> int:
    return -(-value // step) * step


def _released(requested_max_power_w: float | None) -> LimitResult:
    return LimitResult(
        requested_max_power_w=requested_max_power_w,
        max_power_w=None,
        action=LimitAction.RELEASED,
        mode=OperatingMode.NORMAL,
    )
