"""``dacs demo-device``: a simulated hybrid heat pump reacting to power limits.

Until the aggregator exists, the demo shows the device layer end to end: a
simulated heat pump in a simulated house on a real Modbus TCP port, the real
driver limiting it, the boiler taking over, the safety floor turning a too-low
request into gas-only, and the device watchdog releasing a limit whose
controller vanished.
"""

from __future__ import annotations

import argparse
import asyncio
from dataclasses import dataclass
import time

from dacs.devices import HeatPump, LimitResult
from dacs.testbed.sim.hybrid import HybridHome
from dacs.testbed.sim.server import SimulatedHeatPumpServer
from dacs.testbed.sim.simulated_heat_pump import (
    SimulatedHomeOptions,
    build_simulated_heat_pump,
)

_WATCHDOG_S = 10


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``demo-device`` to the parser."""
    demo = subparsers.add_parser(
        "demo-device",
        help="one simulated heat pump reacting to limits, the floor and the watchdog",
    )
    demo.add_argument(
        "--speed",
        type=float,
        default=120.0,
        help="simulated seconds per real second (default 120)",
    )
    demo.add_argument(
        "--phase-seconds",
        type=float,
        default=5.0,
        help="real seconds per demo phase (default 5)",
    )
    demo.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Run the demo and print what happens."""
    summary = asyncio.run(run_demo(speed=args.speed, phase_s=args.phase_seconds))
    print()
    print("Summary")
    print(f"  simulated time            {summary.simulated_minutes:8.0f} min")
    print(f"  heat pump electricity     {summary.electric_kwh:8.2f} kWh")
    print(f"  heat from the heat pump   {summary.hp_heat_kwh:8.2f} kWh")
    print(f"  heat from the boiler      {summary.boiler_heat_kwh:8.2f} kWh")
    print(f"  lowest indoor temperature {summary.min_indoor_c:8.2f} °C")
    print(
        f"  highest draw while limited{summary.max_limited_w:8.0f} W (limit {summary.limit_w} W)"
    )
    print(
        f"  watchdog released after   {summary.watchdog_release_s:8.1f} s (period {_WATCHDOG_S} s)"
    )
    return 0


@dataclass(frozen=True, kw_only=True)
class DemoSummary:
    """What the demo measured."""

    simulated_minutes: float
    electric_kwh: float
    hp_heat_kwh: float
    boiler_heat_kwh: float
    min_indoor_c: float
    limit_w: int
    max_limited_w: float
    watchdog_release_s: float


class _Recorder:
    def __init__(self, server: SimulatedHeatPumpServer[HybridHome]) -> None:
        self.server = server
        self.min_indoor_c = server.plant.indoor_temp_c
        self.max_limited_w = 0.0

    def row(self, phase: str) -> None:
        home = self.server.plant
        firmware = self.server.firmware
        limit = firmware.limit_w
        self.min_indoor_c = min(self.min_indoor_c, home.indoor_temp_c)
        if limit is not None:
            self.max_limited_w = max(self.max_limited_w, home.hp_electric_w)
        print(
            f"{home.time:%H:%M}  {phase:<22} {home.outdoor_temp_c:6.1f} {home.indoor_temp_c:7.2f}"
            f" {home.hp_electric_w:8.0f} {home.hp_thermal_w:8.0f} {home.boiler_thermal_w:8.0f}"
            f"  {'-' if limit is None else f'{limit:.0f}':>6}  {firmware.mode.value}",
            flush=True,
        )


async def _watch(recorder: _Recorder, phase: str, seconds: float) -> None:
    steps = max(1, round(seconds))
    for _ in range(steps):
        await asyncio.sleep(seconds / steps)
        recorder.row(phase)


def _say(result: LimitResult, asked: str) -> str:
    applied = "unlimited" if result.max_power_w is None else f"{result.max_power_w} W"
    return f"   asked {asked}: {result.action.value}, in force {applied}, mode {result.mode.value}"


async def run_demo(*, speed: float, phase_s: float) -> DemoSummary:
    """The demo's scenario; returns what it measured."""
    server = build_simulated_heat_pump(
        SimulatedHomeOptions(profile="dacs"), speed=speed
    )
    async with server:
        print(
            f"Simulated hybrid heat pump on Modbus TCP 127.0.0.1:{server.port}, "
            f"{speed:g}x real time, KNMI De Bilt weather"
        )
        async with HeatPump(
            "127.0.0.1", server.port, watchdog_s=_WATCHDOG_S
        ) as heat_pump:
            ident, caps = heat_pump.identity, heat_pump.capabilities
            print(
                f"Detected profile '{heat_pump.profile.id}': {ident.manufacturer} {ident.model} "
                f"serial {ident.serial}; nominal {caps.nominal_electric_w} W, safety floor "
                f"{caps.safety_floor_w} W, step {caps.limit_step_w} W, gas-only "
                f"{'yes' if caps.supports_gas_only else 'no'}, watchdog {caps.watchdog_s} s"
            )
            print()
            print(
                "time   phase                  outdoor  indoor   HP elec  HP heat   boiler   limit  mode"
            )
            recorder = _Recorder(server)
            await _watch(recorder, "unlimited", phase_s)
            # Ask for 60 % of what the heat pump draws now: a real curtailment.
            drawing = (await heat_pump.read_measurements()).electric_power_w or 0.0
            step = caps.limit_step_w
            limit_w = max(caps.safety_floor_w, int(0.6 * drawing) // step * step)
            result = await heat_pump.set_power_limit(limit_w, validity_s=7200)
            print(_say(result, f"{limit_w} W"))
            await _watch(recorder, f"limited to {result.max_power_w} W", phase_s)
            low = caps.safety_floor_w // 2
            result = await heat_pump.set_power_limit(low, validity_s=7200)
            print(_say(result, f"{low} W (below the floor)"))
            await _watch(recorder, "gas-only", phase_s)
            result = await heat_pump.set_power_limit(limit_w, validity_s=7200)
            print(_say(result, f"{limit_w} W"))
            await _watch(recorder, "limited again", phase_s / 2)
        print("   the controller disconnects without releasing the limit ...")
        lost_at = time.monotonic()
        while server.firmware.limit_w is not None:
            await asyncio.sleep(0.5)
            recorder.row("controller gone")
        released_after = time.monotonic() - lost_at
        print(f"   device watchdog released the limit after {released_after:.1f} s")
        await _watch(recorder, "released", phase_s / 2)
        energy = server.firmware.energy
        return DemoSummary(
            simulated_minutes=server.simulated_s / 60,
            electric_kwh=energy.electric_wh / 1000,
            hp_heat_kwh=energy.hp_heat_wh / 1000,
            boiler_heat_kwh=energy.boiler_heat_wh / 1000,
            min_indoor_c=recorder.min_indoor_c,
            limit_w=limit_w,
            max_limited_w=recorder.max_limited_w,
            watchdog_release_s=released_after,
        )
