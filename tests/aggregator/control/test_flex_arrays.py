"""The column-wise flex-model equals the record-by-record build it replaced, home for home."""

from __future__ import annotations

from dataclasses import fields
from datetime import UTC, datetime, timedelta
import random

import numpy as np
import pytest

from dacs.aggregator.control.fleet import Fleet, HomeView
from dacs.aggregator.control.flex_arrays import (
    DEFAULT_STEP_W,
    SWITCHING_MARGIN_EUR_PER_KWH,
    flex_model_of,
)
from dacs.aggregator.domain.flex_model import FlexModel, HomeFlexModel
from dacs.aggregator.domain.substitution import (
    DEFAULT_COP,
    EnergyPrices,
    substitution_cost_eur_per_kwh,
)
from dacs.protocol import (
    DeviceSummary,
    LimitSource,
    Participation,
    Preferences,
    Telemetry,
)

NOW = datetime(2026, 1, 14, 17, 30, tzinfo=UTC)


def _reference(
    homes: list[HomeView],
    now: datetime,
    rebound_share: float,
    prices: EnergyPrices | None,
) -> FlexModel:
    """The build before the columns: one HomeFlexModel per home (kept as the oracle)."""
    records = []
    for view in homes:
        device = view.device
        baseline = (
            view.rebound_w(rebound_share)
            if view.limited() and view.baseline_w is not None
            else view.baseline_w
        )
        if baseline is None and view.telemetry is not None:
            baseline = view.telemetry.electric_power_w
        substitution = 0.0
        if prices is not None:
            substitution = substitution_cost_eur_per_kwh(
                view.cop or DEFAULT_COP, prices
            )
            if view.limited():
                substitution = max(0.0, substitution - SWITCHING_MARGIN_EUR_PER_KWH)
        records.append(
            HomeFlexModel(
                home_id=view.home_id,
                baseline_w=max(0.0, baseline or 0.0),
                floor_w=device.safety_floor_w if device else 0.0,
                gas_only=bool(device and device.supports_gas_only),
                ask_eur_per_kwh=view.preferences.min_compensation_eur_per_kwh
                if view.preferences
                else 0.0,
                step_w=device.limit_step_w
                if device and device.limit_step_w > 0
                else DEFAULT_STEP_W,
                availability=view.availability(now),
                recent_curtailment_kwh=view.curtailment_kwh,
                substitution_eur_per_kwh=substitution,
            )
        )
    return FlexModel.from_records(records)


def _random_home(rng: random.Random, index: int) -> HomeView:
    """A home in any state the fleet can hold, including half-known ones."""
    view = HomeView(home_id=f"h-{index:05d}", congestion_point_id="cp")
    view.online = rng.random() < 0.9
    view.last_seen = NOW - timedelta(seconds=rng.choice([0, 5, 20, 60, 600]))
    if rng.random() < 0.9:
        view.device = DeviceSummary(
            profile="p",
            manufacturer="m",
            model="x",
            nominal_power_w=rng.choice([0.0, 1500.0, 3000.0]),
            safety_floor_w=rng.choice([0.0, 300.0, 800.0]),
            limit_step_w=rng.choice([0.0, 50.0, 100.0, 250.0]),
            supports_gas_only=rng.random() < 0.5,
            native_watchdog=True,
        )
    if rng.random() < 0.85:
        view.telemetry = Telemetry(
            home_id=view.home_id,
            seq=index,
            boot_id="b",
            ts=NOW - timedelta(seconds=10),
            electric_power_w=rng.choice([None, 0.0, rng.uniform(0, 4000)]),
            limit_source=rng.choice(list(LimitSource)),
            comfort_override=rng.random() < 0.1,
        )
    view.baseline_w = rng.choice([None, rng.uniform(0, 3500)])
    view.cop = rng.choice([None, rng.uniform(1.0, 8.0)])
    if rng.random() < 0.6:
        participation = rng.choice(list(Participation))
        view.preferences = Preferences(
            home_id=view.home_id,
            ts=NOW,
            participation=participation,
            paused_until=NOW + timedelta(hours=rng.choice([-1, 1]))
            if participation is Participation.PAUSED
            else None,
            min_compensation_eur_per_kwh=rng.choice([0.0, 0.1, 0.35]),
            max_curtailment_minutes=rng.choice([30, 120]),
        )
    if rng.random() < 0.3:
        view.curtailed_since = NOW - timedelta(minutes=rng.choice([1, 29, 200]))
    if rng.random() < 0.1:
        view.resting_until = NOW + timedelta(minutes=rng.choice([-5, 5]))
    view.curtailment_kwh = rng.uniform(0, 20)
    return view


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("rebound_share", [0.0, 0.15])
@pytest.mark.parametrize("prices", [None, EnergyPrices()])
def test_columns_equal_the_record_build(
    seed: int, rebound_share: float, prices: EnergyPrices | None
) -> None:
    rng = random.Random(seed)
    homes = [_random_home(rng, i) for i in range(600)]
    expected = _reference(homes, NOW, rebound_share, prices)
    actual = flex_model_of(homes, NOW, rebound_share=rebound_share, prices=prices)
    assert actual.home_ids == expected.home_ids
    for field in fields(FlexModel):
        if field.name == "home_ids":
            continue
        np.testing.assert_array_equal(
            getattr(actual, field.name),
            getattr(expected, field.name),
            err_msg=field.name,
        )
    # The draw covers what the columns treat apart.
    assert expected.available.any()
    assert not expected.available.all()
    assert (expected.baseline_w == 0).any()


def test_the_fleet_and_an_empty_point_use_the_columns() -> None:
    fleet = Fleet()
    assert fleet.flex_model([], NOW).size == 0
    rng = random.Random(7)
    homes = [_random_home(rng, i) for i in range(50)]
    np.testing.assert_array_equal(
        fleet.flex_model(homes, NOW, rebound_share=0.1).baseline_w,
        _reference(homes, NOW, 0.1, None).baseline_w,
    )
