"""A street of realistic homes: people, hot water, setback, noise, real heat pumps.

Builds on :func:`~dacs.testbed.sim.hybrid.make_neighbourhood_configs` (the same
dwellings, insulation, setpoints, boilers and switch-over temperatures for
the same seed) and adds, per home, a :class:`~dacs.testbed.sim.occupants.Household`
and a heat pump model from :mod:`~dacs.testbed.sim.catalogue` with compressor
timers and start-up losses. Every distribution below is documented with its
source in ``docs/simulator.md``; the same seed gives the same street.
"""

from __future__ import annotations

from dataclasses import replace
import random

from .catalogue import CATALOGUE, CatalogueModel, catalogue_heat_pump
from .home_config import HybridHomeConfig
from .hybrid import make_neighbourhood_configs
from .occupants import Household

# People per household. Apartments: the Dutch mix of all households (CBS,
# "Huishoudens; samenstelling, grootte", about 39 % single, 33 % two, 12 %
# three, 11 % four, 5 % five or more; figures from memory, not verified
# offline). Houses with a hybrid heat pump (owner-occupied single-family
# homes) have fewer singles: estimate.
_OCCUPANTS_APARTMENT = {1: 0.39, 2: 0.33, 3: 0.12, 4: 0.11, 5: 0.05}
_OCCUPANTS_HOUSE = {1: 0.20, 2: 0.38, 3: 0.15, 4: 0.19, 5: 0.08}
# Electricity per household by size (kWh/yr, without heat pump); Milieu
# Centraal's "gemiddeld energieverbruik" order of magnitude (from memory,
# not verified offline), spread +-20 % per home.
_ELECTRICITY_KWH = {1: 1_800.0, 2: 2_800.0, 3: 3_400.0, 4: 3_900.0, 5: 4_300.0}
AWAY_WEEKDAYS_SHARE = 0.55  # households out on working days: estimate
SETBACK_SHARE = 0.35  # homes with a night setback: estimate
SETBACK_K = (1.5, 2.0, 3.0)
# Hot water per person and day, litres heated by 50 K (1.5 kWh of heat):
# calibrated so the street's hot water takes about 200 m³ of gas a year, the
# middle of the usual Dutch range (docs/simulator.md, validation).
HOT_WATER_L = 26.0
THERMOSTAT_OFFSET_SD_K = 0.3  # calibration spread: estimate
COARSE_THERMOSTAT_SHARE = 0.2  # old thermostats reading in 0.5 K steps
METER_GAIN_SD = 0.02  # heat pump power sensor, relative: estimate
METER_NOISE_W = 15.0  # per reading: estimate
MIN_RUN_S = (300.0, 600.0)  # compressor minimum run time: estimate
MIN_OFF_S = (300.0, 600.0, 900.0)  # anti-short-cycle timer: estimate
# Heat output builds up over two minutes after a start; with 10-minute cycles
# this loses about 10 % of the cycling output, in line with EN 14825's default
# degradation coefficient Cd = 0.9.
STARTUP_RAMP_S = 120.0
_SMALL_W = 1_750.0  # catalogue bins by reference power, matching the generic sizes
_LARGE_W = 2_200.0
_GENERIC_MEDIUM_W = 1_500.0  # the generic sizes are 1,200 / 1,700 / 2,300 W
_GENERIC_LARGE_W = 2_000.0


def make_realistic_configs(n: int, seed: int) -> list[HybridHomeConfig]:
    """``n`` realistic homes; the same seed gives the same street.

    Raises:
        ValueError: ``n`` is negative.
    """
    base = make_neighbourhood_configs(n, seed)
    rng = random.Random(seed * 7919 + 13)
    homes = []
    for index, config in enumerate(base):
        apartment = _is_apartment(config)
        occupants = _choose(
            rng, _OCCUPANTS_APARTMENT if apartment else _OCCUPANTS_HOUSE
        )
        on_off = config.heat_pump.min_electric_w >= config.heat_pump.nominal_electric_w
        entry = _pick_model(rng, config.heat_pump.nominal_electric_w)
        heat_pump = catalogue_heat_pump(
            entry,
            min_modulation=1.0 if on_off else 0.35,
            min_run_s=rng.choice(MIN_RUN_S),
            min_off_s=rng.choice(MIN_OFF_S),
            startup_ramp_s=STARTUP_RAMP_S,
        )
        household = Household(
            seed=seed * 100_003 + index,
            occupants=occupants,
            away_weekdays=rng.random() < AWAY_WEEKDAYS_SHARE,
            wake_min=rng.uniform(6 * 60, 8 * 60),
            sleep_min=rng.uniform(22 * 60 + 30, 24 * 60),
            setback_k=rng.choice(SETBACK_K) if rng.random() < SETBACK_SHARE else 0.0,
            hot_water_l_per_person=HOT_WATER_L * rng.uniform(0.7, 1.3),
            annual_electricity_kwh=_ELECTRICITY_KWH[occupants] * rng.uniform(0.8, 1.2),
            thermostat_offset_k=max(
                -0.8, min(0.8, rng.gauss(0.0, THERMOSTAT_OFFSET_SD_K))
            ),
            thermostat_resolution_k=0.5
            if rng.random() < COARSE_THERMOSTAT_SHARE
            else 0.1,
            meter_gain_error=max(-0.1, min(0.1, rng.gauss(0.0, METER_GAIN_SD))),
            meter_noise_w=METER_NOISE_W,
        )
        homes.append(replace(config, heat_pump=heat_pump, household=household))
    return homes


def _is_apartment(config: HybridHomeConfig) -> bool:
    # The reference apartment has 75 m² (±15 %); no house type comes that small.
    return config.house.floor_area_m2 <= 75.0 * 1.15 + 1e-9


def _pick_model(rng: random.Random, generic_w: float) -> CatalogueModel:
    """A catalogue model of about the size the generic generator chose."""
    if generic_w < _GENERIC_MEDIUM_W:
        bin_ = [m for m in CATALOGUE if m.reference_electric_w <= _SMALL_W]
    elif generic_w < _GENERIC_LARGE_W:
        bin_ = [m for m in CATALOGUE if _SMALL_W < m.reference_electric_w <= _LARGE_W]
    else:
        bin_ = [m for m in CATALOGUE if m.reference_electric_w > _LARGE_W]
    return rng.choice(bin_)


def _choose(rng: random.Random, weights: dict[int, float]) -> int:
    return rng.choices(list(weights), weights=list(weights.values()))[0]
