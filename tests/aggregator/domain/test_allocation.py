"""Allocation: safety invariants over all inputs, cost order, fairness, validation."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings, strategies as st
import numpy as np
from numpy.typing import NDArray
import pytest

from dacs.aggregator.domain import (
    TOLERANCE_W,
    Allocation,
    Availability,
    FlexContext,
    FlexModel,
    HomeFlexModel,
    HomeLimit,
    allocate,
)


def _model(n: int = 3, **fields: Any) -> FlexModel:
    defaults: dict[str, Any] = {
        "home_ids": tuple(f"h{i}" for i in range(n)),
        "baseline_w": np.full(n, 2000.0),
        "floor_w": np.full(n, 500.0),
        "gas_only": np.zeros(n, dtype=bool),
        "available": np.ones(n, dtype=bool),
        "ask_eur_per_kwh": np.full(n, 0.2),
        "step_w": np.full(n, 100.0),
        "recent_curtailment_kwh": np.zeros(n),
    }
    defaults.update(
        {k: np.asarray(v) if k != "home_ids" else v for k, v in fields.items()}
    )
    return FlexModel(**defaults)


def _context(
    model: FlexModel, required_w: float, other_w: float = 1000.0
) -> FlexContext:
    """A cap that asks for exactly ``required_w`` of reduction."""
    return FlexContext(
        cap_w=other_w + float(model.baseline_w.sum()) - required_w, other_load_w=other_w
    )


def _check_invariants(
    model: FlexModel, context: FlexContext, result: Allocation
) -> None:
    limits = result.limits_w
    limited = np.isfinite(limits)
    assert not np.isnan(limits).any()
    # Never curtail a home that is not available.
    assert not (limited & ~model.available).any()
    # Never a limit at or above the baseline: that would be no limit.
    assert (limits[limited] < model.baseline_w[limited]).all()
    # Never below the floor, except exactly 0 where gas-only is possible.
    below = limited & (limits < model.floor_w)
    assert (limits[below] == 0).all()
    assert model.gas_only[below].all()
    # Only limits the device accepts: its floor, a multiple of its step, or 0.
    on_grid = np.isclose(
        limits[limited] / model.step_w[limited],
        np.round(limits[limited] / model.step_w[limited]),
    )
    assert (
        on_grid | (limits[limited] == model.floor_w[limited]) | (limits[limited] == 0)
    ).all()
    np.testing.assert_allclose(
        result.reduction_w,
        np.where(limited, model.baseline_w - np.where(limited, limits, 0), 0),
    )
    assert result.total_reduction_w == pytest.approx(result.reduction_w.sum())
    assert result.curtailed_count == int(limited.sum())
    # The cap is met whenever the flexibility suffices; otherwise all of it is used.
    most = float(model.max_reduction_w.sum())
    required = max(0.0, context.other_load_w + model.baseline_w.sum() - context.cap_w)
    assert result.required_reduction_w == pytest.approx(required)
    if most >= required:
        assert result.shortfall_w == 0
        assert result.forecast_load_w <= context.cap_w + TOLERANCE_W
    else:
        assert result.total_reduction_w == pytest.approx(most)
        assert result.shortfall_w == pytest.approx(required - most)
    assert result.cost_eur >= 0
    assert result.objective_eur >= result.cost_eur - 1e-12


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[FlexModel, FlexContext]:
    n = draw(st.integers(1, 40))
    watts = st.integers(0, 80).map(lambda x: x * 50.0)
    floors = st.integers(0, 40).map(lambda x: x * 25.0)

    def array(elements: st.SearchStrategy[Any]) -> NDArray[Any]:
        return np.array(draw(st.lists(elements, min_size=n, max_size=n)))

    model = FlexModel(
        home_ids=tuple(f"h{i}" for i in range(n)),
        baseline_w=array(watts).astype(float),
        floor_w=array(floors).astype(float),
        gas_only=array(st.booleans()).astype(bool),
        available=array(st.booleans()).astype(bool),
        ask_eur_per_kwh=array(st.floats(0, 1, allow_nan=False)).astype(float),
        step_w=array(st.sampled_from([1.0, 10.0, 50.0, 100.0, 250.0, 33.3])),
        recent_curtailment_kwh=array(st.floats(0, 50, allow_nan=False)).astype(float),
    )
    most = float(model.max_reduction_w.sum())
    # Round fractions make exact ties between the request and the reductions.
    fraction = draw(
        st.one_of(st.floats(0, 1.3, allow_nan=False), st.sampled_from([0.25, 0.5, 1.0]))
    )
    other = draw(st.floats(-3000, 20000, allow_nan=False))
    cap = other + float(model.baseline_w.sum()) - fraction * most
    if draw(st.booleans()):
        cap += draw(st.floats(0, 2000, allow_nan=False))  # sometimes no congestion
    return model, FlexContext(cap_w=cap, other_load_w=other)


@settings(max_examples=150, deadline=None)
@given(
    scenarios(),
    st.sampled_from([0.0, 0.05, 0.5]),
    st.sampled_from([0.0, 0.02, 1.0]),
)
def test_safety_invariants_and_the_cap(
    scenario: tuple[FlexModel, FlexContext], fairness: float, premium: float
) -> None:
    model, context = scenario
    result = allocate(
        model, context, fairness_weight=fairness, gas_only_premium=premium
    )
    _check_invariants(model, context, result)


def test_no_congestion_no_limits() -> None:
    model = _model()
    result = allocate(model, FlexContext(cap_w=10_000, other_load_w=1000))
    assert result.required_reduction_w == 0
    assert np.isinf(result.limits_w).all()
    assert result.curtailed_count == 0
    assert result.cost_eur == 0
    assert result.shortfall_w == 0
    assert result.forecast_load_w == 7000


def test_cheaper_asks_are_picked_first_when_history_is_equal() -> None:
    model = _model(ask_eur_per_kwh=[0.30, 0.10, 0.20], recent_curtailment_kwh=[4, 4, 4])
    result = allocate(model, _context(model, 1000))
    assert result.limits_w.tolist() == [np.inf, 1000.0, np.inf]
    result = allocate(model, _context(model, 2000))
    # The cheapest to its floor, the next one for the rest; the dearest untouched.
    assert result.limits_w.tolist() == [np.inf, 500.0, 1500.0]


def test_recent_curtailment_makes_a_home_dearer() -> None:
    model = _model(ask_eur_per_kwh=[0.2, 0.2, 0.2], recent_curtailment_kwh=[10, 0, 5])
    result = allocate(model, _context(model, 1000))
    assert result.curtailed.tolist() == [False, True, False]
    np.testing.assert_allclose(
        result.effective_price_eur_per_kwh, [0.2 + 0.05 * 2, 0.2, 0.2 + 0.05]
    )
    # Without the fairness term all three tie; one of them is limited all the same.
    plain = allocate(model, _context(model, 1000), fairness_weight=0)
    np.testing.assert_allclose(plain.effective_price_eur_per_kwh, 0.2)
    assert plain.curtailed_count == 1
    assert plain.shortfall_w == 0


def test_gas_only_is_taken_where_it_is_cheaper_per_kw() -> None:
    model = _model(
        2, gas_only=[True, False], ask_eur_per_kwh=[0.1, 0.5], floor_w=[500, 500]
    )
    result = allocate(model, _context(model, 1800))
    # Home 0 to gas-only (2000 W at 0.1) beats 1500 W at 0.1 plus 300 W at 0.5.
    assert result.limits_w.tolist() == [0.0, np.inf]
    assert result.gas_only.tolist() == [True, False]
    assert result.total_reduction_w == 2000


def test_a_gas_only_premium_prefers_modulating() -> None:
    model = _model(
        2, gas_only=[True, False], ask_eur_per_kwh=[0.1, 0.5], floor_w=[500, 500]
    )
    result = allocate(model, _context(model, 1800), gas_only_premium=1.0)
    assert result.limits_w.tolist() == [500.0, 1700.0]
    assert not result.gas_only.any()


def test_gas_only_when_needed() -> None:
    model = _model(2, gas_only=[True, False])
    result = allocate(model, _context(model, 3400))
    # 3000 W down to the floors is not enough; only gas-only reaches further.
    assert result.limits_w.tolist() == [0.0, 600.0]
    assert result.total_reduction_w == 3400
    assert result.shortfall_w == 0


def test_not_enough_flexibility_does_the_most_and_reports_the_shortfall() -> None:
    model = _model(
        4,
        gas_only=[True, False, True, False],
        available=[True, True, False, True],
        baseline_w=[2000, 2000, 2000, 400],  # home 3 is below its floor already
    )
    result = allocate(model, _context(model, 10_000))
    assert result.limits_w.tolist() == [0.0, 500.0, np.inf, np.inf]
    assert result.total_reduction_w == 3500
    assert result.shortfall_w == 6500
    assert result.required_reduction_w == 10_000


def test_unavailable_homes_are_never_curtailed() -> None:
    model = _model(available=[False, True, False], ask_eur_per_kwh=[0.01, 0.9, 0.01])
    result = allocate(model, _context(model, 5000))
    assert result.curtailed.tolist() == [False, True, False]
    assert result.shortfall_w == 3500


def test_limits_round_down_to_the_step_and_never_below_the_floor() -> None:
    model = _model(1, baseline_w=[2000], floor_w=[530], step_w=[250])
    # 2000 - 420 = 1580 W rounds down to 1500 W: 500 W reduction.
    assert allocate(model, _context(model, 420)).limits_w.tolist() == [1500.0]
    # 2000 - 1400 = 600 W rounds down to 500 W, below the floor: the floor itself.
    assert allocate(model, _context(model, 1400)).limits_w.tolist() == [530.0]


def test_rounding_overshoot_goes_to_the_home_with_the_finer_step() -> None:
    model = _model(
        2, step_w=[250, 50], ask_eur_per_kwh=[0.20, 0.21], floor_w=[500, 500]
    )
    result = allocate(model, _context(model, 120))
    # Rounding the cheaper home would cut 250 W; the finer one cuts 150 W for less.
    assert result.limits_w.tolist() == [np.inf, 1850.0]


def test_per_home_results() -> None:
    model = _model(gas_only=[True, False, False], ask_eur_per_kwh=[0.1, 0.2, 0.3])
    result = allocate(model, _context(model, 2300))
    homes = list(result.homes())
    assert homes[0] == HomeLimit(
        home_id="h0", limit_w=0.0, reduction_w=2000.0, gas_only=True
    )
    assert homes[2] == HomeLimit(
        home_id="h2", limit_w=None, reduction_w=0.0, gas_only=False
    )
    assert [h.home_id for h in result.homes(curtailed_only=True)] == ["h0", "h1"]
    np.testing.assert_allclose(result.curtailed_kwh, result.reduction_w * 0.25 / 1000)
    # Cost: the residents' asks over 15 minutes; 2000 W at 0.1, 300 W at 0.2.
    assert result.cost_eur == pytest.approx((2.0 * 0.1 + 0.3 * 0.2) * 0.25)
    assert result.objective_eur == pytest.approx(result.cost_eur)


def test_from_records_keeps_the_availability_reasons_out_of_the_arrays() -> None:
    records = [
        HomeFlexModel(
            home_id="a",
            baseline_w=1800,
            floor_w=600,
            gas_only=True,
            ask_eur_per_kwh=0.1,
            step_w=100,
        ),
        HomeFlexModel(
            home_id="b",
            baseline_w=1800,
            floor_w=600,
            gas_only=False,
            ask_eur_per_kwh=0.1,
            step_w=100,
            availability=Availability.PAUSED,
            recent_curtailment_kwh=3.5,
        ),
    ]
    model = FlexModel.from_records(records)
    assert model.home_ids == ("a", "b")
    assert model.available.tolist() == [True, False]
    assert model.gas_only.tolist() == [True, False]
    assert model.recent_curtailment_kwh.tolist() == [0.0, 3.5]
    assert model.max_reduction_w.tolist() == [1800.0, 0.0]


def test_the_model_is_a_frozen_copy() -> None:
    baseline = np.full(3, 2000.0)
    model = _model(baseline_w=baseline)
    baseline[0] = 0.0
    assert model.baseline_w[0] == 2000.0
    with pytest.raises(ValueError, match="read-only"):
        model.baseline_w[0] = 1.0
    result = allocate(model, _context(model, 100))
    with pytest.raises(ValueError, match="read-only"):
        result.limits_w[0] = 1.0


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (
            {"baseline_w": [2000, np.nan, 2000]},
            r"baseline_w must be finite; home 'h1' has nan",
        ),
        ({"floor_w": [500, 500, -1]}, r"floor_w must be >= 0; home 'h2' has -1.0"),
        (
            {"ask_eur_per_kwh": [-0.1, 0.2, 0.2]},
            r"ask_eur_per_kwh must be >= 0; home 'h0'",
        ),
        ({"step_w": [100, 0, 100]}, r"step_w must be > 0; home 'h1' has 0.0"),
        (
            {"recent_curtailment_kwh": [0, 0, np.inf]},
            r"recent_curtailment_kwh must be finite",
        ),
        (
            {"baseline_w": [2000, 2000]},
            r"baseline_w must have one value per home \(3\)",
        ),
        ({"gas_only": [True, False]}, r"gas_only must have one value per home"),
        ({"available": [1, 0, 1]}, r"available must be booleans"),
        ({"baseline_w": ["a", "b", "c"]}, r"baseline_w must be numbers"),
        ({"home_ids": ("h0", "h0", "h1")}, r"home_ids must be unique"),
    ],
)
def test_bad_models_are_rejected(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _model(**fields)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"cap_w": float("nan"), "other_load_w": 0}, "cap_w must be a finite number"),
        (
            {"cap_w": 1000, "other_load_w": float("inf")},
            "other_load_w must be a finite",
        ),
        (
            {"cap_w": 1000, "other_load_w": 0, "interval_s": 0},
            r"interval_s must be > 0",
        ),
    ],
)
def test_bad_contexts_are_rejected(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        FlexContext(**fields)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"fairness_weight": -1.0}, "fairness_weight must be a finite number >= 0"),
        ({"fairness_weight": float("nan")}, "fairness_weight must be a finite number"),
        ({"gas_only_premium": -0.1}, "gas_only_premium must be a finite number >= 0"),
    ],
)
def test_bad_options_are_rejected(options: dict[str, float], message: str) -> None:
    model = _model()
    with pytest.raises(ValueError, match=message):
        allocate(model, _context(model, 100), **options)


def test_no_homes() -> None:
    model = _model(0)
    result = allocate(model, FlexContext(cap_w=1000, other_load_w=1500))
    assert result.shortfall_w == 500
    assert result.limits_w.shape == (0,)


def _repeated_events(fairness_weight: float, events: int = 30) -> NDArray[np.float64]:
    """Total curtailed kWh per home after a season of identical events."""
    rng = np.random.default_rng(11)
    n = 60
    baseline = rng.integers(30, 50, n) * 50.0
    history = np.zeros(n)
    for _ in range(events):
        model = _model(
            n,
            baseline_w=baseline,
            floor_w=np.full(n, 600.0),
            gas_only=np.arange(n) % 3 == 0,
            ask_eur_per_kwh=np.full(n, 0.15),
            recent_curtailment_kwh=history,
        )
        # Each event asks for a fifth of what the homes could give.
        result = allocate(
            model,
            _context(model, 0.2 * float(model.max_reduction_w.sum())),
            fairness_weight=fairness_weight,
        )
        assert result.shortfall_w == 0
        history = history + result.curtailed_kwh
    return history


def test_fairness_spreads_curtailment_over_repeated_events() -> None:
    fair = _repeated_events(fairness_weight=0.05)
    unfair = _repeated_events(fairness_weight=0.0)
    # Same work done either way...
    assert fair.sum() == pytest.approx(unfair.sum(), rel=0.02)
    # ...but shared: nobody carries more than 1.3 times the average, and every
    # home took part, while without the rule a fifth of the homes carry it all.
    assert fair.max() / fair.mean() < 1.3
    assert fair.min() > 0
    assert unfair.max() / unfair.mean() > 3
    assert np.std(fair) < np.std(unfair) / 5


def test_a_large_batch_meets_the_cap() -> None:
    rng = np.random.default_rng(5)
    n = 20_000
    model = _model(
        n,
        baseline_w=rng.integers(0, 60, n) * 50.0,
        floor_w=rng.integers(8, 20, n) * 50.0,
        gas_only=rng.random(n) < 0.5,
        available=rng.random(n) < 0.9,
        ask_eur_per_kwh=rng.uniform(0.05, 0.4, n),
        step_w=rng.choice([50.0, 100.0, 250.0], n),
        recent_curtailment_kwh=rng.gamma(2, 5, n),
    )
    for fraction in (0.01, 0.4, 0.999, 1.2):
        context = _context(model, fraction * float(model.max_reduction_w.sum()))
        _check_invariants(model, context, allocate(model, context))
