"""A real Home Assistant with DACS-HW, linked to a simulated heat pump.

``make ha`` and the frontend test run the same thing: Home Assistant core
(``python -m homeassistant``) from this virtual environment in a fresh
configuration directory, where ``custom_components/dacs_hw`` links to this
repository's integration and the heat pump's config entry (with its link to a
home broker) is written to ``.storage`` before Home Assistant starts, with
the http settings (``dacs.testbed.home_assistant_config``). The
heat pump is the simulator, over Modbus TCP or S2, running faster than real
time.

Onboarding is finished through Home Assistant's own onboarding API, which
creates the user ``dacs`` with password ``dacs``; the other onboarding steps
are marked done beforehand, because finishing them through the API would set
up integrations that call out to the internet.

Only this module imports ``homeassistant``; ``dacs.testbed.servers`` does not
re-export it, so the other throwaway servers run without Home Assistant.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
import importlib.metadata
import json
from pathlib import Path
import secrets
import signal
import subprocess
import sys
from types import MappingProxyType
from typing import IO, Any

import aiohttp
import aiomqtt
from homeassistant import bootstrap, config_entries
from homeassistant.components.http.config import STORAGE_KEY as HTTP_STORAGE_KEY
from homeassistant.components.onboarding import STORAGE_VERSION as ONBOARDING_VERSION
from homeassistant.const import BASE_PLATFORMS
from packaging.requirements import InvalidRequirement, Requirement

from dacs.protocol import Command, CommandReason, PowerInterval, encode, topic
from dacs.protocol.topics import Channel
from dacs.testbed.sim.hybrid import HybridHome
from dacs.testbed.sim.s2_resource_manager import SimulatedS2HeatPump
from dacs.testbed.sim.server import SimulatedHeatPumpServer
from dacs.testbed.sim.simulated_heat_pump import (
    SimulatedHomeOptions,
    build_home,
    build_simulated_heat_pump,
)

from .home_assistant_config import (
    CONFIGURED,
    CORE_YAML,
    INTEGRATIONS_YAML,
    http_storage,
    storage_document,
)
from .servers.errors import ServiceStartError
from .servers.ports import LOOPBACK, find_free_port

REPOSITORY = Path(__file__).resolve().parents[4]
INTEGRATION = REPOSITORY / "custom_components" / "dacs_hw"
SERIAL = "SIM-DEMO-0001"
HOME_ID = "h-demo"
USERNAME = PASSWORD = "dacs"  # noqa: S105 - a throwaway local demo account
STARTUP_TIMEOUT_S = 180.0
ENTRY_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 30.0
HOME_ASSISTANT_COMPONENTS = Path(config_entries.__file__).parent / "components"


class HomeAssistantStartError(ServiceStartError):
    """Home Assistant did not start, or the heat pump's entry did not load."""


@dataclass(frozen=True, kw_only=True)
class HomeAssistantOptions:
    """How to run Home Assistant and its simulated heat pump."""

    config_dir: Path
    broker_port: int
    port: int | None = None  # None: a free port
    speed: float = 5.0  # simulated seconds per real second
    s2: bool = False  # the heat pump speaks S2 instead of Modbus TCP


@dataclass(frozen=True, kw_only=True)
class RunningHomeAssistant:
    """A started Home Assistant, onboarded, with the heat pump's entry loaded."""

    url: str
    token: str  # an access token of the user ``dacs``
    config_dir: Path
    broker_port: int
    heat_pump: str  # how the heat pump is reached, in words
    electric_power: str  # the heat pump's first reading, as Home Assistant states it
    process: asyncio.subprocess.Process

    @property
    def log_path(self) -> Path:
        """Home Assistant's own log file."""
        return self.config_dir / "home-assistant.log"


@dataclass(frozen=True)
class MissingRequirement:
    """A package an integration Home Assistant sets up needs, absent or another version."""

    domain: str
    requirement: str
    installed: str | None


def prepare_config(
    config_dir: Path, port: int, device: Mapping[str, object], broker_port: int
) -> None:
    """Write configuration.yaml, the integration link and the config entry."""
    (config_dir / "configuration.yaml").write_text(
        CORE_YAML + INTEGRATIONS_YAML, "utf-8"
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
    (storage / HTTP_STORAGE_KEY).write_text(http_storage(port), "utf-8")
    # Every step but the user, which the onboarding API creates.
    (storage / "onboarding").write_text(
        storage_document(
            "onboarding",
            ONBOARDING_VERSION,
            {"done": ["core_config", "analytics", "integration"]},
        ),
        "utf-8",
    )


def _manifest(domain: str) -> dict[str, Any] | None:
    path = HOME_ASSISTANT_COMPONENTS / domain / "manifest.json"
    if not path.is_file():
        return None
    manifest: dict[str, Any] = json.loads(path.read_text("utf-8"))
    return manifest


def integrations_set_up(configured: Iterable[str]) -> dict[str, dict[str, Any]]:
    """The manifests of every built-in integration Home Assistant sets up.

    Home Assistant always sets up its default integrations and base entity
    platforms besides the configured ones; each pulls in its dependencies.
    """
    queue = [
        *configured,
        *bootstrap.CORE_INTEGRATIONS,
        *bootstrap.DEFAULT_INTEGRATIONS,
        *BASE_PLATFORMS,
    ]
    found: dict[str, dict[str, Any]] = {}
    seen: set[str] = set()
    while queue:
        domain = queue.pop()
        if domain in seen:
            continue
        seen.add(domain)
        manifest = _manifest(domain)
        if manifest is None:
            continue
        found[domain] = manifest
        queue.extend(manifest.get("dependencies", ()))
    return found


def missing_requirements(
    configured: Iterable[str] = CONFIGURED,
) -> list[MissingRequirement]:
    """Packages those integrations pin that this environment lacks (or has at another version).

    Run with ``--skip-pip``, Home Assistant does not install them itself; a
    missing one fails its integration, and the frontend stays on "Loading..."
    when it is one the frontend asks (``conversation`` needs ``hassil``).
    """
    missing = []
    for domain, manifest in sorted(integrations_set_up(configured).items()):
        for text in manifest.get("requirements", ()):
            try:
                requirement = Requirement(text)
            except InvalidRequirement:
                missing.append(MissingRequirement(domain, text, None))
                continue
            try:
                installed: str | None = importlib.metadata.version(requirement.name)
            except importlib.metadata.PackageNotFoundError:
                installed = None
            if installed is None or not requirement.specifier.contains(
                installed, prereleases=True
            ):
                missing.append(MissingRequirement(domain, text, installed))
    return missing


async def wait_for_home_assistant(
    session: aiohttp.ClientSession, url: str, process: asyncio.subprocess.Process
) -> None:
    """Wait until Home Assistant answers HTTP."""
    try:
        async with asyncio.timeout(STARTUP_TIMEOUT_S):
            while True:
                if process.returncode is not None:
                    raise HomeAssistantStartError(
                        f"Home Assistant exited with code {process.returncode}"
                    )
                with suppress(aiohttp.ClientError):
                    async with session.get(f"{url}/api/onboarding") as answer:
                        if answer.status == 200:
                            return
                await asyncio.sleep(1)
    except TimeoutError:
        raise HomeAssistantStartError(
            f"Home Assistant did not answer on {url} within {STARTUP_TIMEOUT_S:g} s"
        ) from None


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


async def wait_for_entry(session: aiohttp.ClientSession, url: str, token: str) -> str:
    """Wait until the heat pump's entry is loaded; return its electric power state."""
    headers = {"Authorization": f"Bearer {token}"}
    try:
        async with asyncio.timeout(ENTRY_TIMEOUT_S):
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
    except TimeoutError:
        raise HomeAssistantStartError(
            f"the heat pump's entry did not load within {ENTRY_TIMEOUT_S:g} s"
        ) from None
    async with session.get(
        f"{url}/api/states/sensor.hybrid_heat_pump_electric_power", headers=headers
    ) as answer:
        state = await answer.json()
    power: str = state["state"]
    return power


async def send_flex_event(broker_port: int, minutes: float) -> Command:
    """Play the aggregator once: a flexibility event (900 W) for the demo home."""
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
    return command


def _simulated_heat_pump(
    options: HomeAssistantOptions,
) -> tuple[
    dict[str, object], SimulatedS2HeatPump | SimulatedHeatPumpServer[HybridHome], str
]:
    """The config entry's device data, the simulator, and how it is reached."""
    device_port = find_free_port()
    if options.s2:
        token = secrets.token_urlsafe(12)
        s2 = SimulatedS2HeatPump(
            build_home(SimulatedHomeOptions(serial=SERIAL)),
            f"ws://{LOOPBACK}:{device_port}/s2",
            token=token,
            serial=SERIAL,
            speed=options.speed,
        )
        device: dict[str, object] = {
            "kind": "s2",
            "host": LOOPBACK,
            "port": device_port,
            "token": token,
            "s2_control": "pebc",
            "profile": "s2",
        }
        return device, s2, f"S2 over ws://{LOOPBACK}:{device_port}/s2 (PEBC)"
    modbus = build_simulated_heat_pump(
        SimulatedHomeOptions(profile="dacs", serial=SERIAL),
        port=device_port,
        speed=options.speed,
        autorun=True,
    )
    device = {"host": LOOPBACK, "port": device_port, "device_id": 1, "profile": "dacs"}
    return device, modbus, f"Modbus TCP {LOOPBACK}:{device_port} (DACS profile)"


async def _stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is not None:
        return
    process.terminate()
    try:
        async with asyncio.timeout(STOP_TIMEOUT_S):
            await process.wait()
    except TimeoutError:
        process.kill()
        await process.wait()


def clean_exit(process: asyncio.subprocess.Process) -> bool:
    """Whether Home Assistant ended by itself or on our SIGTERM."""
    return process.returncode in (0, -signal.SIGTERM)


@asynccontextmanager
async def home_assistant_with_heat_pump(
    options: HomeAssistantOptions,
) -> AsyncIterator[RunningHomeAssistant]:
    """Start the simulator and Home Assistant; stop both on leaving.

    The home broker (``options.broker_port``) is the caller's: the integration
    links to it, as to the DACS Connect add-on's broker.
    """
    port = options.port or find_free_port()
    device, simulator, described = _simulated_heat_pump(options)
    await asyncio.to_thread(
        prepare_config, options.config_dir, port, device, options.broker_port
    )
    url = f"http://{LOOPBACK}:{port}"
    console: IO[bytes] = await asyncio.to_thread(
        (options.config_dir / "hass-console.log").open, "wb"
    )
    await simulator.start()
    process: asyncio.subprocess.Process | None = None
    try:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "homeassistant",
            "--config",
            str(options.config_dir),
            "--skip-pip",
            stdout=console,
            stderr=subprocess.STDOUT,
        )
        async with aiohttp.ClientSession() as session:
            await wait_for_home_assistant(session, url, process)
            token = await onboard(session, url)
            power = await wait_for_entry(session, url, token)
        yield RunningHomeAssistant(
            url=url,
            token=token,
            config_dir=options.config_dir,
            broker_port=options.broker_port,
            heat_pump=described,
            electric_power=power,
            process=process,
        )
    finally:
        if process is not None:
            await _stop(process)
        await simulator.stop()
        console.close()
