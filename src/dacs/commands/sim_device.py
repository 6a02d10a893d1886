"""``dacs sim device``: serve a simulated hybrid heat pump over Modbus TCP."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from datetime import datetime
import logging
import signal

from dacs.devices.modbus_profile import builtin_profiles
from dacs.testbed.sim.house import DwellingType, InsulationLevel
from dacs.testbed.sim.simulated_heat_pump import (
    DEFAULT_START,
    SimulatedHomeOptions,
    build_simulated_heat_pump,
)

_LOGGER = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``sim device`` to the parser."""
    sim = subparsers.add_parser("sim", help="simulators")
    sim_commands = sim.add_subparsers(dest="sim_command", required=True, metavar="WHAT")
    device = sim_commands.add_parser(
        "device",
        help="a simulated hybrid heat pump in a simulated house, over Modbus TCP",
    )
    device.add_argument("--profile", default="dacs", choices=sorted(builtin_profiles()))
    device.add_argument("--host", default="127.0.0.1")
    device.add_argument("--port", type=int, default=5020)
    device.add_argument("--device-id", type=int, default=1)
    device.add_argument(
        "--dwelling",
        default=DwellingType.SEMI_DETACHED.value,
        choices=[d.value for d in DwellingType],
    )
    device.add_argument(
        "--insulation",
        default=InsulationLevel.AVERAGE.value,
        choices=[i.value for i in InsulationLevel],
    )
    device.add_argument(
        "--nominal-power", type=float, default=None, help="nominal electric power (W)"
    )
    device.add_argument(
        "--speed",
        type=float,
        default=1.0,
        help="simulated seconds per real second (e.g. 60: a minute per second)",
    )
    device.add_argument(
        "--start",
        type=datetime.fromisoformat,
        default=DEFAULT_START,
        help="simulated start time, ISO 8601 with time zone",
    )
    device.add_argument("--serial", default="SIM-0001")
    device.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Serve until interrupted."""
    options = SimulatedHomeOptions(
        profile=args.profile,
        dwelling=DwellingType(args.dwelling),
        insulation=InsulationLevel(args.insulation),
        nominal_electric_w=args.nominal_power,
        start=args.start,
        serial=args.serial,
    )
    asyncio.run(_serve(options, args.host, args.port, args.device_id, args.speed))
    return 0


async def _serve(
    options: SimulatedHomeOptions, host: str, port: int, device_id: int, speed: float
) -> None:
    server = build_simulated_heat_pump(
        options, port=port, device_id=device_id, speed=speed
    )
    server.host = host
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        print(
            f"simulated {options.profile} heat pump on {host}:{port} "
            f"(device id {device_id}, {speed:g}x real time); Ctrl-C stops",
            flush=True,
        )
        while not stop.is_set():
            home = server.plant
            limit = server.firmware.limit_w
            print(
                f"{home.time:%Y-%m-%d %H:%M} outdoor {home.outdoor_temp_c:5.1f} °C  "
                f"indoor {home.indoor_temp_c:5.2f} °C  heat pump {home.hp_electric_w:6.0f} W "
                f"-> {home.hp_thermal_w:6.0f} W  boiler {home.boiler_thermal_w:6.0f} W  "
                f"limit {'none' if limit is None else f'{limit:.0f} W'}  "
                f"mode {server.firmware.mode.value}",
                flush=True,
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=5.0)
    print("stopped", flush=True)
