"""The weather-dependent baseline: fits, fallbacks and bounds."""

from __future__ import annotations

from hypothesis import given, settings, strategies as st
import numpy as np
import pytest

from dacs.aggregator.settlement.baseline import (
    BaselineModel,
    BaselineSettings,
    BaselineSource,
    LineFit,
    estimate_switch_over,
    fit_baseline,
    fit_pooled,
)
from dacs.aggregator.settlement.errors import NotEnoughDataError

RNG = np.random.default_rng(7)


def _home(n: int = 1344, *, level: float = 1.0, noise: float = 0.03):
    """A heat pump drawing 1.6 kW at 0 °C, 0.1 kW less per kelvin, at most 2 kW."""
    outdoor = RNG.uniform(-2, 12, n)
    value = np.clip(level * (1.6 - 0.1 * outdoor), 0, 2.0) + RNG.normal(0, noise, n)
    blocks = np.arange(n) // 16 % 6  # 4-hour blocks of 15-minute intervals
    return outdoor, np.maximum(value, 0), blocks, np.ones(n, dtype=bool)


def test_recovers_a_line_despite_outliers() -> None:
    outdoor, value, blocks, eligible = _home()
    value[::50] += 3.0  # hot water or a glitch every 12.5 hours
    model = fit_baseline(outdoor, value, blocks, eligible)
    assert model.source is BaselineSource.HOME
    test = np.array([0.0, 5.0, 10.0])
    predicted = model.predict(test, np.zeros(3, dtype=np.int64))
    assert predicted == pytest.approx([1.6, 1.1, 0.6], abs=0.05)


def test_finds_a_bend() -> None:
    outdoor = np.linspace(-5, 15, 2000)
    value = np.where(outdoor < 5, 1.5, 1.5 - 0.15 * (outdoor - 5))
    blocks = np.zeros(2000, dtype=np.int64)
    model = fit_baseline(outdoor, value, blocks, np.ones(2000, dtype=bool))
    assert model.day.hinge_c is not None
    assert model.predict(np.array([-4.0, 10.0]), np.zeros(2, dtype=np.int64)) == (
        pytest.approx([1.5, 0.75], abs=0.05)
    )


def test_ineligible_intervals_are_not_fitted() -> None:
    outdoor, value, blocks, eligible = _home()
    limited = np.zeros_like(eligible)
    limited[::3] = True
    value[limited] = 0.2  # curtailed: must not drag the baseline down
    model = fit_baseline(outdoor, value, blocks, eligible & ~limited)
    assert model.predict(np.array([0.0]), np.zeros(1, dtype=np.int64))[0] == (
        pytest.approx(1.6, abs=0.05)
    )


def test_time_of_day_blocks_get_their_own_level() -> None:
    outdoor, value, blocks, eligible = _home(noise=0.01)
    value[blocks == 3] *= 0.5  # the sun halves the afternoon's draw
    model = fit_baseline(outdoor, value, blocks, eligible)
    at_zero = model.predict(np.zeros(2), np.array([0, 3]))
    assert at_zero == pytest.approx([1.6, 0.8], abs=0.06)


def test_zero_below_the_switch_over() -> None:
    outdoor, value, blocks, eligible = _home()
    cold = outdoor < 0
    value[cold] = 0.0
    boiler_only = cold.copy()
    model = fit_baseline(outdoor, value, blocks, eligible, boiler_only=boiler_only)
    assert model.switch_over_c is not None
    assert -0.5 < model.switch_over_c < 0
    predicted = model.predict(np.array([-1.0, 1.0]), np.zeros(2, dtype=np.int64))
    assert predicted[0] == 0
    assert predicted[1] == pytest.approx(1.5, abs=0.06)


def test_warm_boiler_only_intervals_are_not_a_switch_over() -> None:
    outdoor = np.array([-2.0, 5.0, 6.0, 7.0, 8.0] * 20)
    value = np.array([0.0, 1.0, 1.0, 1.0, 0.0] * 20)
    only = np.array([True, False, False, False, True] * 20)  # 8 °C: hot water
    eligible = np.ones(100, dtype=bool)
    assert estimate_switch_over(outdoor, value, eligible, only) == -2.0


def test_falls_back_to_the_scaled_pooled_fit() -> None:
    histories = [_home() for _ in range(4)]
    pooled = fit_pooled(histories)
    assert pooled is not None
    assert pooled.source is BaselineSource.POOLED
    outdoor, value, blocks, eligible = _home(
        n=40, level=1.5
    )  # a bigger house, 10 hours
    model = fit_baseline(outdoor, value, blocks, eligible, pooled=pooled)
    assert model.source is BaselineSource.POOLED
    assert model.scale == pytest.approx(1.5, rel=0.08)
    with pytest.raises(NotEnoughDataError):
        fit_baseline(outdoor, value, blocks, eligible)


def test_pooled_without_data_is_none() -> None:
    empty = np.empty(0)
    assert (
        fit_pooled([(empty, empty, empty.astype(np.int64), empty.astype(bool))]) is None
    )


def test_unknown_outdoor_temperature_gives_no_baseline() -> None:
    outdoor, value, blocks, eligible = _home()
    model = fit_baseline(outdoor, value, blocks, eligible)
    assert np.isnan(model.predict(np.array([np.nan]), np.zeros(1, dtype=np.int64))[0])


def test_bad_input_is_refused() -> None:
    outdoor, value, blocks, eligible = _home()
    with pytest.raises(ValueError, match="one length"):
        fit_baseline(outdoor[:-1], value, blocks, eligible)
    with pytest.raises(ValueError, match="boiler_only"):
        fit_baseline(outdoor, value, blocks, eligible, boiler_only=eligible[:5])
    model = fit_baseline(outdoor, value, blocks, eligible)
    with pytest.raises(ValueError, match="same shape"):
        model.predict(np.zeros(3), np.zeros(2, dtype=np.int64))
    with pytest.raises(ValueError, match="divide 24"):
        BaselineSettings(blocks_per_day=5)


@settings(max_examples=60, deadline=None)
@given(
    slope=st.floats(-0.3, 0.0),
    intercept=st.floats(0.0, 3.0),
    noise=st.floats(0.0, 0.5),
    seed=st.integers(0, 2**16),
    probe=st.lists(st.floats(-30, 40), min_size=1, max_size=20),
)
def test_predictions_are_never_negative_nor_beyond_the_cap(
    slope: float, intercept: float, noise: float, seed: int, probe: list[float]
) -> None:
    rng = np.random.default_rng(seed)
    outdoor = rng.uniform(-5, 15, 400)
    value = np.maximum(0, intercept + slope * outdoor + rng.normal(0, noise, 400))
    blocks = rng.integers(0, 6, 400)
    model = fit_baseline(
        outdoor,
        value,
        blocks,
        np.ones(400, dtype=bool),
        settings=BaselineSettings(min_intervals=100),
    )
    points = np.array(probe)
    predicted = model.predict(points, rng.integers(0, 6, len(points)))
    assert np.all(predicted >= 0)
    assert np.all(predicted <= model.max_kw + 1e-9)
    assert model.max_kw <= max(value.max(), 0) * 1.1 + 1e-9


def test_line_fit_hinge() -> None:
    fit = LineFit(intercept=1.0, slope=-0.1, hinge_c=5.0, hinge_slope=0.1)
    assert fit.value(np.array([0.0, 5.0, 10.0])) == pytest.approx([1.0, 0.5, 0.5])
    model = BaselineModel(source=BaselineSource.HOME, day=fit, blocks=(), max_kw=0.8)
    assert model.predict(np.array([-10.0]), np.zeros(1, dtype=np.int64))[0] == 0.8
