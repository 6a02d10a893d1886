"""The hybrid home's equations, once, for one home (floats) or many (NumPy arrays).

The per-home :class:`~dacs.testbed.sim.hybrid.HybridHome` (behind the Modbus
simulator) calls these with floats; the vectorised
:class:`~dacs.testbed.sim.neighbourhood_model.NeighbourhoodModel` calls them
with arrays over homes (or over steps and homes). Every function uses only
arithmetic, comparisons and the two clipping helpers below, so one body serves
both. Flags (on/off, permitted) are floats 0.0/1.0 for the same reason: a
product of flags works for floats and arrays alike, where ``~`` and ``not``
do not.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast, overload

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]

# hplib replaces the compressor by a heating rod (COP 1) where the linear fit
# drops to 1 or below.
MIN_COP = 1.0
_TINY_S = 1e-9


def at_least[V: (float, FloatArray)](value: V, floor: float | V) -> V:
    """``max(value, floor)`` for floats, elementwise for arrays."""
    if isinstance(value, float) and isinstance(floor, float | int):
        return value if value > floor else float(floor)
    return cast("V", np.maximum(value, floor))


def at_most[V: (float, FloatArray)](value: V, ceiling: float | V) -> V:
    """``min(value, ceiling)`` for floats, elementwise for arrays."""
    if isinstance(value, float) and isinstance(ceiling, float | int):
        return value if value < ceiling else float(ceiling)
    return cast("V", np.minimum(value, ceiling))


@overload
def flag(condition: bool | np.bool_) -> float: ...
@overload
def flag(condition: NDArray[np.bool_]) -> FloatArray: ...
def flag(condition: bool | np.bool_ | NDArray[np.bool_]) -> float | FloatArray:
    """A condition as 1.0/0.0, a float or an array of them."""
    if isinstance(condition, bool | np.bool_):
        return 1.0 if condition else 0.0
    return condition.astype(np.float64)


# -- heating curve and heat pump (hplib's linear fits) --------------------------


def flow_temp_c[V: (float, FloatArray)](
    outdoor_c: V, mild_outdoor_c: V, mild_flow_c: V, slope: V, design_flow_c: V
) -> V:
    """Weather-compensated flow temperature, clipped to the curve's two ends."""
    flow = mild_flow_c + slope * (mild_outdoor_c - outdoor_c)
    return at_most(at_least(flow, mild_flow_c), design_flow_c)


def linear_fit[V: (float, FloatArray)](
    fit: tuple[V, V, V, V], source_c: V, flow_c: V
) -> V:
    """The hplib fit ``p1*T_in + p2*T_out + p3 + p4*T_amb`` with ``T_amb = T_in``."""
    p1, p2, p3, p4 = fit
    return (p1 + p4) * source_c + p2 * flow_c + p3


def cop_from_fit[V: (float, FloatArray)](
    fit: tuple[V, V, V, V], source_c: V, flow_c: V
) -> V:
    """COP, floored at 1 where the fit drops below (hplib's heating rod)."""
    return at_least(linear_fit(fit, source_c, flow_c), MIN_COP)


def full_electric_w[V: (float, FloatArray)](
    nominal_w: V, fit: tuple[V, V, V, V], source_c: V, flow_c: V
) -> V:
    """Full-speed electric draw: the nominal power times the fit's shape (>= 0)."""
    return nominal_w * at_least(linear_fit(fit, source_c, flow_c), 0.0)


# -- thermostat -------------------------------------------------------------------


def feed_forward_w[V: (float, FloatArray)](
    conductance_w_per_k: V, mean_gains_w: V, setpoint_c: V, outdoor_c: V
) -> V:
    """Steady heat that holds the setpoint without sun, less the mean gains (>= 0)."""
    return at_least(conductance_w_per_k * (setpoint_c - outdoor_c) - mean_gains_w, 0.0)


def sensed_temp_c[V: (float, FloatArray)](
    indoor_c: V, offset_k: V, resolution_k: V
) -> V:
    """What the thermostat reads: calibration offset, then its display resolution.

    A resolution of 0 reads the temperature exactly.
    """
    reading = indoor_c + offset_k
    if isinstance(reading, float) and isinstance(resolution_k, float):
        if resolution_k <= 0.0:
            return reading
        return round(reading / resolution_k) * resolution_k
    step = at_least(resolution_k, _TINY_S)
    rounded = np.round(reading / step) * step
    exact = flag(resolution_k <= 0.0)
    return exact * reading + (1.0 - exact) * rounded


def thermostat_demand_w[V: (float, FloatArray)](
    feed_forward: V, setpoint_c: V, sensed_c: V, gain_w_per_k: V, half_band_k: V
) -> V:
    """Feed-forward plus proportional action beyond half the deadband (>= 0)."""
    error = setpoint_c - sensed_c
    beyond = error - at_most(at_least(error, -half_band_k), half_band_k)
    return at_least(feed_forward + gain_w_per_k * beyond, 0.0)


# -- compressor ---------------------------------------------------------------------


def ramp_factor[V: (float, FloatArray)](since_start_s: V, dt_s: float, ramp_s: V) -> V:
    """Mean of ``min(1, t/ramp)`` over ``[since, since + dt]``: heat reaching the water.

    After a start the compressor draws its power at once but the heat output
    builds up over ``ramp_s`` (refrigerant and heat exchanger warming up);
    the missing heat is the start-up loss. ``ramp_s = 0``: no loss.
    """
    if isinstance(ramp_s, float) and ramp_s <= 0.0:
        return 1.0 + 0.0 * since_start_s
    ramp = at_least(ramp_s, _TINY_S)
    end = since_start_s + dt_s

    def integral(t: V) -> V:
        short = ramp - at_most(t, ramp)
        return t - ramp / 2 + short * short / (2 * ramp)

    ramping = flag(ramp_s > 0.0)
    mean = (integral(end) - integral(since_start_s)) / dt_s
    return ramping * mean + (1.0 - ramping)


def compressor_on[V: (float, FloatArray)](
    *,
    on: V,
    since_switch_s: V,
    permitted: V,
    demand_w: V,
    min_heat_w: V,
    error_k: V,
    half_band_k: V,
    min_run_s: V,
    min_off_s: V,
) -> V:
    """Whether the compressor runs in this step (1.0) or not (0.0).

    ``min_run_s = 0`` is the *averaged* compressor: it runs whenever there is
    demand, and below its minimum output it cycles within the step so the
    step's mean meets the demand. ``min_run_s > 0`` is the *explicit*
    compressor with a state: once started it runs at least ``min_run_s`` and
    stops only when the demand is below its minimum output and the room is
    above the deadband; once stopped it stays off ``min_off_s``
    (anti-short-cycle timer) and starts again when the demand reaches its
    minimum output. A limit below the floor, the mode or the switch-over
    (``permitted = 0``) stops it at once: safety beats the run timer.
    """
    explicit = flag(min_run_s > 0.0)
    averaged_on = permitted * flag(demand_w > 0.0)
    low = flag(demand_w < min_heat_w)
    may_stop = flag(since_switch_s >= min_run_s) * low * flag(error_k < -half_band_k)
    keep = on * (1.0 - may_stop)
    start = (
        (1.0 - on)
        * flag(since_switch_s >= min_off_s)
        * at_least(1.0 - low, flag(error_k > half_band_k))
    )
    explicit_on = permitted * at_most(keep + start, 1.0)
    return explicit * explicit_on + (1.0 - explicit) * averaged_on


def heat_pump_heat_w[V: (float, FloatArray)](
    *, running: V, demand_w: V, min_heat_w: V, capacity_w: V, explicit: V
) -> V:
    """Heat the running compressor delivers before start-up losses.

    The averaged compressor meets any demand up to its capacity; the explicit
    one cannot modulate below its minimum output, so a small demand gets the
    minimum (the room overshoots and the compressor then stops).
    """
    floor = explicit * at_most(min_heat_w, capacity_w)
    return running * at_most(at_least(demand_w, floor), capacity_w)


# -- boiler and house ---------------------------------------------------------------


def boiler_space_heat_w[V: (float, FloatArray)](
    *, demand_w: V, permitted: V, capacity_w: V, available_w: V
) -> V:
    """The boiler tops up what the heat pump *could not* deliver, within its power.

    With the heat pump permitted, the boiler covers only the demand beyond
    the heat pump's capacity (a compressor that is merely cycling or waiting
    out its off timer does not call the boiler); otherwise it covers all.
    """
    return at_most(at_least(demand_w - permitted * capacity_w, 0.0), available_w)


def house_step[V: (float, FloatArray)](
    coefficients: tuple[V, V, V, V, V, V],
    *,
    indoor_c: V,
    mass_c: V,
    drive_air: V,
    drive_mass: V,
    heat_w: V,
) -> tuple[V, V]:
    """Exact zero-order-hold step of the two-node house.

    ``coefficients`` are ``(phi_aa, phi_am, phi_ma, phi_mm, air_a, air_m)``;
    ``drive_*`` carry outdoor temperature, internal and solar gains (see
    :func:`house_drive`).
    """
    p_aa, p_am, p_ma, p_mm, q_a, q_m = coefficients
    return (
        p_aa * indoor_c + p_am * mass_c + drive_air + q_a * heat_w,
        p_ma * indoor_c + p_mm * mass_c + drive_mass + q_m * heat_w,
    )


def house_drive[V: (float, FloatArray)](
    coefficients: tuple[V, V, V], outdoor_c: V, gains_w: V, solar_w: V
) -> V:
    """The part of a node's step that does not depend on the state or the heating.

    ``coefficients`` are the node's (outdoor, air heat, mass heat) step gains.
    """
    outdoor_coefficient, air_coefficient, mass_coefficient = coefficients
    return (
        outdoor_coefficient * outdoor_c
        + air_coefficient * gains_w
        + mass_coefficient * solar_w
    )


@dataclass(frozen=True)
class HeatFlows[V: (float, FloatArray)]:
    """What heat pump and boiler do in one step, and the compressor's new state."""

    running: V  # 1.0 while the compressor runs
    started: V  # 1.0 if it started in this step
    since_switch_s: V  # time since the compressor last switched, at the step's end
    electric_w: V
    heat_w: V  # before start-up losses
    hp_heat_w: V  # reaching the house
    boiler_space_w: V


def heat_flows[V: (float, FloatArray)](
    *,
    on: V,
    since_switch_s: V,
    permitted: V,
    demand_w: V,
    cop: V,
    capacity_w: V,
    min_electric_w: V,
    error_k: V,
    half_band_k: V,
    min_run_s: V,
    min_off_s: V,
    ramp_s: V,
    boiler_available_w: V,
    dt_s: float,
) -> HeatFlows[V]:
    """The bivalent rule for one step: compressor first, the boiler tops up."""
    min_heat = min_electric_w * cop
    running = compressor_on(
        on=on,
        since_switch_s=since_switch_s,
        permitted=permitted,
        demand_w=demand_w,
        min_heat_w=min_heat,
        error_k=error_k,
        half_band_k=half_band_k,
        min_run_s=min_run_s,
        min_off_s=min_off_s,
    )
    heat = heat_pump_heat_w(
        running=running,
        demand_w=demand_w,
        min_heat_w=min_heat,
        capacity_w=capacity_w,
        explicit=flag(min_run_s > 0.0),
    )
    since_start = on * running * since_switch_s
    same = flag(running == on)
    return HeatFlows(
        running=running,
        started=running * (1.0 - on),
        since_switch_s=since_switch_s * same + dt_s,
        electric_w=heat / cop,
        heat_w=heat,
        hp_heat_w=heat * ramp_factor(since_start, dt_s, ramp_s),
        boiler_space_w=boiler_space_heat_w(
            demand_w=demand_w,
            permitted=permitted,
            capacity_w=capacity_w,
            available_w=boiler_available_w,
        ),
    )
