"""Run a real Home Assistant with DACS-HW against a simulated heat pump.

Starts, all on 127.0.0.1 and all thrown away afterwards:

- a Mosquitto broker playing the DACS Connect add-on's home broker;
- a simulated hybrid heat pump (DACS profile) on a Modbus TCP port, or with
  ``--s2`` an S2 resource manager, running a few times faster than real time;
- Home Assistant core from this virtual environment, with the integration and
  the heat pump's config entry already in place, onboarded with the user
  ``dacs`` / ``dacs`` (see ``dacs.testbed.home_assistant``).

Ctrl-C stops everything.

    .venv/bin/python scripts/run_ha.py [--port 8123] [--speed 5] [--flex-event 30]
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
from pathlib import Path
import shutil
import signal
import subprocess
import sys
import tempfile

from dacs.testbed.home_assistant import (
    HOME_ASSISTANT_COMPONENTS,
    HOME_ID,
    PASSWORD,
    USERNAME,
    HomeAssistantOptions,
    clean_exit,
    home_assistant_with_heat_pump,
    missing_requirements,
    onboard,
    send_flex_event,
    wait_for_entry,
    wait_for_home_assistant,
)
from dacs.testbed.home_assistant_config import CONFIGURATION_YAML
from dacs.testbed.servers import MosquittoBroker
from dacs.testbed.servers.ports import LOOPBACK

# The release test (tests/release) runs Home Assistant the same way.
__all__ = [
    "CONFIGURATION_YAML",
    "main",
    "onboard",
    "wait_for_entry",
    "wait_for_home_assistant",
]


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    """Read the command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--port", type=int, default=8123, help="Home Assistant's port")
    parser.add_argument(
        "--speed",
        type=float,
        default=5.0,
        help="simulated seconds per real second (default 5)",
    )
    parser.add_argument(
        "--flex-event",
        type=float,
        default=0.0,
        metavar="MINUTES",
        help="once running, send a flexibility event of this many minutes",
    )
    parser.add_argument(
        "--duration",
        type=float,
        default=None,
        metavar="SECONDS",
        help="stop by itself after this long (default: run until Ctrl-C)",
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the configuration directory"
    )
    parser.add_argument(
        "--s2",
        action="store_true",
        help="the heat pump speaks S2 (EN 50491-12-2) instead of Modbus TCP",
    )
    return parser.parse_args(argv)


def ensure_frontend() -> None:
    """Install the frontend Home Assistant asks for, when it is missing.

    The test environment does not need it, so the virtual environment may
    lack it; the version is the one this Home Assistant's frontend pins.
    """
    if importlib.util.find_spec("hass_frontend") is not None:
        return
    manifest_path = HOME_ASSISTANT_COMPONENTS / "frontend" / "manifest.json"
    manifest = json.loads(manifest_path.read_text("utf-8"))
    requirement = manifest["requirements"][0]
    print(f"Installing {requirement} (the Home Assistant frontend) ...")
    # The requirement comes from Home Assistant's own manifest, not from input.
    subprocess.run([sys.executable, "-m", "pip", "install", requirement], check=True)  # noqa: S603


def warn_about_missing_requirements() -> None:
    """Name what Home Assistant will fail to import, before it starts."""
    missing = missing_requirements()
    if not missing:
        return
    print("Missing packages (run make setup); these integrations will fail:")
    for item in missing:
        print(f"  {item.domain}: {item.requirement} (installed: {item.installed})")


async def run(arguments: argparse.Namespace, config_dir: Path, broker_port: int) -> int:
    """Run the heat pump and Home Assistant until Ctrl-C (or --duration)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    options = HomeAssistantOptions(
        config_dir=config_dir,
        broker_port=broker_port,
        port=arguments.port,
        speed=arguments.speed,
        s2=arguments.s2,
    )
    print(f"Starting Home Assistant in {config_dir} ...")
    async with home_assistant_with_heat_pump(options) as home_assistant:
        print(f"Heat pump loaded: electric power {home_assistant.electric_power} W")
        if arguments.flex_event > 0:
            await send_flex_event(broker_port, arguments.flex_event)
            print(
                f"Sent a {arguments.flex_event:g}-minute test flexibility event (900 W)."
            )
        print()
        print(f"Home Assistant:  {home_assistant.url}")
        print(f"Log in as:       {USERNAME} / {PASSWORD}")
        print(f"Heat pump:       {home_assistant.heat_pump}")
        print(f"Home broker:     mqtt://{LOOPBACK}:{broker_port} (home {HOME_ID})")
        print(f"Logs:            {home_assistant.log_path}")
        print("Press Ctrl-C to stop.")
        process = home_assistant.process
        waits = [asyncio.create_task(stop.wait()), asyncio.create_task(process.wait())]
        await asyncio.wait(
            waits, timeout=arguments.duration, return_when=asyncio.FIRST_COMPLETED
        )
        for waiting in waits:
            waiting.cancel()
        print("Stopping ...")
    return 0 if clean_exit(process) else 1


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    arguments = parse_arguments(argv)
    ensure_frontend()
    warn_about_missing_requirements()
    config_dir = Path(tempfile.mkdtemp(prefix="dacs-ha-"))
    try:
        with MosquittoBroker() as broker:
            return asyncio.run(run(arguments, config_dir, broker.port))
    finally:
        if arguments.keep:
            print(f"Kept {config_dir}")
        else:
            shutil.rmtree(config_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
