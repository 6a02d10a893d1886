"""Real heat pump models, for a street that does not run one generic unit.

Each entry is a model from hplib 1.9's ``hplib_database.csv`` (RE-Lab,
Hochschule Emden/Leer; database CC BY 4.0, fitted to Heat Pump Keymark test
reports; Tjaden, Hoops, Rösken, doi:10.5281/zenodo.5521597): its reference
electric power ``P_el_h_ref`` at A-7/W52 and its own fitted COP line. All are
outdoor air/water inverter units ("regulated", group 1) with 3-7.5 kW of heat
at A-7/W52, the range fitted as the heat pump of Dutch hybrids. The full-speed
draw keeps the generic on/off shape (see ``heat_pump_model``), scaled by the
model's own reference power. ``tests/sim/test_catalogue.py`` checks every
constant against hplib itself.
"""

from __future__ import annotations

from dataclasses import dataclass

from .heat_pump_model import DEFAULT_MIN_MODULATION, HeatPumpSpec, HplibFit


@dataclass(frozen=True)
class CatalogueModel:
    """One model of hplib's database."""

    manufacturer: str
    model: str
    reference_electric_w: float  # hplib P_el_h_ref, A-7/W52
    reference_thermal_w: float  # hplib P_th_h_ref, A-7/W52
    cop_fit: HplibFit


CATALOGUE: tuple[CatalogueModel, ...] = (
    CatalogueModel(
        "DAIKIN Europe",
        "ERLA03DV / EHFH03S18D3V + cooling kit",
        1448.0,
        3200.0,
        HplibFit(
            -53.68789990639503,
            -0.1042621262718128,
            7.798439743158489,
            53.83699151723636,
        ),
    ),
    CatalogueModel(
        "Vaillant Deutschland",
        "VWL 35/5 AS 230V + VWL 57/5 IS",
        1490.0,
        3100.0,
        HplibFit(
            212.83920660062685,
            -0.1157421007460903,
            8.236907687285871,
            -212.7051421130472,
        ),
    ),
    CatalogueModel(
        "Bosch Thermotechnik",
        "Bosch Compress 3000 AWS-4 B",
        1733.0,
        3500.0,
        HplibFit(
            -0.5236530758234046,
            -0.054739425586819,
            5.482940390943112,
            0.6468608939450672,
        ),
    ),
    CatalogueModel(
        "Panasonic Marketing Europe",
        "WH-MDC05J3E5 + DGC200",
        1957.0,
        4500.0,
        HplibFit(
            137.35771873736357,
            -0.106099526690075,
            8.213026403692002,
            -137.17332023690994,
        ),
    ),
    CatalogueModel(
        "Samsung Electronics Air Conditioner Europe",
        "AE040RXEDEG/EU & AE090RNYDEG/EU",
        2105.0,
        4420.0,
        HplibFit(
            88.44378299486527,
            -0.0815824599597232,
            6.783435277520705,
            -88.35243670481643,
        ),
    ),
    CatalogueModel(
        "Groupe Atlantic",
        "Alféa Extensa A.I. 5 R32",
        2111.0,
        4200.0,
        HplibFit(
            -53.691313213481806,
            -0.0941465315327846,
            7.213339016104411,
            53.831441126712605,
        ),
    ),
    CatalogueModel(
        "Mitsubishi",
        "PUZ-WM50VHA(-BS)",
        2157.0,
        4400.0,
        HplibFit(
            -87.99511737582793,
            -0.115507904497622,
            8.325693399218398,
            88.15580038042252,
        ),
    ),
    CatalogueModel(
        "Vaillant Deutschland",
        "VWL 55/5 AS 230V + VWL 57/5 IS",
        2165.0,
        4330.0,
        HplibFit(
            -111.33868920200878,
            -0.0845241541748168,
            6.976657587265189,
            111.52764918008477,
        ),
    ),
    CatalogueModel(
        "LG Electronics Inc.",
        "HU071MR U44 / HN0916T NB1",
        2513.0,
        4900.0,
        HplibFit(
            105.39050257059588,
            -0.1077596128322005,
            7.687721511613745,
            -105.25649827710257,
        ),
    ),
    CatalogueModel(
        "DAIKIN Europe",
        "ERGA04EV7 / EHVX04S23E6V(G)",
        2690.0,
        5300.0,
        HplibFit(
            125.09912128083285,
            -0.1200828144174192,
            8.428052542257635,
            -124.9763229426954,
        ),
    ),
    CatalogueModel(
        "Vaillant Deutschland",
        "VWL 75/5 AS 230V + VWL 77/5 IS",
        2810.0,
        5620.0,
        HplibFit(
            212.85667501023863,
            -0.0738045913035274,
            6.481288028131185,
            -212.67896234240013,
        ),
    ),
    CatalogueModel(
        "Mitsubishi",
        "PUZ-WM85VAA(-BS)",
        3623.0,
        7500.0,
        HplibFit(
            -133.62748730693988,
            -0.1108055985170458,
            8.316727192299412,
            133.81990591562754,
        ),
    ),
)


def catalogue_heat_pump(
    entry: CatalogueModel,
    *,
    min_modulation: float = DEFAULT_MIN_MODULATION,
    min_run_s: float = 0.0,
    min_off_s: float = 0.0,
    startup_ramp_s: float = 0.0,
) -> HeatPumpSpec:
    """A catalogue model as the simulator's heat pump."""
    return HeatPumpSpec(
        nominal_electric_w=entry.reference_electric_w,
        min_electric_w=min_modulation * entry.reference_electric_w,
        cop_fit=entry.cop_fit,
        min_run_s=min_run_s,
        min_off_s=min_off_s,
        startup_ramp_s=startup_ramp_s,
        model=f"{entry.manufacturer} {entry.model}",
    )
