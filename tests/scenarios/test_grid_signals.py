"""The grid operator's ask: the fast path and the broker path make the same caps of it."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from dacs.aggregator.uftp.forecast import persistence_load_w
from dacs.protocol.rules import DEFAULT_MAX_CURTAILMENT_MINUTES
from dacs.testbed.neighbourhood.counterfactual import household_forecast
from dacs.testbed.neighbourhood.grid_signal import GridRequest
from dacs.testbed.scenarios.fast_run import run_fast
from dacs.testbed.scenarios.grid_signals import (
    POINT_ID,
    GridAsk,
    announced_at,
    cap_lookup,
    grid_ask,
)
from dacs.testbed.scenarios.live_check import asked_profile
from dacs.testbed.scenarios.spec import ScenarioError, ScenarioSpec, SignalKind
from dacs.testbed.sim.weather import WeatherSeries

WEATHER = WeatherSeries.default(wrap=True)
TINY = ScenarioSpec(name="tiny", day=date(2025, 1, 20), homes=5)
PROGNOSIS_KW = [15.0] * 18


@pytest.mark.parametrize("signal", [SignalKind.DAY_AHEAD, SignalKind.OPENADR])
def test_the_broker_path_is_asked_the_caps_the_fast_path_holds(
    signal: SignalKind,
) -> None:
    spec = replace(TINY, signal=signal)
    ask = grid_ask(spec, prognosis_kw=PROGNOSIS_KW, rated_kw=20.0, cap_kw=12.0)
    # The broker path's operator publishes this profile (OpenADR: as the
    # event's caps), so its VEN makes the same cap of every ISP.
    profile = asked_profile(spec, ask.requested_kw)
    cap_at = cap_lookup(ask)
    assert len(profile.intervals) == 18
    for interval in profile.intervals:
        assert interval.cap_w == pytest.approx(cap_at(interval.start))
    if signal is SignalKind.OPENADR:
        # Deeper in the middle hour than at the ends: not the demo's profile.
        assert min(ask.requested_kw) == 12.0
        assert ask.requested_kw[0] == 16.0


def test_a_uftp_order_is_what_the_homes_could_offer() -> None:
    spec = replace(TINY, signal=SignalKind.UFTP)
    announced = announced_at(spec)
    assert announced is not None
    uncontrolled = run_fast(
        spec, GridAsk(rated_kw=1e6, announced=announced), WEATHER, controller=None
    )
    fleet = uncontrolled.fleet_at_announce
    assert fleet is not None
    ask = grid_ask(
        spec, prognosis_kw=PROGNOSIS_KW, rated_kw=20.0, cap_kw=12.0, fleet=fleet
    )
    # What the broker path's DSO requests: 20 % of the prognosis.
    request = GridRequest(
        profile=asked_profile(spec, ask.requested_kw), expected_kw=PROGNOSIS_KW
    )
    assert request.reduction_kw() == pytest.approx([3.0] * 18)
    # The cap of an ordered ISP hangs from the aggregator's own forecast,
    # less no more than the homes offered: each home down to its floor, for
    # at most its resident's maximum curtailment.
    assert ask.envelope is not None
    views = fleet.of(POINT_ID)
    model = fleet.flex_model(views, announced)
    reducible_w = float((model.baseline_w - model.floor_w).clip(min=0).sum())
    other_at = household_forecast(spec.neighbourhood())
    ordered_w = []
    for interval in ask.envelope.intervals:
        forecast_w = round(persistence_load_w(model, other_at(interval.start)))
        ordered_w.append(forecast_w - interval.cap_w)
        assert 0 < ordered_w[-1] <= min(3000, reducible_w) + 1
    max_isps = DEFAULT_MAX_CURTAILMENT_MINUTES // 15
    assert sum(ordered_w) <= max_isps * reducible_w + 1
    # Less than asked over the evening: five homes cannot give 18 ISPs.
    assert sum(ordered_w) < 18 * 3000


def test_a_uftp_order_needs_the_fleet_it_is_offered_from() -> None:
    spec = replace(TINY, signal=SignalKind.UFTP)
    with pytest.raises(ScenarioError, match="fleet"):
        grid_ask(spec, prognosis_kw=PROGNOSIS_KW, rated_kw=20.0, cap_kw=12.0)
    with pytest.raises(ScenarioError, match="no caps"):
        asked_profile(spec, ())
