"""The fast path on small scenarios: faithful to the physics, the real control, a report."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from dacs.cli import main
from dacs.testbed.neighbourhood.counterfactual import run_uncontrolled
from dacs.testbed.scenarios.fast_run import DacsController, FastRun, run_fast
from dacs.testbed.scenarios.grid_signals import GridAsk, grid_ask
from dacs.testbed.scenarios.report import summarise, write_report
from dacs.testbed.scenarios.spec import ScenarioError, ScenarioSpec, SignalKind, suite
from dacs.testbed.scenarios.suite_run import (
    ScenarioResult,
    limits,
    run_scenario,
    run_suite,
)
from dacs.testbed.sim.weather import WeatherSeries

WEATHER = WeatherSeries.default(wrap=True)
SMALL = ScenarioSpec(name="small", day=date(2025, 1, 20), homes=10)


# Each run of the small evening costs seconds: the module runs the uncontrolled
# evening and our control once and compares fresh runs against them.
@pytest.fixture(scope="module")
def uncontrolled() -> FastRun:
    return run_fast(SMALL, GridAsk(rated_kw=1e6), WEATHER, controller=None)


@pytest.fixture(scope="module")
def controlled(uncontrolled: FastRun) -> tuple[GridAsk, FastRun]:
    rated, cap = limits(uncontrolled, SMALL)
    ask = grid_ask(SMALL, prognosis_kw=[30.0] * 18, rated_kw=rated, cap_kw=cap)
    return ask, run_fast(SMALL, ask, WEATHER, controller=DacsController)


def test_without_control_it_is_the_same_evening_as_the_reference_simulation(
    uncontrolled: FastRun,
) -> None:
    fast = uncontrolled
    reference = run_uncontrolled(SMALL.neighbourhood(), WEATHER)
    assert fast.commands == 0
    # 10 s steps against 60 s steps of the same physics.
    assert np.allclose(fast.heat_pump_w / 1000, reference.heat_pump_kw, atol=0.05)
    assert fast.gas_m3.sum() == pytest.approx(reference.gas_m3, rel=0.02, abs=0.05)


@pytest.fixture(scope="module")
def small_result() -> ScenarioResult:
    return run_scenario(SMALL, WEATHER)


def test_our_control_holds_the_cap_of_every_isp(small_result: ScenarioResult) -> None:
    none, ours = small_result.outcomes["none"], small_result.ours
    assert none.isps_over > 5  # the evening is congested without control
    assert ours.isps_over == 0
    assert ours.after_isps_over == 0
    assert ours.not_following_alerts == 0
    assert ours.compliance.share_minutes_over <= 0.05
    assert ours.min_indoor_c >= none.min_indoor_c - 0.5
    assert small_result.best is not None
    assert not small_result.flexibility_short
    # The best plan is a lower bound: no controller needs less gas.
    assert ours.extra_gas_m3 >= small_result.best.extra_gas_m3 * 0.99


def test_a_run_is_deterministic(controlled: tuple[GridAsk, FastRun]) -> None:
    ask, first = controlled
    second = run_fast(SMALL, ask, WEATHER, controller=DacsController)
    assert np.array_equal(first.total_w, second.total_w)
    assert first.commands == second.commands


@pytest.mark.parametrize(
    "signal",
    [SignalKind.FIXED, SignalKind.OPENADR, SignalKind.EMERGENCY],
)
def test_every_signal_kind_becomes_a_cap(signal: SignalKind) -> None:
    spec = replace(SMALL, signal=signal)
    ask = grid_ask(spec, prognosis_kw=[30.0] * 18, rated_kw=40.0, cap_kw=25.0)
    assert (ask.envelope is None) == (signal is SignalKind.FIXED)
    assert (ask.fixed is None) == (signal is not SignalKind.FIXED)


def test_residents_who_step_out_and_homes_that_go_offline() -> None:
    spec = replace(SMALL, name="residents", opt_outs=2, offline=2)
    result = run_scenario(spec, WEATHER)
    ours = result.ours
    assert ours.not_following_alerts == 0
    assert ours.isps_over == 0 or result.flexibility_short


def test_the_report_and_its_plots(small_result: ScenarioResult, tmp_path: Path) -> None:
    report = write_report([small_result], tmp_path)
    text = report.read_text()
    assert "| small | 10 | 20 % | day_ahead | enough | DACS-HW | 0/" in text
    assert (tmp_path / "small.png").stat().st_size > 10_000
    assert (tmp_path / "overview.png").stat().st_size > 10_000
    summary = summarise([small_result])
    assert (summary.with_enough_flexibility, summary.compliant_with_enough) == (1, 1)


def test_bad_scenarios_are_refused() -> None:
    with pytest.raises(ScenarioError):
        ScenarioSpec(name="x", day=date(2025, 1, 20), depth=1.2)
    with pytest.raises(ScenarioError):
        ScenarioSpec(name="x", day=date(2025, 1, 20), homes=3, opt_outs=2, offline=2)


def test_the_command_lists_and_refuses_unknown_scenarios(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["scenario", "--list"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert len(listed) == len(suite()) >= 20
    assert main(["scenario", "--only", "no-such-scenario"]) == 2
    assert "no-such-scenario" in capsys.readouterr().err


def test_the_vectorised_physics_runs_the_same_evening(
    controlled: tuple[GridAsk, FastRun],
) -> None:
    """The scenario suite's switch: one model for the street gives the same run."""
    ask, per_home = controlled
    vectorised = run_fast(
        SMALL, ask, WEATHER, controller=DacsController, physics="vectorised"
    )
    assert per_home.commands > 0
    assert vectorised.commands == per_home.commands
    np.testing.assert_allclose(vectorised.total_w, per_home.total_w, rtol=1e-6)
    np.testing.assert_allclose(vectorised.gas_m3, per_home.gas_m3, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(
        vectorised.min_indoor_c, per_home.min_indoor_c, rtol=1e-9
    )
    with pytest.raises(ValueError, match="physics"):
        run_fast(SMALL, ask, WEATHER, physics="quantum")  # type: ignore[arg-type]


def test_the_suite_command_runs_on_the_vectorised_model(
    small_result: ScenarioResult, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`dacs scenario --physics vectorised`: every controller, the same outcomes."""
    (vectorised,) = run_suite([SMALL], physics="vectorised")
    assert vectorised.outcomes.keys() == small_result.outcomes.keys()
    for name, outcome in small_result.outcomes.items():
        other = vectorised.outcomes[name]
        assert other.isps_over == outcome.isps_over, name
        assert other.extra_gas_m3 == pytest.approx(outcome.extra_gas_m3, abs=1e-6)
        np.testing.assert_allclose(
            vectorised.load_kw[name], small_result.load_kw[name], rtol=1e-6
        )
    assert vectorised.ours.isps_over == 0
    out = tmp_path / "report"
    argv = ["scenario", "--only", "quick-fixed", "--homes", "4", "--out", str(out)]
    assert main([*argv, "--physics", "vectorised"]) == 0
    assert "[1/1] quick-fixed" in capsys.readouterr().out
    assert "quick-fixed" in (out / "report.md").read_text()
    with pytest.raises(SystemExit):
        main([*argv, "--physics", "quantum"])
