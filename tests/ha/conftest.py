"""Fixtures for tests that run inside a real Home Assistant core.

The heat pump is the project's simulator on a real Modbus TCP port of
127.0.0.1; the home broker is a real Mosquitto. The simulator does not run
its own clock here (``autorun=False``): its physics only move when a test
calls ``advance()``, which keeps entity states and snapshots deterministic.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import nullcontext
import json
from typing import Any
from unittest.mock import PropertyMock, patch

import aiomqtt
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import CONF_HOST, CONF_PASSWORD, CONF_PORT, CONF_USERNAME
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.syrupy import HomeAssistantSnapshotExtension
from syrupy.assertion import SnapshotAssertion

from custom_components.dacs_hw.const import (
    CONF_BROKER,
    CONF_COMFORT_FLOOR,
    CONF_DEVICE_ID,
    CONF_HOME_ID,
    CONF_PARTICIPATION_DEFAULT,
    CONF_PROFILE,
    CONF_TELEMETRY_INTERVAL,
    DOMAIN,
)
from dacs.testbed.servers import MosquittoBroker
from dacs.testbed.sim.hybrid import HybridHome
from dacs.testbed.sim.server import SimulatedHeatPumpServer
from dacs.testbed.sim.simulated_heat_pump import (
    SimulatedHomeOptions,
    build_simulated_heat_pump,
)
from tests.home.conftest import AggregatorProbe

SERIAL = "DACS-TEST-0001"
HOME = "h-0042"
TITLE = "DACS-HW Simulator Hybrid HP sim"

type Simulator = SimulatedHeatPumpServer[HybridHome]


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(enable_custom_integrations: None) -> None:
    """Let Home Assistant load custom_components/dacs_hw in every HA test."""


@pytest.fixture(autouse=True)
def fast_home() -> Iterator[None]:
    """Short control and poll intervals and broker checks: the suite stays fast."""
    with (
        patch("custom_components.dacs_hw.CONTROL_INTERVAL_S", 0.1),
        patch("custom_components.dacs_hw.POLL_INTERVAL_S", 0.2),
        patch("custom_components.dacs_hw.DEVICE_TIMEOUT_S", 1.0),
        patch("custom_components.dacs_hw.config_flow.BROKER_CHECK_TIMEOUT_S", 1.0),
    ):
        yield


@pytest.fixture
def snapshot(snapshot: SnapshotAssertion) -> SnapshotAssertion:
    """Snapshots in Home Assistant's format, stored in tests/ha/snapshots/.

    The plugin defines this fixture too, but syrupy's own wins when both
    are plugins; Home Assistant core overrides it in a conftest, like here.
    """
    return snapshot.use_extension(HomeAssistantSnapshotExtension)


@pytest.fixture
def entity_registry_enabled_by_default() -> Iterator[None]:
    """Create entities that are disabled by default as enabled."""
    with patch(
        "homeassistant.helpers.entity.Entity.entity_registry_enabled_default",
        return_value=True,
        new_callable=PropertyMock,
    ):
        yield


@pytest.fixture
def profile() -> str:
    """The profile the simulated heat pump speaks (override to change it)."""
    return "dacs"


@pytest.fixture
async def simulator(profile: str) -> AsyncIterator[Simulator]:
    """A simulated hybrid heat pump on a free 127.0.0.1 port."""
    server = build_simulated_heat_pump(
        SimulatedHomeOptions(profile=profile, serial=SERIAL), autorun=False
    )
    async with server:
        yield server


@pytest.fixture
def linked() -> bool:
    """Whether the config entry is linked to the home broker (override to change)."""
    return True


@pytest.fixture
def broker(linked: bool) -> Iterator[MosquittoBroker | None]:
    """The home's Mosquitto where the entry is linked."""
    if not linked:
        yield None
        return
    with MosquittoBroker() as mosquitto:
        yield mosquitto


def broker_data(port: int) -> dict[str, Any]:
    """An entry's broker link to the test broker."""
    return {
        CONF_HOST: "127.0.0.1",
        CONF_PORT: port,
        CONF_USERNAME: "",
        CONF_PASSWORD: "",
        CONF_HOME_ID: HOME,
    }


@pytest.fixture
def mock_config_entry(
    simulator: Simulator, broker: MosquittoBroker | None, profile: str
) -> MockConfigEntry:
    """The config entry of the simulated heat pump."""
    data: dict[str, Any] = {
        CONF_HOST: "127.0.0.1",
        CONF_PORT: simulator.port,
        CONF_DEVICE_ID: 1,
        CONF_PROFILE: profile,
    }
    if broker is not None:
        data[CONF_BROKER] = broker_data(broker.port)
    return MockConfigEntry(
        domain=DOMAIN,
        title=TITLE,
        unique_id=SERIAL,
        data=data,
        options={
            CONF_TELEMETRY_INTERVAL: 0.3,
            CONF_COMFORT_FLOOR: 18.0,
            CONF_PARTICIPATION_DEFAULT: True,
        },
    )


async def wait_for(
    condition: Callable[[], bool], within_s: float = 5.0, step_s: float = 0.05
) -> None:
    """Poll state nothing announces (the simulator's registers, a broker) until true."""
    async with asyncio.timeout(within_s):
        while not condition():  # noqa: ASYNC110 - polling state no event announces
            await asyncio.sleep(step_s)


async def setup_entry(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    """Set up ``entry`` and wait until its broker link, if any, is up.

    Unloading while the link is still logging in cancels aiomqtt (2.5.1) in
    the middle of its handshake, after which it raises CancelledError from
    a socket callback when the connection closes: tests wait for the login.
    """
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    await wait_connected(hass, entry)


async def wait_connected(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    """Wait until the entry's broker link, if it has one, is logged in."""
    link = entry.runtime_data.controller.link
    if link is not None:
        assert await link.wait_connected(10)
        await hass.async_block_till_done()


@pytest.fixture
async def init_integration(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    request: pytest.FixtureRequest,
) -> AsyncIterator[MockConfigEntry]:
    """Set up the integration (one platform with ``indirect`` parametrisation).

    Unloaded afterwards while the simulator and the broker still run, the
    way a resident removing the integration would.
    """
    mock_config_entry.add_to_hass(hass)
    platform = getattr(request, "param", None)
    context = (
        patch("custom_components.dacs_hw.PLATFORMS", [platform])
        if platform
        else nullcontext()
    )
    with context:
        await setup_entry(hass, mock_config_entry)
        yield mock_config_entry
        if mock_config_entry.state is ConfigEntryState.LOADED:
            assert await hass.config_entries.async_unload(mock_config_entry.entry_id)
        await hass.async_block_till_done()


@pytest.fixture
async def probe(broker: MosquittoBroker | None) -> AsyncIterator[AggregatorProbe]:
    """The aggregator's side of the home broker (tests/home/conftest.py's probe)."""
    assert broker is not None
    async with aiomqtt.Client("127.0.0.1", broker.port, identifier="probe") as client:
        found = AggregatorProbe(client)
        await client.subscribe("dacs/v1/#", qos=1)

        async def collect() -> None:
            async for message in client.messages:
                try:
                    document = json.loads(bytes(message.payload))
                except ValueError:
                    continue
                found.received.append((str(message.topic), document))
                found.arrived.set()

        task = asyncio.create_task(collect())
        yield found
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
