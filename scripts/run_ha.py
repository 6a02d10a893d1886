"""Run a real Home Assistant with DACS-HW against a simulated heat pump.

Starts, all on 127.0.0.1 and all thrown away afterwards:

- a Mosquitto broker playing the DACS Connect add-on's home broker;
- a simulated hybrid heat pump (DACS profile) on a Modbus TCP port, running
  a few times faster than real time;
- Home Assistant core (``python -m homeassistant``) from this virtual
  environment, with a fresh configuration directory in which
  ``custom_components/dacs_hw`` is a symlink to this repository's
  integration and the heat pump's config entry, linked to the broker,
  already exists (written to ``.storage`` before Home Assistant starts).

Onboarding is finished through Home Assistant's own onboarding API, which
creates the user ``dacs`` with password ``dacs``; the other onboarding steps
are marked done beforehand, because finishing them through the API would set
up integrations that call out to the internet. Ctrl-C stops everything.

    .venv/bin/python scripts/run_ha.py [--port 8123] [--speed 5] [--flex-event 30]
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Mapping
from contextlib import suppress
from datetime import UTC, datetime, timedelta
import importlib.util
import json
from pathlib import Path
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
from types import MappingProxyType
from typing import Any

import aiohttp
import aiomqtt
from homeassistant import config_entries
from homeassistant.components.onboarding import STORAGE_VERSION as ONBOARDING_VERSION

from dacs.protocol import Command, CommandReason, PowerInterval, encode, topic
from dacs.protocol.topics import Channel
from dacs.testbed.servers import MosquittoBroker
from dacs.testbed.servers.ports import LOOPBACK, find_free_port
from dacs.testbed.sim.hybrid import HybridHome
from dacs.testbed.sim.s2_resource_manager import SimulatedS2HeatPump
from dacs.testbed.sim.server import SimulatedHeatPumpServer
from dacs.testbed.sim.simulated_heat_pump import (
    SimulatedHomeOptions,
    build_home,
    build_simulated_heat_pump,
)

REPOSITORY = Path(__file__).resolve().parents[1]
INTEGRATION = REPOSITORY / "custom_components" / "dacs_hw"
SERIAL = "SIM-DEMO-0001"
HOME_ID = "h-demo"
USERNAME = PASSWORD = "dacs"  # noqa: S105 - a throwaway local demo account
STARTUP_TIMEOUT_S = 180.0
STOP_TIMEOUT_S = 30.0

CONFIGURATION_YAML = """\
homeassistant:
  name: DACS-HW demo
  latitude: 52.1009
  longitude: 5.1762
  elevation: 2
  unit_system: metric
  time_zone: Europe/Amsterdam
  currency: EUR
  country: NL
  language: en

http:
  server_host: 127.0.0.1
  server_port: {port}

# What a resident clicks through, and nothing that calls out to the internet
# (default_config would add cloud, zeroconf, weather and more).
frontend:
config:
history:
logbook:
energy:

logger:
  default: warning
  logs:
    custom_components.dacs_hw: info
    dacs: info
"""


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
    manifest_path = (
        Path(config_entries.__file__).parent
        / "components"
        / "frontend"
        / "manifest.json"
    )
    manifest = json.loads(manifest_path.read_text("utf-8"))
    requirement = manifest["requirements"][0]
    print(f"Installing {requirement} (the Home Assistant frontend) ...")
    # The requirement comes from Home Assistant's own manifest, not from input.
    subprocess.run([sys.executable, "-m", "pip", "install", requirement], check=True)  # noqa: S603


def storage_document(
    key: str, version: int, data: Mapping[str, Any], minor: int = 1
) -> str:
    """A ``.storage`` file as Home Assistant writes it."""
    return json.dumps(
        {"version": version, "minor_version": minor, "key": key, "data": data},
        indent=2,
        default=str,
    )


def prepare_config(
    config_dir: Path, port: int, device: dict[str, object], broker_port: int
) -> None:
    """Write configuration.yaml, the integration link and the config entry."""
    (config_dir / "configuration.yaml").write_text(
        CONFIGURATION_YAML.format(port=port), "utf-8"
    )
    (config_dir / "custom_components").mkdir()
    (config_dir / "custom_components" / "dacs_hw").symlink_to(INTEGRATION)
    storage = config_dir / ".storage"
    storage.mkdir()
    entry = config_entries.ConfigEntry(
        data={
            **device,
            "broker": {
                "host": LOOPBACK,
                "port": broker_port,
                "username": "",
                "password": "",
                "home_id": HOME_ID,
            },
        },
        discovery_keys=MappingProxyType({}),
        domain="dacs_hw",
        minor_version=1,
        options={
            "telemetry_interval": 10.0,
            "comfort_floor": 18.0,
            "participation_default": True,
        },
        source=config_entries.SOURCE_USER,
        subentries_data=None,
        title="DACS-HW Simulator Hybrid HP sim",
        unique_id=SERIAL,
        version=1,
    )
    (storage / config_entries.STORAGE_KEY).write_text(
        storage_document(
            config_entries.STORAGE_KEY,
            config_entries.STORAGE_VERSION,
            {"entries": [entry.as_dict()]},
            config_entries.STORAGE_VERSION_MINOR,
        ),
        "utf-8",
    )
    # Every step but the user, which the onboarding API creates below.
    (storage / "onboarding").write_text(
        storage_document(
            "onboarding",
            ONBOARDING_VERSION,
            {"done": ["core_config", "analytics", "integration"]},
        ),
        "utf-8",
    )


async def wait_for_home_assistant(
    session: aiohttp.ClientSession, url: str, process: asyncio.subprocess.Process
) -> None:
    """Wait until Home Assistant answers HTTP."""
    async with asyncio.timeout(STARTUP_TIMEOUT_S):
        while True:
            if process.returncode is not None:
                raise RuntimeError(
                    f"Home Assistant exited with code {process.returncode}"
                )
            with suppress(aiohttp.ClientError):
                async with session.get(f"{url}/api/onboarding") as answer:
                    if answer.status == 200:
                        return
            await asyncio.sleep(1)


async def onboard(session: aiohttp.ClientSession, url: str) -> str:
    """Create the user through the onboarding API; return an access token."""
    client_id = f"{url}/"
    async with session.post(
        f"{url}/api/onboarding/users",
        json={
            "client_id": client_id,
            "name": "DACS",
            "username": USERNAME,
            "password": PASSWORD,
            "language": "en",
        },
    ) as answer:
        answer.raise_for_status()
        auth_code = (await answer.json())["auth_code"]
    async with session.post(
        f"{url}/auth/token",
        data={
            "grant_type": "authorization_code",
            "code": auth_code,
            "client_id": client_id,
        },
    ) as answer:
        answer.raise_for_status()
        token: str = (await answer.json())["access_token"]
    return token


async def wait_for_entry(session: aiohttp.ClientSession, url: str, token: str) -> None:
    """Wait until the heat pump's entry is loaded and print what it reads."""
    headers = {"Authorization": f"Bearer {token}"}
    async with asyncio.timeout(60):
        while True:
            async with session.get(
                f"{url}/api/config/config_entries/entry",
                params={"domain": "dacs_hw"},
                headers=headers,
            ) as answer:
                entries = await answer.json()
            if entries and entries[0]["state"] == "loaded":
                break
            await asyncio.sleep(1)
    async with session.get(
        f"{url}/api/states/sensor.hybrid_heat_pump_electric_power", headers=headers
    ) as answer:
        state = await answer.json()
    print(f"Heat pump loaded: electric power {state['state']} W")


async def send_flex_event(broker_port: int, minutes: float) -> None:
    """Play the aggregator once: a flexibility event for the demo home."""
    now = datetime.now(UTC)
    duration = max(60, round(minutes * 60))
    command = Command(
        home_id=HOME_ID,
        command_id=f"demo-{now:%H%M%S}",
        issued_at=now,
        expires_at=now + timedelta(seconds=duration + 120),
        reason=CommandReason.TEST,
        envelope=(PowerInterval(start=now, duration_s=duration, max_power_w=900),),
    )
    async with aiomqtt.Client(
        LOOPBACK, broker_port, identifier="demo-aggregator"
    ) as client:
        await client.publish(
            topic(HOME_ID, Channel.COMMAND), encode(command), qos=1, retain=True
        )
    print(f"Sent a {minutes:g}-minute test flexibility event (900 W).")


async def run(arguments: argparse.Namespace, config_dir: Path, broker_port: int) -> int:
    """Run the heat pump and Home Assistant until Ctrl-C (or --duration)."""
    port = arguments.port
    device_port = find_free_port()
    simulator: SimulatedS2HeatPump | SimulatedHeatPumpServer[HybridHome]
    if arguments.s2:
        token = secrets.token_urlsafe(12)
        device: dict[str, object] = {
            "kind": "s2",
            "host": LOOPBACK,
            "port": device_port,
            "token": token,
            "s2_control": "pebc",
            "profile": "s2",
        }
        simulator = SimulatedS2HeatPump(
            build_home(SimulatedHomeOptions(serial=SERIAL)),
            f"ws://{LOOPBACK}:{device_port}/s2",
            token=token,
            serial=SERIAL,
            speed=arguments.speed,
        )
        described = f"S2 over ws://{LOOPBACK}:{device_port}/s2 (PEBC)"
    else:
        device = {
            "host": LOOPBACK,
            "port": device_port,
            "device_id": 1,
            "profile": "dacs",
        }
        simulator = build_simulated_heat_pump(
            SimulatedHomeOptions(profile="dacs", serial=SERIAL),
            port=device_port,
            speed=arguments.speed,
            autorun=True,
        )
        described = f"Modbus TCP {LOOPBACK}:{device_port} (DACS profile)"
    prepare_config(config_dir, port, device, broker_port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    url = f"http://{LOOPBACK}:{port}"
    console = (config_dir / "hass-console.log").open("wb")
    await simulator.start()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "homeassistant",
        "--config",
        str(config_dir),
        "--skip-pip",
        stdout=console,
        stderr=subprocess.STDOUT,
    )
    try:
        async with aiohttp.ClientSession() as session:
            print(f"Starting Home Assistant in {config_dir} ...")
            await wait_for_home_assistant(session, url, process)
            token = await onboard(session, url)
            await wait_for_entry(session, url, token)
        if arguments.flex_event > 0:
            await send_flex_event(broker_port, arguments.flex_event)
        print()
        print(f"Home Assistant:  {url}")
        print(f"Log in as:       {USERNAME} / {PASSWORD}")
        print(f"Heat pump:       {described}")
        print(f"Home broker:     mqtt://{LOOPBACK}:{broker_port} (home {HOME_ID})")
        print(f"Logs:            {config_dir / 'home-assistant.log'}")
        print("Press Ctrl-C to stop.")
        waits = [asyncio.create_task(stop.wait()), asyncio.create_task(process.wait())]
        await asyncio.wait(
            waits, timeout=arguments.duration, return_when=asyncio.FIRST_COMPLETED
        )
        for waiting in waits:
            waiting.cancel()
    finally:
        print("Stopping ...")
        if process.returncode is None:
            process.terminate()
            try:
                async with asyncio.timeout(STOP_TIMEOUT_S):
                    await process.wait()
            except TimeoutError:
                process.kill()
                await process.wait()
        await simulator.stop()
        console.close()
    return 0 if process.returncode in (0, -signal.SIGTERM) else 1


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    arguments = parse_arguments(argv)
    ensure_frontend()
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
