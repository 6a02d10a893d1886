"""S2 messages <-> the device layer's values: pure functions, no I/O.

``docs/s2.md`` maps these field by field. Power is electric power in watts;
an S2 heat pump reports it as ELECTRIC.POWER.L1/L2/L3 (summed) or
ELECTRIC.POWER.3_PHASE_SYMMETRIC (the total).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
import math
import uuid

from s2python.common import CommodityQuantity, Duration, PowerMeasurement
from s2python.ddbc import DDBCInstruction, DDBCOperationMode, DDBCSystemDescription
from s2python.generated.gen_s2 import ID
from s2python.pebc import (
    PEBCInstruction,
    PEBCPowerConstraints,
    PEBCPowerEnvelope,
    PEBCPowerEnvelopeElement,
    PEBCPowerEnvelopeLimitType,
)

from dacs.devices.models import Capabilities, LimitAction, LimitResult, Measurements

from .errors import S2InvalidMessageError, S2UnsupportedError

ELECTRIC = frozenset(
    {
        CommodityQuantity.ELECTRIC_POWER_L1,
        CommodityQuantity.ELECTRIC_POWER_L2,
        CommodityQuantity.ELECTRIC_POWER_L3,
        CommodityQuantity.ELECTRIC_POWER_3_PHASE_SYMMETRIC,
    }
)
# S2 carries no step; the device takes any value in its allowed ranges.
S2_LIMIT_STEP_W = 1
_BOILER_MAX_ELECTRIC_W = 50.0  # a mode drawing at most this is "the boiler heats"


@dataclass(frozen=True, kw_only=True)
class PebcLimits:
    """What a PEBC.PowerConstraints allows for the electric upper limit."""

    constraints_id: uuid.UUID
    commodity: CommodityQuantity
    upper_ranges: tuple[tuple[float, float], ...]
    lower_limit_w: float  # the lowest lower limit allowed (no forced consumption)
    valid_until: datetime | None

    @property
    def nominal_w(self) -> float:
        """The highest upper limit the device accepts: its full power."""
        return max(end for _, end in self.upper_ranges)

    @property
    def floor_w(self) -> float:
        """The lowest non-zero upper limit the device accepts (its stable minimum)."""
        return min(start for start, end in self.upper_ranges if end > 0)

    @property
    def accepts_zero(self) -> bool:
        """True when an upper limit of 0 W (compressor off) is allowed."""
        return any(start <= 0 <= end for start, end in self.upper_ranges)


@dataclass(frozen=True, kw_only=True)
class DdbcModes:
    """A DDBC actuator's two operation modes that matter: heat pump and boiler."""

    actuator_id: uuid.UUID
    heat_pump_mode_id: uuid.UUID
    heat_pump_range_w: tuple[float, float]
    boiler_mode_id: uuid.UUID | None


def new_id() -> ID:
    """A fresh S2 object id (the schema's ID: a UUID as text)."""
    return ID(str(uuid.uuid4()))


def pebc_limits(constraints: PEBCPowerConstraints) -> PebcLimits:
    """Read the electric upper and lower limit ranges; refuses constraints without them."""
    upper: dict[CommodityQuantity, list[tuple[float, float]]] = {}
    lower: dict[CommodityQuantity, list[float]] = {}
    for allowed in constraints.allowed_limit_ranges:
        if (
            allowed.commodity_quantity not in ELECTRIC
            or allowed.abnormal_condition_only
        ):
            continue
        boundary = allowed.range_boundary
        if allowed.limit_type is PEBCPowerEnvelopeLimitType.UPPER_LIMIT:
            upper.setdefault(allowed.commodity_quantity, []).append(
                (boundary.start_of_range, boundary.end_of_range)
            )
        else:
            lower.setdefault(allowed.commodity_quantity, []).append(
                boundary.start_of_range
            )
    commodity = next((c for c in upper if c in lower), None)
    if commodity is None:
        raise S2InvalidMessageError(
            "PEBC.PowerConstraints has no electric upper and lower limit ranges "
            "for normal operation"
        )
    ranges = tuple(sorted(upper[commodity]))
    if any(not (math.isfinite(a) and math.isfinite(b)) for a, b in ranges) or (
        max(end for _, end in ranges) <= 0
    ):
        raise S2InvalidMessageError(
            "PEBC.PowerConstraints: the upper limit ranges allow no positive power"
        )
    return PebcLimits(
        constraints_id=constraints.id,
        commodity=commodity,
        upper_ranges=ranges,
        lower_limit_w=max(0.0, min(lower[commodity])),
        valid_until=constraints.valid_until,
    )


def ddbc_modes(system: DDBCSystemDescription) -> DdbcModes:
    """Find the heat pump mode (the most electric power) and a boiler mode (almost none)."""
    for actuator in system.actuators:
        electric = [(mode, _electric_range(mode)) for mode in actuator.operation_modes]
        usable = [(m, r) for m, r in electric if r is not None]
        if not usable:
            continue
        heat_pump, hp_range = max(usable, key=lambda item: item[1][1])
        if hp_range is None or hp_range[1] <= _BOILER_MAX_ELECTRIC_W:
            continue
        boiler = next(
            (
                m
                for m, r in usable
                if m is not heat_pump
                and r is not None
                and r[1] <= _BOILER_MAX_ELECTRIC_W
            ),
            None,
        )
        return DdbcModes(
            actuator_id=actuator.id,
            heat_pump_mode_id=heat_pump.id,
            heat_pump_range_w=hp_range,
            boiler_mode_id=boiler.id if boiler is not None else None,
        )
    raise S2InvalidMessageError(
        "DDBC.SystemDescription has no operation mode that draws electric power"
    )


def _electric_range(mode: DDBCOperationMode) -> tuple[float, float] | None:
    ranges = [r for r in mode.power_ranges if r.commodity_quantity in ELECTRIC]
    if not ranges:
        return None
    return (
        sum(r.start_of_range for r in ranges),
        sum(r.end_of_range for r in ranges),
    )


def pebc_capabilities(limits: PebcLimits) -> Capabilities:
    """The device layer's capabilities from PEBC constraints."""
    nominal = math.floor(limits.nominal_w)
    floor = min(math.ceil(limits.floor_w), nominal)
    return Capabilities(
        nominal_electric_w=nominal,
        safety_floor_w=floor,
        limit_step_w=S2_LIMIT_STEP_W,
        supports_power_limit=True,
        # 0 W next to a higher floor: the compressor may stop (a hybrid's boiler heats).
        supports_gas_only=limits.accepts_zero and floor > 0,
        supports_sg_ready=False,
        supports_room_setpoint=False,
        boiler_present=limits.accepts_zero and floor > 0,
        # Every instruction carries its duration and the device drops it on a
        # lost connection: the S2 equivalent of a watchdog.
        native_watchdog=True,
        watchdog_s=None,
    )


def ddbc_capabilities(modes: DdbcModes) -> Capabilities:
    """The device layer's capabilities from DDBC operation modes."""
    start, end = modes.heat_pump_range_w
    nominal = math.floor(end)
    return Capabilities(
        nominal_electric_w=nominal,
        safety_floor_w=min(math.ceil(max(start, 0.0)), nominal),
        limit_step_w=S2_LIMIT_STEP_W,
        supports_power_limit=end > start,
        supports_gas_only=modes.boiler_mode_id is not None,
        supports_sg_ready=False,
        supports_room_setpoint=False,
        boiler_present=modes.boiler_mode_id is not None,
        native_watchdog=True,
        watchdog_s=None,
    )


def pebc_instruction(
    plan: LimitResult, limits: PebcLimits, *, now: datetime, duration_s: float
) -> PEBCInstruction:
    """One power envelope: at most the planned power, for ``duration_s`` from now."""
    if plan.max_power_w is None:
        raise ValueError("a released limit is revoked, not instructed")
    upper = float(plan.max_power_w)
    return PEBCInstruction(
        message_id=uuid.uuid4(),
        id=uuid.uuid4(),
        execution_time=now,
        abnormal_condition=False,
        power_constraints_id=limits.constraints_id,
        power_envelopes=[
            PEBCPowerEnvelope(
                id=new_id(),
                commodity_quantity=limits.commodity,
                power_envelope_elements=[
                    PEBCPowerEnvelopeElement(
                        duration=Duration(max(1000, round(duration_s * 1000))),
                        upper_limit=upper,
                        lower_limit=min(limits.lower_limit_w, upper),
                    )
                ],
            )
        ],
    )


def ddbc_instruction(
    plan: LimitResult, modes: DdbcModes, *, now: datetime
) -> DDBCInstruction:
    """The boiler mode for gas-only; else the heat pump mode at the planned power."""
    if plan.action is LimitAction.GAS_ONLY:
        if modes.boiler_mode_id is None:
            raise S2UnsupportedError("this S2 device offers no boiler operation mode")
        mode_id, factor = modes.boiler_mode_id, 0.0
    elif plan.max_power_w is None:
        raise ValueError("a released limit is revoked, not instructed")
    else:
        start, end = modes.heat_pump_range_w
        span = end - start
        factor = 1.0 if span <= 0 else (plan.max_power_w - start) / span
        mode_id, factor = modes.heat_pump_mode_id, min(1.0, max(0.0, factor))
    return DDBCInstruction(
        message_id=uuid.uuid4(),
        id=new_id(),
        execution_time=now,
        abnormal_condition=False,
        actuator_id=modes.actuator_id,
        operation_mode_id=mode_id,
        operation_mode_factor=factor,
    )


def electric_power_w(values: Sequence[tuple[CommodityQuantity, float]]) -> float | None:
    """Total electric power from S2 power values (the phases summed)."""
    electric = [value for quantity, value in values if quantity in ELECTRIC]
    return sum(electric) if electric else None


def measurements(
    measurement: PowerMeasurement | None, limit: LimitResult
) -> Measurements:
    """What an S2 heat pump reports: power values, and the limit it accepted."""
    values = (
        [(v.commodity_quantity, v.value) for v in measurement.values]
        if measurement is not None
        else []
    )
    thermal = [v for q, v in values if q is CommodityQuantity.HEAT_THERMAL_POWER]
    gas = [v for q, v in values if q is CommodityQuantity.NATURAL_GAS_FLOW_RATE]
    return Measurements(
        electric_power_w=electric_power_w(values),
        hp_thermal_w=thermal[0] if thermal else None,
        boiler_thermal_w=None,
        boiler_active=(gas[0] > 0) if gas else None,
        flow_temp_c=None,
        return_temp_c=None,
        outdoor_temp_c=None,
        indoor_temp_c=None,
        operating_state=None,
        fault_code=None,
        limit_in_force_w=None
        if limit.max_power_w is None
        else float(limit.max_power_w),
        limit_source=None,
        mode=limit.mode,
        electric_energy_kwh=None,
        hp_heat_energy_kwh=None,
        boiler_heat_energy_kwh=None,
    )
