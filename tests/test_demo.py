"""The main job (`make demo`) does real work: limits bite, the watchdog releases."""

from __future__ import annotations

from dacs.commands.demo import run_demo


async def test_demo_scenario() -> None:
    summary = await run_demo(speed=600, phase_s=0.5)
    assert summary.max_limited_w <= summary.limit_w + 1e-6
    assert summary.boiler_heat_kwh > 0  # the boiler covered what the limit took
    assert summary.hp_heat_kwh > 0
    assert summary.min_indoor_c > 19.0  # comfort held
    assert 5 <= summary.watchdog_release_s <= 12  # 10 s watchdog, 1 s resolution
    assert summary.simulated_minutes > 30
