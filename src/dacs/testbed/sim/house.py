"""Thermal model of a dwelling: indoor air and building mass (2R2C-style).

Two heat capacities, each with one temperature:

* the *air* node (indoor air plus furniture and light finishes) receives the
  heating system's heat and the internal gains;
* the *mass* node (floors, inner walls, the inner leaf of the facade)
  receives the solar gains that fall on it through the windows.

Three conductances connect them to each other and to outdoors::

    C_a dT_a/dt = H_ao (T_o - T_a) + H_am (T_m - T_a) + Q_heat + Q_int
    C_m dT_m/dt = H_am (T_a - T_m) + H_mo (T_o - T_m) + A_sol * I_glob

``H_ao`` carries ventilation, infiltration and the windows (no storage),
``H_mo`` the opaque envelope, ``H_am`` the convective and radiative exchange
at the interior surfaces.

The linear system is stepped exactly for inputs held constant over a step
(zero-order hold): ``x(t + dt) = Phi x(t) + Gamma u`` with
``Phi = exp(A dt)`` and ``Gamma = A^-1 (Phi - I) B``. The scheme is stable and
exact for any ``dt``; a 1-hour step is as accurate as sixty 1-minute steps
when the inputs do not change.

Parameter values per dwelling type and insulation level are in
:func:`house_parameters` and explained in ``docs/simulator.md``.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from enum import StrEnum
from functools import lru_cache
import math

from .checks import require_finite


class DwellingType(StrEnum):
    """Dutch dwelling types as used in RVO's reference dwellings."""

    APARTMENT = "apartment"
    TERRACED = "terraced"
    SEMI_DETACHED = "semi_detached"
    DETACHED = "detached"


class InsulationLevel(StrEnum):
    """Thermal quality of the envelope, by construction period or energy label.

    * ``POOR``: built before 1975 and hardly improved; energy label E to G.
    * ``AVERAGE``: built 1975 to 1991, or older and partly insulated; C to D.
    * ``GOOD``: built from 1992 on, or thoroughly renovated; A to B.
    """

    POOR = "poor"
    AVERAGE = "average"
    GOOD = "good"


@dataclass(frozen=True, kw_only=True)
class HouseParameters:
    """Lumped thermal parameters of one dwelling.

    Attributes:
        floor_area_m2: Usable floor area (gebruiksoppervlakte).
        air_heat_capacity_j_per_k: Heat capacity of the air node.
        mass_heat_capacity_j_per_k: Heat capacity of the mass node.
        air_to_outdoor_w_per_k: Ventilation, infiltration and windows.
        air_to_mass_w_per_k: Exchange at the interior surfaces.
        mass_to_outdoor_w_per_k: Opaque envelope (walls, roof, ground floor).
        solar_aperture_m2: Effective aperture for global horizontal radiation.
        internal_gains_w: Mean heat from occupants and appliances.
    """

    floor_area_m2: float
    air_heat_capacity_j_per_k: float
    mass_heat_capacity_j_per_k: float
    air_to_outdoor_w_per_k: float
    air_to_mass_w_per_k: float
    mass_to_outdoor_w_per_k: float
    solar_aperture_m2: float
    internal_gains_w: float

    def __post_init__(self) -> None:
        """Reject parameters that make no physical sense."""
        for item in fields(self):
            value = getattr(self, item.name)
            if not math.isfinite(value):
                raise ValueError(f"{item.name} must be finite, got {value}")
            # A house may lack sun or internal gains, but not area, mass or losses.
            may_be_zero = item.name in {"solar_aperture_m2", "internal_gains_w"}
            if value < 0 or (value == 0 and not may_be_zero):
                bound = ">= 0" if may_be_zero else "> 0"
                raise ValueError(f"{item.name} must be {bound}, got {value}")

    @property
    def total_conductance_w_per_k(self) -> float:
        """Steady-state heat loss coefficient from indoor air to outdoors."""
        series = (
            self.air_to_mass_w_per_k
            * self.mass_to_outdoor_w_per_k
            / (self.air_to_mass_w_per_k + self.mass_to_outdoor_w_per_k)
        )
        return self.air_to_outdoor_w_per_k + series

    @property
    def time_constants_s(self) -> tuple[float, float]:
        """The fast (air) and slow (mass) time constants of the free house."""
        fast, slow = _eigenvalues(self)
        return -1.0 / fast, -1.0 / slow

    def design_heat_loss_w(
        self, indoor_c: float = 20.0, outdoor_c: float = -10.0
    ) -> float:
        """Steady heat loss at the Dutch design condition (20 °C in, -10 °C out)."""
        return self.total_conductance_w_per_k * (indoor_c - outdoor_c)


@dataclass(frozen=True)
class HouseState:
    """Temperatures of the two nodes."""

    indoor_temp_c: float
    mass_temp_c: float


@dataclass(frozen=True)
class HouseStepCoefficients:
    """Exact one-step update for a fixed step length.

    ``T_a' = phi_aa T_a + phi_am T_m + outdoor_a T_o + air_a P_air + mass_a P_mass``
    and likewise for ``T_m'``, with ``P_air`` the heat into the air node
    (heating plus internal gains) and ``P_mass`` the heat into the mass node
    (solar gains).
    """

    phi_aa: float
    phi_am: float
    phi_ma: float
    phi_mm: float
    outdoor_a: float
    outdoor_m: float
    air_a: float
    air_m: float
    mass_a: float
    mass_m: float


# Reference dwellings. Floor areas are estimates in the range of RVO's
# "Voorbeeldwoningen 2022" for each type; specific design heat losses (W per m²
# floor at 20 °C inside, -10 °C outside) are estimates bracketed by installers'
# rules of thumb and by typical Dutch gas use (docs/simulator.md).
_FLOOR_AREA_M2: dict[DwellingType, float] = {
    DwellingType.APARTMENT: 75.0,
    DwellingType.TERRACED: 110.0,
    DwellingType.SEMI_DETACHED: 130.0,
    DwellingType.DETACHED: 160.0,
}
_DESIGN_LOSS_W_PER_M2: dict[InsulationLevel, dict[DwellingType, float]] = {
    InsulationLevel.POOR: {
        DwellingType.APARTMENT: 45.0,
        DwellingType.TERRACED: 55.0,
        DwellingType.SEMI_DETACHED: 62.0,
        DwellingType.DETACHED: 70.0,
    },
    InsulationLevel.AVERAGE: {
        DwellingType.APARTMENT: 32.0,
        DwellingType.TERRACED: 40.0,
        DwellingType.SEMI_DETACHED: 45.0,
        DwellingType.DETACHED: 50.0,
    },
    InsulationLevel.GOOD: {
        DwellingType.APARTMENT: 22.0,
        DwellingType.TERRACED: 27.0,
        DwellingType.SEMI_DETACHED: 30.0,
        DwellingType.DETACHED: 35.0,
    },
}
# Share of the total loss that bypasses the mass (ventilation, infiltration,
# glazing). It grows as walls and roofs get insulated first. Estimated.
_AIR_PATH_SHARE: dict[InsulationLevel, float] = {
    InsulationLevel.POOR: 0.40,
    InsulationLevel.AVERAGE: 0.45,
    InsulationLevel.GOOD: 0.55,
}
# ISO 13790:2008 table 12 mass classes: (C_m per m² floor, A_m / A_f).
# Pre-1975 stock includes timber-floored pre-war houses: "medium"; later
# stock has concrete floors and sand-lime or brick inner leaves: "heavy".
_MASS_CLASS: dict[InsulationLevel, tuple[float, float]] = {
    InsulationLevel.POOR: (165_000.0, 2.5),
    InsulationLevel.AVERAGE: (260_000.0, 3.0),
    InsulationLevel.GOOD: (260_000.0, 3.0),
}
_SURFACE_COEFFICIENT_W_PER_M2K = 9.1  # ISO 13790 h_ms, mass surface to air node
_STOREY_HEIGHT_M = 2.6
_AIR_VOLUMETRIC_HEAT_J_PER_M3K = 1200.0
# Furniture and light finishes follow the air within minutes; a factor of
# about five on the air's own capacity is a common lumped-model choice.
_AIR_NODE_FURNISHING_FACTOR = 5.0
_SOLAR_APERTURE_PER_M2_FLOOR = 0.04  # ~20 % glazing x g 0.6 x shading/orientation
_INTERNAL_GAINS_W_PER_M2 = 3.5  # occupants + ~2.8 MWh/yr of appliances, as heat


def house_parameters(
    dwelling: DwellingType,
    insulation: InsulationLevel,
    *,
    floor_area_m2: float | None = None,
) -> HouseParameters:
    """Return parameters of a typical Dutch dwelling.

    Design heat loss at -10 °C ranges from about 1.6 kW (well-insulated
    apartment) and 3 kW (well-insulated terraced house) to 11 kW (poorly
    insulated detached house). See ``docs/simulator.md`` for the table and
    the sources; several values are estimates and say so there.

    Args:
        dwelling: Dwelling type.
        insulation: Insulation level.
        floor_area_m2: Override the reference floor area; every extensive
            quantity scales with it.

    Raises:
        ValueError: an unknown dwelling type or insulation level, or
            ``floor_area_m2`` is not positive and finite.
    """
    dwelling = DwellingType(dwelling)
    insulation = InsulationLevel(insulation)
    area = _FLOOR_AREA_M2[dwelling] if floor_area_m2 is None else floor_area_m2
    if not (math.isfinite(area) and area > 0):
        raise ValueError(f"floor_area_m2 must be > 0, got {area}")
    total = _DESIGN_LOSS_W_PER_M2[insulation][dwelling] * area / 30.0
    air_path = _AIR_PATH_SHARE[insulation] * total
    mass_capacity_per_m2, surface_ratio = _MASS_CLASS[insulation]
    air_to_mass = _SURFACE_COEFFICIENT_W_PER_M2K * surface_ratio * area
    # Choose H_mo so that H_am in series with H_mo carries the rest of the loss.
    mass_path = total - air_path
    mass_to_outdoor = mass_path * air_to_mass / (air_to_mass - mass_path)
    return HouseParameters(
        floor_area_m2=area,
        air_heat_capacity_j_per_k=(
            area
            * _STOREY_HEIGHT_M
            * _AIR_VOLUMETRIC_HEAT_J_PER_M3K
            * _AIR_NODE_FURNISHING_FACTOR
        ),
        mass_heat_capacity_j_per_k=mass_capacity_per_m2 * area,
        air_to_outdoor_w_per_k=air_path,
        air_to_mass_w_per_k=air_to_mass,
        mass_to_outdoor_w_per_k=mass_to_outdoor,
        solar_aperture_m2=_SOLAR_APERTURE_PER_M2_FLOOR * area,
        internal_gains_w=_INTERNAL_GAINS_W_PER_M2 * area,
    )


def heat_loss_w(
    params: HouseParameters, state: HouseState, outdoor_temp_c: float
) -> float:
    """Heat flowing from the house to outdoors right now (W)."""
    return params.air_to_outdoor_w_per_k * (
        state.indoor_temp_c - outdoor_temp_c
    ) + params.mass_to_outdoor_w_per_k * (state.mass_temp_c - outdoor_temp_c)


def stored_heat_j(params: HouseParameters, state: HouseState) -> float:
    """Heat stored in both nodes relative to 0 °C (J); differences are meaningful."""
    return (
        params.air_heat_capacity_j_per_k * state.indoor_temp_c
        + params.mass_heat_capacity_j_per_k * state.mass_temp_c
    )


def steady_state_heat_w(
    params: HouseParameters, indoor_c: float, outdoor_c: float
) -> float:
    """Heat the heating system must supply to hold ``indoor_c`` without sun (W).

    Internal gains are subtracted; the result is never negative because the
    model has no cooling.
    """
    needed = params.total_conductance_w_per_k * (indoor_c - outdoor_c)
    return max(0.0, needed - params.internal_gains_w)


def steady_state_house(
    params: HouseParameters, indoor_c: float, outdoor_c: float
) -> HouseState:
    """Return the state with the air at ``indoor_c`` and the mass in equilibrium."""
    require_finite(indoor_c=indoor_c, outdoor_c=outdoor_c)
    h_am = params.air_to_mass_w_per_k
    h_mo = params.mass_to_outdoor_w_per_k
    return HouseState(indoor_c, (h_am * indoor_c + h_mo * outdoor_c) / (h_am + h_mo))


def step_house(
    params: HouseParameters,
    state: HouseState,
    *,
    heat_to_air_w: float,
    outdoor_temp_c: float,
    solar_wm2: float,
    dt_s: float,
) -> HouseState:
    """Advance the house by ``dt_s`` with the inputs held constant.

    Raises:
        ValueError: ``dt_s`` is not positive, an input is not finite, or
            ``solar_wm2`` is negative.
    """
    require_finite(
        heat_to_air_w=heat_to_air_w,
        outdoor_temp_c=outdoor_temp_c,
        solar_wm2=solar_wm2,
        indoor_temp_c=state.indoor_temp_c,
        mass_temp_c=state.mass_temp_c,
    )
    if solar_wm2 < 0:
        raise ValueError(f"solar_wm2 must be >= 0, got {solar_wm2}")
    k = discretise(params, dt_s)
    air_in = heat_to_air_w + params.internal_gains_w
    mass_in = params.solar_aperture_m2 * solar_wm2
    ta = state.indoor_temp_c
    tm = state.mass_temp_c
    return HouseState(
        k.phi_aa * ta
        + k.phi_am * tm
        + k.outdoor_a * outdoor_temp_c
        + k.air_a * air_in
        + k.mass_a * mass_in,
        k.phi_ma * ta
        + k.phi_mm * tm
        + k.outdoor_m * outdoor_temp_c
        + k.air_m * air_in
        + k.mass_m * mass_in,
    )


def discretise(params: HouseParameters, dt_s: float) -> HouseStepCoefficients:
    """Return the exact step coefficients for ``dt_s`` (cached per house and step).

    Raises:
        ValueError: ``dt_s`` is not positive and finite.
    """
    if not (math.isfinite(dt_s) and dt_s > 0):
        raise ValueError(f"dt_s must be a positive number of seconds, got {dt_s}")
    return _discretise(params, float(dt_s))


@lru_cache(maxsize=256)
def _discretise(params: HouseParameters, dt_s: float) -> HouseStepCoefficients:
    c_a = params.air_heat_capacity_j_per_k
    c_m = params.mass_heat_capacity_j_per_k
    h_ao = params.air_to_outdoor_w_per_k
    h_am = params.air_to_mass_w_per_k
    h_mo = params.mass_to_outdoor_w_per_k
    a11, a12 = -(h_ao + h_am) / c_a, h_am / c_a
    a21, a22 = h_am / c_m, -(h_am + h_mo) / c_m
    lam1, lam2 = _eigenvalues(params)
    # exp(A t) for a 2x2 matrix with distinct real eigenvalues (Sylvester):
    # the off-diagonal product a12*a21 > 0 guarantees they are distinct.
    e1 = math.exp(lam1 * dt_s)
    e2 = math.exp(lam2 * dt_s)
    span = lam1 - lam2
    f1 = (e1 - e2) / span
    f0 = (lam1 * e2 - lam2 * e1) / span
    phi11 = f0 + f1 * a11
    phi12 = f1 * a12
    phi21 = f1 * a21
    phi22 = f0 + f1 * a22
    # Gamma = A^-1 (Phi - I) B; A is invertible because H_ao, H_mo > 0.
    det = a11 * a22 - a12 * a21
    m11 = phi11 - 1.0
    m22 = phi22 - 1.0
    g11 = (a22 * m11 - a12 * phi21) / det
    g12 = (a22 * phi12 - a12 * m22) / det
    g21 = (a11 * phi21 - a21 * m11) / det
    g22 = (a11 * m22 - a21 * phi12) / det
    # B columns: outdoor temperature (H_ao/C_a, H_mo/C_m), air heat (1/C_a, 0),
    # mass heat (0, 1/C_m).
    return HouseStepCoefficients(
        phi_aa=phi11,
        phi_am=phi12,
        phi_ma=phi21,
        phi_mm=phi22,
        outdoor_a=g11 * h_ao / c_a + g12 * h_mo / c_m,
        outdoor_m=g21 * h_ao / c_a + g22 * h_mo / c_m,
        air_a=g11 / c_a,
        air_m=g21 / c_a,
        mass_a=g12 / c_m,
        mass_m=g22 / c_m,
    )


def _eigenvalues(params: HouseParameters) -> tuple[float, float]:
    """Eigenvalues of the free system (1/s), the fast one first; both negative."""
    c_a = params.air_heat_capacity_j_per_k
    c_m = params.mass_heat_capacity_j_per_k
    a11 = -(params.air_to_outdoor_w_per_k + params.air_to_mass_w_per_k) / c_a
    a22 = -(params.air_to_mass_w_per_k + params.mass_to_outdoor_w_per_k) / c_m
    coupling = params.air_to_mass_w_per_k**2 / (c_a * c_m)
    mean = (a11 + a22) / 2
    radius = math.sqrt(((a11 - a22) / 2) ** 2 + coupling)
    return mean - radius, mean + radius
