"""A release installed the way a resident installs it, with no internet.

A fresh virtual environment holds Home Assistant and nothing of DACS-HW; the
integration is copied into a fresh configuration directory as HACS copies it;
Home Assistant, a real process, installs the integration's requirement
itself: the wheel built from this checkout, fetched by URL from a local
stand-in for the GitHub release, and its dependencies from a local
wheelhouse (``make wheelhouse``). uv, which Home Assistant runs, is told to
use no package index, and every other host goes to a closed proxy port. The
config entry is then created through the REST config-flow API against the
Modbus simulator, and the heat pump's entities must appear.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
import functools
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
import json
import os
from pathlib import Path
import shutil
import subprocess
import sys
import threading
import time
from typing import Any

import aiohttp
import pytest

from dacs.testbed.servers.ports import LOOPBACK, find_free_port
from dacs.testbed.sim.simulated_heat_pump import (
    SimulatedHomeOptions,
    build_simulated_heat_pump,
)
from scripts import release
from scripts.run_ha import (
    CONFIGURATION_YAML,
    onboard,
    wait_for_entry,
    wait_for_home_assistant,
)

REPOSITORY = Path(__file__).resolve().parents[2]
INTEGRATION = REPOSITORY / "custom_components" / "dacs_hw"
UV_CACHE = REPOSITORY / ".tools" / "uv-cache"
SERIAL = "SIM-RELEASE-0001"
# What an installer checks first (docs/installer-guide.md, commissioning);
# the participation switch comes with the link to a home broker.
EXPECTED_ENTITIES = {
    "sensor.hybrid_heat_pump_electric_power",
    "sensor.hybrid_heat_pump_power_limit_in_force",
    "sensor.hybrid_heat_pump_power_limit_source",
    "number.hybrid_heat_pump_manual_power_limit",
    "binary_sensor.hybrid_heat_pump_heat_pump_problem",
    "climate.hybrid_heat_pump",
}


def _uv(*arguments: str, env: dict[str, str] | None = None) -> None:
    subprocess.run(
        [sys.executable, "-m", "uv", *arguments],
        check=True,
        env=env,
        stdout=subprocess.DEVNULL,
    )


def _clean_environment(**extra: str) -> dict[str, str]:
    """This process's environment without anything that points at the checkout."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PYTHON", "PIP_", "UV_", "VIRTUAL_ENV"))
        and key.lower() not in {"http_proxy", "https_proxy", "all_proxy", "no_proxy"}
    }
    return env | {"UV_CACHE_DIR": str(UV_CACHE)} | extra


def _offline_environment(tmp_path: Path, wheelhouse: Path) -> dict[str, str]:
    """What Home Assistant runs under: no index, only the local wheelhouse."""
    uv_toml = tmp_path / "uv.toml"
    uv_toml.write_text(
        f"no-index = true\nfind-links = [{json.dumps(str(wheelhouse))}]\n", "utf-8"
    )
    # Port 9 (discard) is closed: anything that tries the internet fails fast.
    closed = f"http://{LOOPBACK}:9"
    return _clean_environment(
        UV_CONFIG_FILE=str(uv_toml),
        PIP_NO_INDEX="1",
        PIP_FIND_LINKS=str(wheelhouse),
        HTTP_PROXY=closed,
        HTTPS_PROXY=closed,
        ALL_PROXY=closed,
        NO_PROXY=LOOPBACK,
    )


class _QuietHandler(SimpleHTTPRequestHandler):
    """Serves files without a line on stderr per request."""

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        """Stay quiet."""


@contextmanager
def release_server(root: Path) -> Iterator[str]:
    """Serve ``root`` over HTTP as GitHub serves release assets; yield its URL."""
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = ThreadingHTTPServer((LOOPBACK, 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{LOOPBACK}:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def install_integration(config_dir: Path, releases_url: str, version: str) -> None:
    """Copy the integration as HACS does; the release is served locally."""
    target = config_dir / "custom_components" / "dacs_hw"
    shutil.copytree(INTEGRATION, target, ignore=shutil.ignore_patterns("__pycache__"))
    manifest_path = target / "manifest.json"
    manifest = json.loads(manifest_path.read_text("utf-8"))
    # The shipped requirement, with only the host of the release replaced.
    assert manifest["requirements"] == [release.integration_requirement(version)]
    manifest["requirements"] = [release.integration_requirement(version, releases_url)]
    manifest_path.write_text(json.dumps(manifest, indent=2), "utf-8")


@asynccontextmanager
async def home_assistant(
    venv: Path, config_dir: Path, env: dict[str, str]
) -> AsyncIterator[asyncio.subprocess.Process]:
    """Run ``hass`` from the clean venv until the block ends."""
    console = (config_dir / "console.log").open("wb")
    process = await asyncio.create_subprocess_exec(
        str(venv / "bin" / "hass"),
        "--config",
        str(config_dir),
        stdout=console,
        stderr=subprocess.STDOUT,
        env=env,
    )
    try:
        yield process
    finally:
        if process.returncode is None:
            process.terminate()
            try:
                async with asyncio.timeout(30):
                    await process.wait()
            except TimeoutError:
                process.kill()
                await process.wait()
        console.close()


def _log(config_dir: Path) -> str:
    return "\n".join(
        path.read_text("utf-8", "replace")[-6000:]
        for path in (config_dir / "console.log", config_dir / "home-assistant.log")
        if path.exists()
    )


def _installed(venv: Path, distribution: str) -> dict[str, Any] | None:
    """Version and direct URL of a distribution in the clean venv, if installed."""
    script = (
        "import importlib.metadata as m, json, sys\n"
        "try: d = m.distribution(sys.argv[1])\n"
        "except m.PackageNotFoundError: print('null')\n"
        "else: print(json.dumps({'version': d.version,"
        " 'direct_url': json.loads(d.read_text('direct_url.json') or 'null')}))\n"
    )
    answer = subprocess.run(
        [str(venv / "bin" / "python"), "-c", script, distribution],
        check=True,
        capture_output=True,
        text=True,
        env=_clean_environment(),
    )
    found: dict[str, Any] | None = json.loads(answer.stdout)
    return found


@pytest.mark.timeout(600)
async def test_home_assistant_installs_the_release_itself(tmp_path: Path) -> None:
    wheelhouse = release.wheelhouse_dir()
    if not wheelhouse.is_dir():
        pytest.fail(f"{wheelhouse} is missing: run `make wheelhouse` once")
    assert not list(wheelhouse.glob("dacs_hw-*")), "the wheelhouse holds dacs-hw"
    version = release.project_version()
    timings: dict[str, float] = {}

    # The release: the wheel built from this checkout, where GitHub keeps it.
    started = time.monotonic()
    releases = tmp_path / "releases"
    wheel, _sdist = release.build(releases / f"v{version}", find_links=wheelhouse)
    timings["build the wheel and sdist"] = time.monotonic() - started

    # A virtual environment with Home Assistant only (as it installs itself).
    started = time.monotonic()
    venv = tmp_path / "venv"
    env = _clean_environment()
    _uv("venv", "--quiet", "--python", sys.executable, str(venv), env=env)
    _uv(
        "pip",
        "install",
        "--quiet",
        "--python",
        str(venv / "bin" / "python"),
        "--no-index",
        "--find-links",
        str(wheelhouse),
        f"homeassistant=={release.home_assistant_version()}",
        *release.home_assistant_runtime_requirements(),
        env=env,
    )
    timings["create the Home Assistant venv"] = time.monotonic() - started
    for distribution in ("dacs-hw", "pymodbus", "aiomqtt", "jsonschema-rs"):
        assert _installed(venv, distribution) is None, distribution

    port = find_free_port()
    config_dir = tmp_path / "config"
    config_dir.mkdir()
    # run_ha's configuration, and a word from Home Assistant on each install.
    logs = "logger:\n  default: warning\n  logs:\n"
    assert logs in CONFIGURATION_YAML
    (config_dir / "configuration.yaml").write_text(
        CONFIGURATION_YAML.format(port=port).replace(
            logs, f"{logs}    homeassistant.util.package: info\n"
        ),
        "utf-8",
    )
    modbus_port = find_free_port()
    simulator = build_simulated_heat_pump(
        SimulatedHomeOptions(profile="dacs", serial=SERIAL),
        port=modbus_port,
        speed=1.0,
        autorun=True,
    )
    url = f"http://{LOOPBACK}:{port}"
    offline = _offline_environment(tmp_path, wheelhouse)
    await simulator.start()
    try:
        with release_server(releases) as releases_url:
            install_integration(config_dir, releases_url, version)
            started = time.monotonic()
            async with (
                home_assistant(venv, config_dir, offline) as process,
                aiohttp.ClientSession() as session,
            ):
                await _wait_until_up(session, url, process, config_dir)
                timings["start Home Assistant"] = time.monotonic() - started
                token = await onboard(session, url)
                headers = {"Authorization": f"Bearer {token}"}
                started = time.monotonic()
                entry = await _add_heat_pump(
                    session, url, headers, modbus_port, config_dir
                )
                timings["install the requirement and add the heat pump"] = (
                    time.monotonic() - started
                )
                assert entry["title"], entry
                await wait_for_entry(session, url, token)
                async with session.get(f"{url}/api/states", headers=headers) as answer:
                    states = {
                        state["entity_id"]: state for state in await answer.json()
                    }
        first_log = (config_dir / "home-assistant.log").read_text("utf-8")
        # A restart with the release out of reach: the installed wheel meets
        # the requirement, so Home Assistant needs neither GitHub nor an index.
        started = time.monotonic()
        async with (
            home_assistant(venv, config_dir, offline) as process,
            aiohttp.ClientSession() as session,
        ):
            await _wait_until_up(session, url, process, config_dir)
            await wait_for_entry(session, url, token)
        timings["restart with the release out of reach"] = time.monotonic() - started
    finally:
        await simulator.stop()
    installing = f"Attempting install of {releases_url}"
    assert installing in first_log
    # Home Assistant starts a new log at each start: this is the restart's.
    restart_log = (config_dir / "home-assistant.log").read_text("utf-8")
    assert installing not in restart_log
    assert "Requirements for dacs_hw not found" not in restart_log

    installed = _installed(venv, "dacs-hw")
    assert installed is not None, _log(config_dir)
    assert installed["version"] == version
    # Installed by Home Assistant, from the release's URL.
    assert installed["direct_url"]["url"].startswith(
        release.wheel_url(version, releases_url)
    )
    assert wheel.name in installed["direct_url"]["url"]
    pymodbus = _installed(venv, "pymodbus")
    assert pymodbus is not None
    # Home Assistant's own pin, not the newest on an index.
    assert pymodbus["version"] == _home_assistant_pin("pymodbus")
    assert set(states) >= EXPECTED_ENTITIES, sorted(states)
    power = states["sensor.hybrid_heat_pump_electric_power"]
    assert float(power["state"]) >= 0
    assert power["attributes"]["unit_of_measurement"] == "W"
    # For people to look at (the test's figures in the report of #15).
    artifacts = REPOSITORY / "artifacts"
    artifacts.mkdir(exist_ok=True)
    (artifacts / "clean-install-timings.json").write_text(
        json.dumps({step: round(s, 2) for step, s in timings.items()}, indent=2)
    )


async def _wait_until_up(
    session: aiohttp.ClientSession,
    url: str,
    process: asyncio.subprocess.Process,
    config_dir: Path,
) -> None:
    try:
        await wait_for_home_assistant(session, url, process)
    except RuntimeError as error:
        pytest.fail(f"{error}:\n{_log(config_dir)}")


def _home_assistant_pin(name: str) -> str:
    for line in release.home_assistant_constraints().read_text().splitlines():
        if line.startswith(f"{name}=="):
            return line.split("==", 1)[1].strip()
    raise AssertionError(f"Home Assistant pins no {name}")


async def _add_heat_pump(
    session: aiohttp.ClientSession,
    url: str,
    headers: dict[str, str],
    modbus_port: int,
    config_dir: Path,
) -> dict[str, Any]:
    """The installer's config flow: Add integration -> DACS-HW -> Modbus -> the address."""
    async with session.post(
        f"{url}/api/config/config_entries/flow",
        json={"handler": "dacs_hw", "show_advanced_options": False},
        headers=headers,
    ) as answer:
        # Here Home Assistant has installed the requirement (or failed to).
        assert answer.status == 200, f"{await answer.text()}\n{_log(config_dir)}"
        menu = await answer.json()
    # The first step asks how the heat pump is connected: Modbus or S2.
    assert menu["type"] == "menu", menu
    assert "modbus" in menu["menu_options"], menu
    async with session.post(
        f"{url}/api/config/config_entries/flow/{menu['flow_id']}",
        json={"next_step_id": "modbus"},
        headers=headers,
    ) as answer:
        assert answer.status == 200, await answer.text()
        form = await answer.json()
    assert form["type"] == "form", form
    assert form["step_id"] == "modbus", form
    async with session.post(
        f"{url}/api/config/config_entries/flow/{form['flow_id']}",
        json={"host": LOOPBACK, "port": modbus_port, "device_id": 1},
        headers=headers,
    ) as answer:
        assert answer.status == 200, await answer.text()
        created = await answer.json()
    assert created["type"] == "create_entry", created
    result: dict[str, Any] = created["result"]
    return result
