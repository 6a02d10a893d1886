"""Performance of an air/water heat pump: COP and electric power.

The model form and its parameters come from *hplib* (heat pump library,
RE-Lab, Hochschule Emden/Leer; code MIT, database CC BY 4.0; Tjaden, Hoops,
Rösken, "RE-Lab-Projects/hplib: heat pump library", Zenodo,
doi:10.5281/zenodo.5521597). hplib fits every Heat Pump Keymark test report
with the linear form of Schwamberger (1991)::

    y = p1 * T_in + p2 * T_out + p3 + p4 * T_amb

where ``T_in`` is the source temperature (outdoor air for air/water units),
``T_out`` the flow (supply) temperature and ``T_amb`` the ambient
temperature, equal to ``T_in`` for air/water units. ``y`` is the COP, or the
electric power as a multiple of the reference power ``P_el_ref`` (at
A-7/W52).

The constants below are hplib 1.9's "Generic" parameter sets, the average
over all fitted units of a group, copied from ``hplib_database.csv``:

* group 1, *Outdoor Air/Water, Regulated* (inverter, modulating);
* group 4, *Outdoor Air/Water, On-Off* (fixed-speed).

hplib's regulated power fit follows the EN 14825 part-load test points (the
unit modulates down as it gets milder), so it describes the load a test
building asks for, not what the compressor can draw. For the full-speed draw
this module uses the on/off group's power fit instead: a fixed-speed
compressor's power rises with the flow temperature (pressure ratio) and
hardly depends on the source, which is the shape of a compressor at maximum
speed. The Keymark points at +2 °C and -7 °C are measured with defrosting,
so the fits include average defrost losses; there is no separate defrost
model.
"""

from __future__ import annotations

from dataclasses import dataclass
import math

from . import equations
from .checks import require_finite
from .equations import cop_from_fit, full_electric_w


@dataclass(frozen=True)
class HplibFit:
    """Coefficients of hplib's linear performance fit (Schwamberger form)."""

    p1: float
    p2: float
    p3: float
    p4: float

    @property
    def coefficients(self) -> tuple[float, float, float, float]:
        """``(p1, p2, p3, p4)``."""
        return (self.p1, self.p2, self.p3, self.p4)

    def evaluate(self, source_c: float, flow_c: float, ambient_c: float) -> float:
        """Evaluate ``p1*source + p2*flow + p3 + p4*ambient`` in hplib's order."""
        return self.p1 * source_c + self.p2 * flow_c + self.p3 + self.p4 * ambient_c


# hplib 1.9, hplib_database.csv, Model "Generic", Group 1 (Outdoor Air/Water,
# Regulated): columns p1_COP..p4_COP and p1_P_el_h..p4_P_el_h.
GENERIC_REGULATED_COP = HplibFit(
    46.37462900126993, -0.08756667775339223, 7.0454352113504, -46.22057938564581
)
GENERIC_REGULATED_ELECTRIC = HplibFit(
    65.24998301955087, 0.011364929455468386, 0.04700671542496862, -65.29932853643015
)
# hplib 1.9, hplib_database.csv, Model "Generic", Group 4 (Outdoor Air/Water,
# On-Off): columns p1_COP..p4_COP and p1_P_el_h..p4_P_el_h.
GENERIC_ON_OFF_COP = HplibFit(
    60.04852969530065, -0.060318340924377864, 5.696027224871861, -59.95319662642105
)
GENERIC_ON_OFF_ELECTRIC = HplibFit(
    33.078415116263116, 0.01257697942928958, 0.3622942949769998, -33.07506855610028
)

# hplib replaces the compressor by a heating rod (COP 1) where the linear
# fit drops to 1 or below, e.g. the regulated fit at A-10/W55 gives 0.69.
MIN_COP = equations.MIN_COP
# Default minimum stable modulation of an inverter unit, as a share of the
# nominal power. Estimated; hplib itself floors regulated units at 25 %.
DEFAULT_MIN_MODULATION = 0.35


@dataclass(frozen=True, kw_only=True)
class HeatPumpSpec:
    """What a heat pump can do.

    Attributes:
        nominal_electric_w: hplib's reference power ``P_el_ref``: the scale
            of ``electric_fit``, which is about the full-speed draw at
            A-7/W52.
        min_electric_w: Lowest power at which the compressor runs stably. A
            limit below it switches the compressor off.
        cop_fit: COP as a function of outdoor and flow temperature.
        electric_fit: Full-speed electric power as a multiple of
            ``nominal_electric_w``.
        min_run_s: Minimum run time once started (0: the *averaged*
            compressor, which cycles within a step without a state).
        min_off_s: Minimum off time before a restart (anti-short-cycle).
        startup_ramp_s: Time the heat output takes to build up after a start;
            the heat missing meanwhile is the start-up loss.
        model: Manufacturer and model, or "generic".
    """

    nominal_electric_w: float
    min_electric_w: float
    cop_fit: HplibFit = GENERIC_REGULATED_COP
    electric_fit: HplibFit = GENERIC_ON_OFF_ELECTRIC
    min_run_s: float = 0.0
    min_off_s: float = 0.0
    startup_ramp_s: float = 0.0
    model: str = "generic"

    def __post_init__(self) -> None:
        """Reject specs a compressor cannot have."""
        if not (math.isfinite(self.nominal_electric_w) and self.nominal_electric_w > 0):
            raise ValueError(
                f"nominal_electric_w must be > 0, got {self.nominal_electric_w}"
            )
        if not (
            math.isfinite(self.min_electric_w)
            and 0 < self.min_electric_w <= self.nominal_electric_w
        ):
            raise ValueError(
                "min_electric_w must be > 0 and <= nominal_electric_w"
                f" ({self.nominal_electric_w}), got {self.min_electric_w}"
            )
        for name in ("min_run_s", "min_off_s", "startup_ramp_s"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be finite and >= 0, got {value}")


@dataclass(frozen=True)
class HeatPumpOutput:
    """Mean electric input and heat output over a step; ``cop`` is 0 when off."""

    electric_w: float
    thermal_w: float
    cop: float


HEAT_PUMP_OFF = HeatPumpOutput(0.0, 0.0, 0.0)


def modulating_heat_pump(
    nominal_electric_w: float, *, min_modulation: float = DEFAULT_MIN_MODULATION
) -> HeatPumpSpec:
    """An inverter air/water unit with hplib's generic regulated COP."""
    return HeatPumpSpec(
        nominal_electric_w=nominal_electric_w,
        min_electric_w=min_modulation * nominal_electric_w,
    )


def on_off_heat_pump(nominal_electric_w: float) -> HeatPumpSpec:
    """A fixed-speed air/water unit: it runs at full power or not at all."""
    return HeatPumpSpec(
        nominal_electric_w=nominal_electric_w,
        min_electric_w=nominal_electric_w,
        cop_fit=GENERIC_ON_OFF_COP,
        electric_fit=GENERIC_ON_OFF_ELECTRIC,
    )


def cop(spec: HeatPumpSpec, outdoor_temp_c: float, flow_temp_c: float) -> float:
    """Coefficient of performance at these conditions (at least 1).

    Raises:
        ValueError: a temperature is not finite.
    """
    require_finite(outdoor_temp_c=outdoor_temp_c, flow_temp_c=flow_temp_c)
    return cop_from_fit(
        spec.cop_fit.coefficients, float(outdoor_temp_c), float(flow_temp_c)
    )


def max_electric_w(
    spec: HeatPumpSpec, outdoor_temp_c: float, flow_temp_c: float
) -> float:
    """Electric power the compressor draws at full speed at these conditions.

    Raises:
        ValueError: a temperature is not finite.
    """
    require_finite(outdoor_temp_c=outdoor_temp_c, flow_temp_c=flow_temp_c)
    return full_electric_w(
        spec.nominal_electric_w,
        spec.electric_fit.coefficients,
        float(outdoor_temp_c),
        float(flow_temp_c),
    )


def operate(
    spec: HeatPumpSpec,
    *,
    heat_demand_w: float,
    outdoor_temp_c: float,
    flow_temp_c: float,
    electric_limit_w: float | None,
    allowed: bool,
) -> HeatPumpOutput:
    """Run the heat pump for a step to meet as much of the demand as it may.

    The compressor modulates to the power that meets the demand, capped by
    its full-speed power and by ``electric_limit_w``. Below its minimum
    stable power it cycles at that minimum, so the step's mean output still
    equals the demand. A limit below ``spec.min_electric_w`` leaves no
    stable operating point: the compressor is off. The draw never exceeds
    the limit, not even during an on-cycle.

    Args:
        spec: The heat pump.
        heat_demand_w: Heat wanted (W, >= 0).
        outdoor_temp_c: Source (outdoor air) temperature.
        flow_temp_c: Flow temperature the heating curve asks for.
        electric_limit_w: Cap on the electric power (W), None for no cap.
        allowed: False keeps the compressor off (gas-only, switch-over, off).

    Raises:
        ValueError: a negative or non-finite demand or limit, or a
            non-finite temperature.
    """
    require_finite(
        heat_demand_w=heat_demand_w,
        outdoor_temp_c=outdoor_temp_c,
        flow_temp_c=flow_temp_c,
    )
    if heat_demand_w < 0:
        raise ValueError(f"heat_demand_w must be >= 0, got {heat_demand_w}")
    if electric_limit_w is not None:
        require_finite(electric_limit_w=electric_limit_w)
        if electric_limit_w < 0:
            raise ValueError(f"electric_limit_w must be >= 0, got {electric_limit_w}")
    if not allowed or heat_demand_w == 0:
        return HEAT_PUMP_OFF
    if electric_limit_w is not None and electric_limit_w < spec.min_electric_w:
        return HEAT_PUMP_OFF
    performance = cop(spec, outdoor_temp_c, flow_temp_c)
    cap = max_electric_w(spec, outdoor_temp_c, flow_temp_c)
    if electric_limit_w is not None:
        cap = min(cap, electric_limit_w)
    electric = min(heat_demand_w / performance, cap)
    if electric <= 0:
        return HEAT_PUMP_OFF
    return HeatPumpOutput(electric, electric * performance, performance)
