"""Paying residents: the price rule and the gas compensation."""

from __future__ import annotations

from hypothesis import given, strategies as st
import numpy as np
import pytest

from dacs.aggregator.settlement.config import SettlementConfig
from dacs.aggregator.settlement.remuneration import (
    extra_boiler_heat_kw,
    gas_m3,
    price_eur_per_kwh,
    settle_home,
)

CONFIG = SettlementConfig(tariff_eur_per_kwh=0.20, gas_price_eur_per_m3=1.50)


def test_price_is_the_higher_of_ask_and_tariff() -> None:
    assert price_eur_per_kwh(0.35, CONFIG) == 0.35
    assert price_eur_per_kwh(0.05, CONFIG) == 0.20
    assert price_eur_per_kwh(None, CONFIG) == 0.20
    assert price_eur_per_kwh(float("nan"), CONFIG) == 0.20


def test_gas_from_heat() -> None:
    # 10 kWh of heat at 90 % on 35.17 MJ/m3 (9.769 kWh/m3): 1.137 m3.
    assert gas_m3(10.0, CONFIG) == pytest.approx(10 / 0.9 / (35.17 / 3.6))


def test_a_home_settlement() -> None:
    result = settle_home(
        home_id="h-1",
        period="2025-01",
        delivered_kwh=12.0,
        extra_heat_kwh=30.0,
        events=3,
        ask_eur_per_kwh=0.30,
        config=CONFIG,
    )
    assert result.earnings_eur == pytest.approx(3.60)
    assert result.extra_gas_m3 == pytest.approx(30 / 0.9 / 9.7694, rel=1e-4)
    assert result.gas_compensation_eur == pytest.approx(
        result.extra_gas_m3 * 1.5, abs=1e-4
    )
    assert result.total_eur == pytest.approx(
        result.earnings_eur + result.gas_compensation_eur
    )


def test_bad_figures_are_refused() -> None:
    for bad in (
        {"delivered_kwh": -1.0},
        {"extra_heat_kwh": float("nan")},
        {"events": -1},
    ):
        arguments = {
            "home_id": "h-1",
            "period": "2025-01",
            "delivered_kwh": 1.0,
            "extra_heat_kwh": 0.0,
            "events": 0,
            "ask_eur_per_kwh": None,
            "config": CONFIG,
        } | bad
        with pytest.raises(ValueError, match=">= 0"):
            settle_home(**arguments)  # type: ignore[arg-type]  # the test varies the types


def test_bad_config_is_refused() -> None:
    with pytest.raises(ValueError, match="boiler_efficiency"):
        SettlementConfig(boiler_efficiency=0)
    with pytest.raises(ValueError, match="tariff"):
        SettlementConfig(tariff_eur_per_kwh=-0.1)
    with pytest.raises(ValueError, match="block_hours"):
        SettlementConfig(block_hours=5)
    with pytest.raises(ValueError, match="min_history_days"):
        SettlementConfig(history_days=2, min_history_days=3)


def test_extra_boiler_heat_rules() -> None:
    extra = extra_boiler_heat_kw(
        boiler_measured_kw=np.array([3.0, 3.0, 3.0, 0.5, np.nan]),
        boiler_baseline_kw=np.array([1.0, 1.0, 1.0, 1.0, 0.0]),
        electric_baseline_kw=np.array([1.0, 0.0, 1.0, 1.0, 1.0]),
        delivered_kw=np.array([1.0, 1.0, 0.2, 1.0, 1.0]),
        max_cop=6.0,
    )
    # normal; heat pump would not have run; capped at 6 x 0.2 kW; below baseline; unknown
    assert extra == pytest.approx([2.0, 0.0, 1.2, 0.0, 0.0])


@given(
    measured=st.lists(st.floats(0, 30), min_size=1, max_size=30),
    baseline=st.floats(0, 30),
    delivered=st.floats(0, 5),
)
def test_extra_heat_is_bounded(
    measured: list[float], baseline: float, delivered: float
) -> None:
    values = np.array(measured)
    extra = extra_boiler_heat_kw(
        boiler_measured_kw=values,
        boiler_baseline_kw=np.full(len(values), baseline),
        electric_baseline_kw=np.ones(len(values)),
        delivered_kw=np.full(len(values), delivered),
        max_cop=4.0,
    )
    assert np.all(extra >= 0)
    assert np.all(extra <= 4.0 * delivered + 1e-9)
    assert np.all(extra <= np.maximum(0, values - baseline) + 1e-9)


def test_cost_of_a_kwh_is_the_residents_price_plus_the_gas_instead() -> None:
    from dacs.aggregator.settlement.remuneration import (
        TYPICAL_COP,
        cost_eur_per_kwh,
        gas_m3,
        price_eur_per_kwh,
    )

    config = SettlementConfig(tariff_eur_per_kwh=0.25, gas_price_eur_per_m3=1.40)
    gas_per_heat_kwh = gas_m3(1.0, config) * 1.40
    # Unknown COP: the typical one; the price is the tariff when the ask is lower.
    assert cost_eur_per_kwh(0.10, None, config) == pytest.approx(
        0.25 + TYPICAL_COP * gas_per_heat_kwh
    )
    # A higher ask is the price; the COP from telemetry sets the gas.
    assert cost_eur_per_kwh(0.40, 4.0, config) == pytest.approx(
        price_eur_per_kwh(0.40, config) + 4.0 * gas_per_heat_kwh
    )
    # Implausible COPs are held to [1, max_cop].
    assert cost_eur_per_kwh(0.0, 0.2, config) == pytest.approx(0.25 + gas_per_heat_kwh)
    assert cost_eur_per_kwh(0.0, 50.0, config) == pytest.approx(
        0.25 + config.max_cop * gas_per_heat_kwh
    )
    assert cost_eur_per_kwh(0.0, float("nan"), config) == pytest.approx(
        cost_eur_per_kwh(0.0, None, config)
    )
