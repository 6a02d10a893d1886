"""Fairness prices stay finite whatever the history holds."""

from __future__ import annotations

import numpy as np

from dacs.aggregator.domain.fairness import effective_price_eur_per_kwh


def test_tiny_histories_do_not_poison_prices() -> None:
    """A subnormal mean history once gave inf prices and a NaN objective."""
    asks = np.array([0.1, 0.2, 0.3])
    prices = effective_price_eur_per_kwh(
        asks, np.array([5e-324, 0.0, 0.0]), np.array([True, True, True])
    )
    assert np.isfinite(prices).all()
    assert (prices == asks).all()


def test_history_raises_the_price_of_the_curtailed() -> None:
    prices = effective_price_eur_per_kwh(
        np.array([0.1, 0.1]),
        np.array([2.0, 0.0]),
        np.array([True, True]),
        fairness_weight=0.05,
    )
    assert prices[0] > prices[1]
    assert np.isfinite(prices).all()
