"""Adding an S2 heat pump: it dials Home Assistant, which pairs with it as its CEM."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
import socket
from unittest.mock import patch

from homeassistant.config_entries import SOURCE_USER, ConfigEntryState, ConfigFlowResult
from homeassistant.const import CONF_HOST, CONF_PORT, CONF_TOKEN
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from s2python.connection.async_.medium.s2_medium import MediumCouldNotConnectError

from custom_components.dacs_hw.const import CONF_KIND, CONF_S2_CONTROL, DOMAIN, KIND_S2
from dacs.devices.s2 import S2Control, S2UnsupportedError
from dacs.testbed.servers import find_free_port
from dacs.testbed.sim.s2_resource_manager import SimulatedS2HeatPump
from dacs.testbed.sim.simulated_heat_pump import SimulatedHomeOptions, build_home
from tests.s2.test_cem_with_library_rm import (
    LibraryRm,
    _stop as stop_library_rm,
    start_library_rm,
)

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


# -- reconfiguring an S2 entry ------------------------------------------------


async def _dial_not_controllable(port: int) -> LibraryRm:
    """Dial until something listens, as a device that cannot be controlled."""
    while True:
        try:
            return await start_library_rm(
                f"ws://127.0.0.1:{port}/s2", token=TOKEN, with_pebc=False
            )
        except MediumCouldNotConnectError:
            await asyncio.sleep(0.1)


def _entry_data(port: int, token: str = TOKEN, control: str = "pebc") -> dict:
    return {
        CONF_KIND: KIND_S2,
        CONF_HOST: "127.0.0.1",
        CONF_PORT: port,
        CONF_TOKEN: token,
        CONF_S2_CONTROL: control,
        "profile": "s2",
    }


async def _loaded_entry(hass: HomeAssistant, port: int) -> MockConfigEntry:
    entry = MockConfigEntry(
        domain=DOMAIN, title="S2", unique_id=SERIAL, data=_entry_data(port)
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    return entry


async def _reconfigure_s2(
    hass: HomeAssistant, entry: MockConfigEntry
) -> ConfigFlowResult:
    result = await entry.start_reconfigure_flow(hass)
    assert result["type"] is FlowResultType.MENU
    assert result["menu_options"] == ["reconfigure_s2", "link_broker"]
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "reconfigure_s2"}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "reconfigure_s2"
    return result


async def _assert_reconfigured(
    hass: HomeAssistant, result: ConfigFlowResult, entry: MockConfigEntry, data: dict
) -> None:
    """The flow ended, the entry has ``data`` and runs again with it."""
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    assert dict(entry.data) == data
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    assert entry.runtime_data.controller.snapshot.device_available
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()


async def _pair_moved_device(
    hass: HomeAssistant,
    flow_id: str,
    entry: MockConfigEntry,
    port: int,
    token: str = TOKEN,
) -> None:
    """The heat pump now dials ``port``: the flow pairs it and the entry follows."""
    moved = _device(port, token=token)
    await moved.start()
    try:
        result = await hass.config_entries.flow.async_configure(
            flow_id, _form(port, token=token)
        )
        await _assert_reconfigured(hass, result, entry, _entry_data(port, token=token))
    finally:
        await moved.stop()


async def test_reconfigure_same_port_new_control_keeps_the_token(
    hass: HomeAssistant, device: tuple[int, SimulatedS2HeatPump]
) -> None:
    """The entry lets go of its port while pairing; an empty token keeps the old one."""
    port, _ = device
    entry = await _loaded_entry(hass, port)
    result = await _reconfigure_s2(hass, entry)
    # The form shows the entry's settings, never its token.
    schema = {str(key): key for key in result["data_schema"].schema}
    assert schema[CONF_PORT].description == {"suggested_value": port}
    assert schema[CONF_TOKEN].description is None
    form = _form(port, control="ddbc")
    del form[CONF_TOKEN]
    result = await hass.config_entries.flow.async_configure(result["flow_id"], form)
    await _assert_reconfigured(hass, result, entry, _entry_data(port, control="ddbc"))


async def test_reconfigure_new_control_is_used(
    hass: HomeAssistant, device: tuple[int, SimulatedS2HeatPump]
) -> None:
    """After the reload the home controller speaks the chosen control type."""
    port, _ = device
    entry = await _loaded_entry(hass, port)
    assert entry.runtime_data.heat_pump.control is S2Control.PEBC
    result = await _reconfigure_s2(hass, entry)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], _form(port, control="ddbc")
    )
    assert result["reason"] == "reconfigure_successful"
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    assert entry.runtime_data.heat_pump.control is S2Control.DDBC
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()


async def test_reconfigure_new_port_and_token(
    hass: HomeAssistant, device: tuple[int, SimulatedS2HeatPump]
) -> None:
    """The heat pump now dials another port with another token."""
    port, simulated = device
    entry = await _loaded_entry(hass, port)
    await simulated.stop()
    new_port = find_free_port()
    result = await _reconfigure_s2(hass, entry)
    await _pair_moved_device(
        hass, result["flow_id"], entry, new_port, token="a-new-secret"
    )
    assert entry.unique_id == SERIAL


async def test_reconfigure_no_device_then_it_comes(
    hass: HomeAssistant, device: tuple[int, SimulatedS2HeatPump]
) -> None:
    """Nothing dials the new port in time: the entry keeps running as it was."""
    port, _ = device
    entry = await _loaded_entry(hass, port)
    new_port = find_free_port()
    result = await _reconfigure_s2(hass, entry)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], _form(new_port)
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "no_s2_device"}
    assert dict(entry.data) == _entry_data(port)
    assert entry.state is ConfigEntryState.LOADED
    await _pair_moved_device(hass, result["flow_id"], entry, new_port)


async def test_reconfigure_same_port_wrong_token_restores_the_entry(
    hass: HomeAssistant, device: tuple[int, SimulatedS2HeatPump]
) -> None:
    """Pairing on the entry's port fails: the entry runs again on its old settings."""
    port, _ = device
    entry = await _loaded_entry(hass, port)
    result = await _reconfigure_s2(hass, entry)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], _form(port, token="not-the-token")
    )
    assert result["errors"] == {"base": "no_s2_device"}
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    assert dict(entry.data) == _entry_data(port)
    assert entry.runtime_data.controller.snapshot.device_available
    # And the retry, while the restored entry holds the port again, pairs.
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], _form(port, control="ddbc")
    )
    await _assert_reconfigured(hass, result, entry, _entry_data(port, control="ddbc"))


async def test_reconfigure_unsupported_device_then_retry(
    hass: HomeAssistant, device: tuple[int, SimulatedS2HeatPump]
) -> None:
    """A device on the new port offers no control type we use: the form says so."""
    port, _ = device
    entry = await _loaded_entry(hass, port)
    new_port = find_free_port()
    # s2-python's own resource manager, offering NOT_CONTROLABLE only.
    dialler = asyncio.create_task(_dial_not_controllable(new_port))
    result = await _reconfigure_s2(hass, entry)
    try:
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], _form(new_port)
        )
    finally:
        dialler.cancel()
        rms = await asyncio.gather(dialler, return_exceptions=True)
        if isinstance(rms[0], LibraryRm):
            await stop_library_rm(rms[0])
    assert result["errors"] == {"base": "s2_unsupported"}
    assert entry.state is ConfigEntryState.LOADED
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], _form(port)
    )
    await _assert_reconfigured(hass, result, entry, _entry_data(port))


async def test_reconfigure_a_different_device_then_the_right_one(
    hass: HomeAssistant, device: tuple[int, SimulatedS2HeatPump]
) -> None:
    """Another heat pump (another serial number) dialled in: not this entry's."""
    port, simulated = device
    entry = await _loaded_entry(hass, port)
    new_port = find_free_port()
    other = SimulatedS2HeatPump(
        build_home(SimulatedHomeOptions()),
        f"ws://127.0.0.1:{new_port}/s2",
        token=TOKEN,
        serial="S2-HA-OTHER",
        retry_s=0.1,
    )
    await other.start()
    result = await _reconfigure_s2(hass, entry)
    try:
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], _form(new_port)
        )
    finally:
        await other.stop()
    assert result["errors"] == {"base": "different_s2_device"}
    assert dict(entry.data) == _entry_data(port)
    await simulated.stop()
    await _pair_moved_device(hass, result["flow_id"], entry, new_port)


async def test_reconfigure_port_taken_then_free(
    hass: HomeAssistant, device: tuple[int, SimulatedS2HeatPump]
) -> None:
    port, _ = device
    entry = await _loaded_entry(hass, port)
    new_port = find_free_port()
    taken = socket.socket()
    taken.bind(("127.0.0.1", new_port))
    taken.listen()
    result = await _reconfigure_s2(hass, entry)
    try:
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], _form(new_port)
        )
    finally:
        taken.close()
    assert result["errors"] == {"base": "cannot_listen"}
    assert entry.state is ConfigEntryState.LOADED
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], _form(port)
    )
    await _assert_reconfigured(hass, result, entry, _entry_data(port))


async def test_reconfigure_to_the_port_of_another_entry(
    hass: HomeAssistant, device: tuple[int, SimulatedS2HeatPump]
) -> None:
    """Two entries cannot listen on one port."""
    port, _ = device
    entry = await _loaded_entry(hass, port)
    elsewhere = find_free_port()
    MockConfigEntry(
        domain=DOMAIN,
        title="Other S2",
        unique_id="S2-HA-OTHER",
        data=_entry_data(elsewhere),
    ).add_to_hass(hass)
    result = await _reconfigure_s2(hass, entry)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], _form(elsewhere)
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"
    assert dict(entry.data) == _entry_data(port)
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()


async def test_reconfigure_while_the_entry_waits_for_its_device(
    hass: HomeAssistant,
) -> None:
    """An entry in setup retry is stopped for the pairing, then runs on the new settings."""
    port = find_free_port()
    entry = MockConfigEntry(
        domain=DOMAIN, title="S2", unique_id=SERIAL, data=_entry_data(port)
    )
    entry.add_to_hass(hass)
    await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.SETUP_RETRY
    result = await _reconfigure_s2(hass, entry)
    simulated = _device(port)
    await simulated.start()
    try:
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], _form(port, control="ddbc")
        )
        await _assert_reconfigured(
            hass, result, entry, _entry_data(port, control="ddbc")
        )
    finally:
        await simulated.stop()
