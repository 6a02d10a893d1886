"""A suite scenario again through the real broker path, beside its fast-path run."""

from __future__ import annotations

from datetime import date

import pytest

from dacs.cli import main
from dacs.testbed.scenarios.live_check import (
    check_live_allowed,
    format_live_checks,
    run_live_check,
)
from dacs.testbed.scenarios.spec import ScenarioError, ScenarioSpec, SignalKind
from dacs.testbed.scenarios.suite_run import run_scenario
from dacs.testbed.sim.weather import WeatherSeries

TINY = ScenarioSpec(name="tiny", day=date(2025, 1, 20), homes=6)


async def test_the_broker_path_holds_the_cap_as_the_fast_path_does() -> None:
    result = run_scenario(TINY, WeatherSeries.default(wrap=True))
    check = await run_live_check(result, speed=600)
    assert check.commands_sent > 0  # the homes were really commanded, over MQTT
    assert len(check.live.isps) == len(result.ours.compliance.isps) == 18
    assert check.live.isps_over == 0
    assert check.fast_isps_over == result.ours.isps_over == 0
    # Six homes: one compressor start is about a kilowatt, so the two paths'
    # ISP means may differ by about that, not by the street's load.
    assert check.isps_compared == 18
    assert check.largest_isp_gap_kw < 0.25 * result.cap_kw
    assert check.live_extra_gas_m3 > 0
    lines = format_live_checks([check])
    assert lines[0] == "## Through the real broker path"
    assert lines[-2].startswith("| tiny | 0 / 0 |")


def test_what_the_broker_path_cannot_play_is_refused(
    capsys: pytest.CaptureFixture[str],
) -> None:
    for spec in (
        ScenarioSpec(name="f", day=date(2025, 1, 20), signal=SignalKind.FIXED),
        ScenarioSpec(name="e", day=date(2025, 1, 20), signal=SignalKind.EMERGENCY),
        ScenarioSpec(name="o", day=date(2025, 1, 20), opt_outs=2),
    ):
        with pytest.raises(ScenarioError):
            check_live_allowed(spec)
    check_live_allowed(TINY)
    assert main(["scenario", "--only", "quick-fixed", "--live", "quick-fixed"]) == 2
    assert "not fixed" in capsys.readouterr().err
    assert main(["scenario", "--only", "quick-fixed", "--live", "quick-uftp"]) == 2
    assert "not among the scenarios run" in capsys.readouterr().err
