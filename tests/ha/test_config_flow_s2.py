"""Adding an S2 heat pump: it dials Home Assistant, which pairs with it as its CEM."""

from __future__ import annotations

from collections.abc import AsyncIterator
import socket
from unittest.mock import patch

from homeassistant.config_entries import SOURCE_USER, ConfigEntryState, ConfigFlowResult
from homeassistant.const import CONF_HOST, CONF_PORT, CONF_TOKEN
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.dacs_hw.const import CONF_KIND, CONF_S2_CONTROL, DOMAIN, KIND_S2
from dacs.devices.s2 import S2UnsupportedError
from dacs.testbed.servers import find_free_port
from dacs.testbed.sim.s2_resource_manager import SimulatedS2HeatPump
from dacs.testbed.sim.simulated_heat_pump import SimulatedHomeOptions, build_home

TOKEN = "pair-me-please"
SERIAL = "S2-HA-0001"


def _form(port: int, token: str = TOKEN, control: str = "pebc") -> dict[str, object]:
    return {
        CONF_HOST: "127.0.0.1",
        CONF_PORT: port,
        CONF_TOKEN: token,
        CONF_S2_CONTROL: control,
    }


def _device(port: int, token: str = TOKEN) -> SimulatedS2HeatPump:
    return SimulatedS2HeatPump(
        build_home(SimulatedHomeOptions()),
        f"ws://127.0.0.1:{port}/s2",
        token=token,
        serial=SERIAL,
        speed=60.0,
        measure_s=0.5,
        retry_s=0.1,
    )


@pytest.fixture
async def device() -> AsyncIterator[tuple[int, SimulatedS2HeatPump]]:
    """A simulated S2 heat pump that keeps dialling a free port."""
    port = find_free_port()
    simulated = _device(port)
    await simulated.start()
    yield port, simulated
    await simulated.stop()


@pytest.fixture(autouse=True)
def quick_pairing() -> AsyncIterator[None]:
    """Wait 2 s, not 30, for a device that does not come."""
    with (
        patch("custom_components.dacs_hw.config_flow.S2_PAIR_TIMEOUT_S", 2.0),
        patch("custom_components.dacs_hw.S2_PAIR_TIMEOUT_S", 2.0),
    ):
        yield  # type: ignore[misc]


async def _s2_form(hass: HomeAssistant) -> ConfigFlowResult:
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_USER}
    )
    assert result["type"] is FlowResultType.MENU
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "s2"}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "s2"
    return result


def _assert_created(result: ConfigFlowResult, port: int) -> None:
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "DACS simulator Hybrid 2.0 kW (S2)"
    assert result["result"].unique_id == SERIAL
    assert result["data"] == {
        CONF_KIND: KIND_S2,
        CONF_HOST: "127.0.0.1",
        CONF_PORT: port,
        CONF_TOKEN: TOKEN,
        CONF_S2_CONTROL: "pebc",
        "profile": "s2",
    }


async def test_s2_flow(
    hass: HomeAssistant, device: tuple[int, SimulatedS2HeatPump]
) -> None:
    port, _ = device
    result = await _s2_form(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], _form(port)
    )
    _assert_created(result, port)


async def test_wrong_token_then_the_right_one(
    hass: HomeAssistant, device: tuple[int, SimulatedS2HeatPump]
) -> None:
    """The device's token does not match: nothing pairs; the right token does."""
    port, _ = device
    result = await _s2_form(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], _form(port, token="not-the-token")
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "no_s2_device"}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], _form(port)
    )
    _assert_created(result, port)


async def test_no_device_then_it_comes(hass: HomeAssistant) -> None:
    port = find_free_port()
    result = await _s2_form(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], _form(port)
    )
    assert result["errors"] == {"base": "no_s2_device"}
    simulated = _device(port)
    await simulated.start()
    try:
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], _form(port)
        )
    finally:
        await simulated.stop()
    _assert_created(result, port)


async def test_port_taken_then_free(
    hass: HomeAssistant, device: tuple[int, SimulatedS2HeatPump]
) -> None:
    port, _ = device
    taken = socket.socket()
    taken.bind(("127.0.0.1", port))
    taken.listen()
    result = await _s2_form(hass)
    try:
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], _form(port)
        )
    finally:
        taken.close()
    assert result["errors"] == {"base": "cannot_listen"}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], _form(port)
    )
    _assert_created(result, port)


@pytest.mark.parametrize(
    ("side_effect", "error"),
    [
        (S2UnsupportedError("offers FILL_RATE_BASED_CONTROL"), "s2_unsupported"),
        (RuntimeError("boom"), "unknown"),
    ],
)
async def test_unusable_device_or_unexpected_error_then_retry(
    hass: HomeAssistant,
    device: tuple[int, SimulatedS2HeatPump],
    side_effect: Exception,
    error: str,
) -> None:
    port, _ = device
    result = await _s2_form(hass)
    with patch(
        "custom_components.dacs_hw.config_flow._async_pair_s2", side_effect=side_effect
    ):
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], _form(port)
        )
    assert result["errors"] == {"base": error}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], _form(port)
    )
    _assert_created(result, port)


async def test_s2_entry_runs_the_home_controller(
    hass: HomeAssistant, device: tuple[int, SimulatedS2HeatPump]
) -> None:
    """The entry loads with the S2 device as its heat pump, and unloads cleanly."""
    port, simulated = device
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="S2",
        unique_id=SERIAL,
        data={
            CONF_KIND: KIND_S2,
            CONF_HOST: "127.0.0.1",
            CONF_PORT: port,
            CONF_TOKEN: TOKEN,
            CONF_S2_CONTROL: "pebc",
            "profile": "s2",
        },
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    controller = entry.runtime_data.controller
    assert controller.snapshot.device_available
    assert controller.snapshot.capabilities is not None
    assert controller.snapshot.capabilities.safety_floor_w == simulated.floor_w
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()


async def test_s2_entry_retries_while_the_device_is_away(hass: HomeAssistant) -> None:
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="S2",
        unique_id=SERIAL,
        data={
            CONF_KIND: KIND_S2,
            CONF_HOST: "127.0.0.1",
            CONF_PORT: find_free_port(),
            CONF_TOKEN: TOKEN,
            CONF_S2_CONTROL: "pebc",
            "profile": "s2",
        },
    )
    entry.add_to_hass(hass)
    await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.SETUP_RETRY
    assert entry.reason is not None
    assert "has not connected" in entry.reason
