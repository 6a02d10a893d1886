"""The config flow: every way in, every error followed by a successful retry."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from unittest.mock import AsyncMock, patch

from homeassistant.config_entries import (
    SOURCE_HASSIO,
    SOURCE_IGNORE,
    SOURCE_USER,
    ConfigEntryState,
    ConfigFlowResult,
)
from homeassistant.const import CONF_HOST, CONF_PASSWORD, CONF_PORT, CONF_USERNAME
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers.service_info.hassio import HassioServiceInfo
from pymodbus.constants import ExcCodes
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.dacs_hw.config_flow import DacsConfigFlow
from custom_components.dacs_hw.const import (
    CONF_BROKER,
    CONF_COMFORT_FLOOR,
    CONF_DEVICE_ID,
    CONF_ENTRY,
    CONF_HOME_ID,
    CONF_PARTICIPATION_DEFAULT,
    CONF_PROFILE,
    CONF_TELEMETRY_INTERVAL,
    DOMAIN,
)
from dacs.testbed.servers import MosquittoBroker, find_free_port

from .conftest import HOME, SERIAL, TITLE, Simulator, broker_data

pytestmark = pytest.mark.usefixtures("mock_setup_entry")


@pytest.fixture
def mock_setup_entry() -> Iterator[AsyncMock]:
    """Creating or reloading an entry does not start the integration here."""
    with patch(
        "custom_components.dacs_hw.async_setup_entry", return_value=True
    ) as setup:
        yield setup


@pytest.fixture
def linked() -> bool:
    """Config flow tests make their own entries; no broker unless asked for."""
    return False


def _device(port: int, device_id: int = 1) -> dict[str, object]:
    return {CONF_HOST: "127.0.0.1", CONF_PORT: port, CONF_DEVICE_ID: device_id}


def _discovery(broker_port: int, **changes: object) -> HassioServiceInfo:
    config: dict[str, object] = {
        "host": "127.0.0.1",
        "port": broker_port,
        "username": "homeassistant",
        "password": "s3cret-from-the-add-on",
        "home_id": HOME,
        "topic_prefix": f"dacs/v1/{HOME}",
    }
    config.update(changes)
    return HassioServiceInfo(
        config={k: v for k, v in config.items() if v is not None},
        name="DACS Connect",
        slug="dacs_connect",
        uuid="1234",
    )


async def _choose_modbus(
    hass: HomeAssistant, result: ConfigFlowResult
) -> ConfigFlowResult:
    """The first step asks how the heat pump connects: Modbus here."""
    assert result["type"] is FlowResultType.MENU
    assert result["menu_options"] == ["modbus", "s2"]
    return await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "modbus"}
    )


async def test_user_flow(hass: HomeAssistant, simulator: Simulator) -> None:
    """The heat pump answers with the DACS profile: one step, one entry."""
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_USER}
    )
    result = await _choose_modbus(hass, result)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "modbus"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], _device(simulator.port)
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == TITLE
    assert result["result"].unique_id == SERIAL
    assert result["data"] == {**_device(simulator.port), CONF_PROFILE: "dacs"}
    assert result["options"] == {
        CONF_TELEMETRY_INTERVAL: 10.0,
        CONF_COMFORT_FLOOR: 18.0,
        CONF_PARTICIPATION_DEFAULT: True,
    }


@pytest.mark.parametrize(
    ("side_effect", "error"),
    [
        (RuntimeError("boom"), "unknown"),
        (None, "cannot_connect"),
    ],
)
async def test_user_flow_errors(
    hass: HomeAssistant,
    simulator: Simulator,
    side_effect: Exception | None,
    error: str,
) -> None:
    """Nothing answers, or something unexpected breaks: the form says so; retry works."""
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_USER}
    )
    result = await _choose_modbus(hass, result)
    if side_effect is None:
        wrong = _device(find_free_port())
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], wrong
        )
    else:
        with patch(
            "custom_components.dacs_hw.config_flow.HeatPump.connect",
            side_effect=side_effect,
        ):
            result = await hass.config_entries.flow.async_configure(
                result["flow_id"], _device(simulator.port)
            )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": error}

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], _device(simulator.port)
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY


@pytest.mark.parametrize("profile", ["sg_ready"])
async def test_detection_fails_choose_a_profile(
    hass: HomeAssistant, simulator: Simulator
) -> None:
    """No profile answers by itself (an SG-Ready relay module): choose one."""
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_USER}
    )
    result = await _choose_modbus(hass, result)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], _device(simulator.port)
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "profile"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_PROFILE: "sg_ready"}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "Generic SG-Ready relay"
    # No serial number: the heat pump is known by where it answers.
    assert result["result"].unique_id == f"127.0.0.1:{simulator.port}:1"
    assert result["data"][CONF_PROFILE] == "sg_ready"


@pytest.mark.parametrize(
    ("fault", "error"),
    [("garbage", "invalid_data"), ("refusing", "device_error")],
)
async def test_profile_step_errors(
    hass: HomeAssistant, simulator: Simulator, fault: str, error: str
) -> None:
    """A chosen profile that reads nonsense or is refused; retry after the fix."""
    if fault == "garbage":
        simulator.firmware.faults.garbage = True
    else:
        simulator.firmware.faults.exception = ExcCodes.DEVICE_FAILURE
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_USER}
    )
    result = await _choose_modbus(hass, result)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], _device(simulator.port)
    )
    assert result["step_id"] == "profile"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_PROFILE: "dacs"}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": error}

    simulator.firmware.faults.garbage = False
    simulator.firmware.faults.exception = None
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_PROFILE: "dacs"}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["result"].unique_id == SERIAL


async def test_already_configured_updates_the_address(
    hass: HomeAssistant, simulator: Simulator
) -> None:
    """The same heat pump again: no second entry, but its new address is kept."""
    entry = MockConfigEntry(
        domain=DOMAIN,
        unique_id=SERIAL,
        data={**_device(1502), CONF_PROFILE: "dacs"},
    )
    entry.add_to_hass(hass)
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_USER}
    )
    result = await _choose_modbus(hass, result)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], _device(simulator.port)
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"
    assert entry.data[CONF_PORT] == simulator.port
    assert len(hass.config_entries.async_entries(DOMAIN)) == 1


# -- the add-on's discovery ---------------------------------------------------


async def test_discovery_then_set_up_a_heat_pump(
    hass: HomeAssistant, simulator: Simulator
) -> None:
    """No heat pump yet: confirm, then the heat pump, created linked."""
    with MosquittoBroker() as broker:
        result = await hass.config_entries.flow.async_init(
            DOMAIN, context={"source": SOURCE_HASSIO}, data=_discovery(broker.port)
        )
        assert result["type"] is FlowResultType.FORM
        assert result["step_id"] == "hassio_setup"
        result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
        assert result["step_id"] == "user"
        result = await _choose_modbus(hass, result)
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], _device(simulator.port)
        )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["result"].unique_id == SERIAL
    assert result["data"][CONF_BROKER] == {
        CONF_HOST: "127.0.0.1",
        CONF_PORT: broker.port,
        CONF_USERNAME: "homeassistant",
        CONF_PASSWORD: "s3cret-from-the-add-on",
        CONF_HOME_ID: HOME,
    }


async def test_discovery_broker_unreachable_then_retry(hass: HomeAssistant) -> None:
    """The add-on's broker does not answer yet: say why, try again later."""
    port = find_free_port()
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_HASSIO}, data=_discovery(port)
    )
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "cannot_connect_broker"}
    assert result["description_placeholders"]["error"]
    with MosquittoBroker(port=port):
        result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    assert result["step_id"] == "user"


async def test_discovery_links_an_existing_heat_pump(hass: HomeAssistant) -> None:
    """A heat pump set up already: confirm links it (and reloads it)."""
    entry = MockConfigEntry(
        domain=DOMAIN, title=TITLE, unique_id=SERIAL, data={**_device(502)}
    )
    entry.add_to_hass(hass)
    with MosquittoBroker() as broker:
        result = await hass.config_entries.flow.async_init(
            DOMAIN, context={"source": SOURCE_HASSIO}, data=_discovery(broker.port)
        )
        assert result["type"] is FlowResultType.FORM
        assert result["step_id"] == "hassio_confirm"
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {CONF_ENTRY: entry.entry_id}
        )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "linked"
    assert entry.data[CONF_BROKER][CONF_HOME_ID] == HOME


async def test_discovery_confirm_broker_unreachable(hass: HomeAssistant) -> None:
    """Linking waits for a broker that answers; the retry links."""
    entry = MockConfigEntry(domain=DOMAIN, title=TITLE, unique_id=SERIAL, data={})
    entry.add_to_hass(hass)
    port = find_free_port()
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_HASSIO}, data=_discovery(port)
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_ENTRY: entry.entry_id}
    )
    assert result["errors"] == {"base": "cannot_connect_broker"}
    with MosquittoBroker(port=port):
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {CONF_ENTRY: entry.entry_id}
        )
    assert result["reason"] == "linked"


async def test_discovery_entry_removed_meanwhile(hass: HomeAssistant) -> None:
    """The heat pump was removed while the confirm form was open."""
    entry = MockConfigEntry(domain=DOMAIN, title=TITLE, unique_id=SERIAL, data={})
    entry.add_to_hass(hass)
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_HASSIO}, data=_discovery(1883)
    )
    await hass.config_entries.async_remove(entry.entry_id)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_ENTRY: entry.entry_id}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "entry_gone"


async def test_discovery_already_linked_updates_credentials(
    hass: HomeAssistant,
) -> None:
    """The add-on announces itself again (new password): update, no question."""
    entry = MockConfigEntry(
        domain=DOMAIN,
        unique_id=SERIAL,
        data={**_device(502), CONF_BROKER: broker_data(1883)},
    )
    entry.add_to_hass(hass)
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_HASSIO}, data=_discovery(1884)
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"
    assert entry.data[CONF_BROKER][CONF_PORT] == 1884
    assert entry.data[CONF_BROKER][CONF_PASSWORD] == "s3cret-from-the-add-on"


async def test_discovery_ignored(hass: HomeAssistant) -> None:
    """A discovery the user ignored stays ignored."""
    MockConfigEntry(
        domain=DOMAIN, unique_id=f"broker-{HOME}", source=SOURCE_IGNORE
    ).add_to_hass(hass)
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_HASSIO}, data=_discovery(1883)
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"home_id": None}, "invalid_discovery_info"),
        ({"port": "mqtt"}, "invalid_discovery_info"),
        ({"home_id": "Not A Home"}, "incompatible_addon"),
        ({"topic_prefix": f"dacs/v2/{HOME}"}, "incompatible_addon"),
    ],
)
async def test_discovery_refused(
    hass: HomeAssistant, changes: dict[str, object], reason: str
) -> None:
    """Incomplete or incompatible announcements are refused."""
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_HASSIO}, data=_discovery(1883, **changes)
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == reason


async def test_hassio_steps_need_the_discovery(hass: HomeAssistant) -> None:
    """The confirm steps cannot run without an announced broker."""
    flow = DacsConfigFlow()
    flow.hass = hass
    with pytest.raises(RuntimeError):
        await flow.async_step_hassio_setup()


# -- reconfiguring ----------------------------------------------------------


async def _reconfigure(hass: HomeAssistant, entry: MockConfigEntry, step: str) -> dict:
    result = await entry.start_reconfigure_flow(hass)
    assert result["type"] is FlowResultType.MENU
    return await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": step}
    )


async def test_reconfigure_device(hass: HomeAssistant, simulator: Simulator) -> None:
    """The heat pump got a new address: a wrong one first, then the right one."""
    entry = MockConfigEntry(
        domain=DOMAIN,
        unique_id=SERIAL,
        data={**_device(1502), CONF_PROFILE: "dacs"},
    )
    entry.add_to_hass(hass)
    result = await _reconfigure(hass, entry, "reconfigure_device")
    assert result["step_id"] == "reconfigure_device"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], _device(find_free_port())
    )
    assert result["errors"] == {"base": "cannot_connect"}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], _device(simulator.port)
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    assert entry.data[CONF_PORT] == simulator.port


async def test_reconfigure_to_a_different_heat_pump(
    hass: HomeAssistant, simulator: Simulator
) -> None:
    """Another heat pump answers at the new address: refused."""
    entry = MockConfigEntry(
        domain=DOMAIN,
        unique_id="SOMEONE-ELSE",
        data={**_device(1502), CONF_PROFILE: "dacs"},
    )
    entry.add_to_hass(hass)
    result = await _reconfigure(hass, entry, "reconfigure_device")
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], _device(simulator.port)
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "different_device"
    assert entry.data[CONF_PORT] == 1502


@pytest.mark.parametrize("profile", ["nibe_s"])
async def test_reconfigure_without_a_serial(
    hass: HomeAssistant, simulator: Simulator
) -> None:
    """No serial number: the same address passes; another entry's is refused."""
    here = MockConfigEntry(
        domain=DOMAIN,
        unique_id=f"127.0.0.1:{simulator.port}:1",
        data={**_device(simulator.port), CONF_PROFILE: "nibe_s"},
    )
    here.add_to_hass(hass)
    moving = MockConfigEntry(
        domain=DOMAIN,
        unique_id="127.0.0.1:1502:1",
        data={**_device(1502), CONF_PROFILE: "nibe_s"},
    )
    moving.add_to_hass(hass)

    result = await _reconfigure(hass, here, "reconfigure_device")
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], _device(simulator.port)
    )
    assert result["reason"] == "reconfigure_successful"

    result = await _reconfigure(hass, moving, "reconfigure_device")
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], _device(simulator.port)
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"
    assert moving.data[CONF_PORT] == 1502


async def test_link_broker_by_hand(hass: HomeAssistant) -> None:
    """Without the Supervisor: a bad home ID, an unreachable broker, then linked."""
    entry = MockConfigEntry(
        domain=DOMAIN, unique_id=SERIAL, data={**_device(502), CONF_PROFILE: "dacs"}
    )
    entry.add_to_hass(hass)
    result = await _reconfigure(hass, entry, "link_broker")
    assert result["step_id"] == "link_broker"
    port = find_free_port()
    link = {CONF_HOST: "127.0.0.1", CONF_PORT: port, CONF_HOME_ID: "Home 42"}
    result = await hass.config_entries.flow.async_configure(result["flow_id"], link)
    assert result["errors"] == {CONF_HOME_ID: "invalid_home_id"}

    link[CONF_HOME_ID] = HOME
    result = await hass.config_entries.flow.async_configure(result["flow_id"], link)
    assert result["errors"] == {"base": "cannot_connect_broker"}

    with MosquittoBroker(port=port):
        result = await hass.config_entries.flow.async_configure(result["flow_id"], link)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    assert entry.data[CONF_BROKER] == {
        CONF_HOST: "127.0.0.1",
        CONF_PORT: port,
        CONF_USERNAME: "",
        CONF_PASSWORD: "",
        CONF_HOME_ID: HOME,
    }


class _SilentLink:
    """An MQTT link whose broker accepts the connection but never answers."""

    def __init__(self, *_args: object, **_kwargs: object) -> None:
        self.last_error: str | None = None

    async def run(self) -> None:
        await asyncio.Event().wait()

    async def wait_connected(self, within_s: float) -> bool:
        await asyncio.sleep(0)
        return False


async def test_link_broker_that_never_answers(hass: HomeAssistant) -> None:
    """A broker that never completes the login: "no answer"."""
    entry = MockConfigEntry(
        domain=DOMAIN,
        unique_id=SERIAL,
        data={**_device(502), CONF_PROFILE: "dacs", CONF_BROKER: broker_data(1883)},
    )
    entry.add_to_hass(hass)
    result = await _reconfigure(hass, entry, "link_broker")
    with patch("custom_components.dacs_hw.config_flow.MqttLink", _SilentLink):
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"],
            {CONF_HOST: "127.0.0.1", CONF_PORT: 1883, CONF_HOME_ID: HOME},
        )
    assert result["errors"] == {"base": "cannot_connect_broker"}
    assert result["description_placeholders"] == {"error": "no answer"}


async def test_unlink_broker(hass: HomeAssistant) -> None:
    """Unlinking keeps the heat pump and forgets the broker."""
    entry = MockConfigEntry(
        domain=DOMAIN,
        unique_id=SERIAL,
        data={**_device(502), CONF_PROFILE: "dacs", CONF_BROKER: broker_data(1883)},
    )
    entry.add_to_hass(hass)
    result = await entry.start_reconfigure_flow(hass)
    assert result["menu_options"] == [
        "reconfigure_device",
        "link_broker",
        "unlink_broker",
    ]
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "unlink_broker"}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["description_placeholders"] == {"home_id": HOME}
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    assert result["reason"] == "reconfigure_successful"
    assert CONF_BROKER not in entry.data
    assert entry.data[CONF_PROFILE] == "dacs"


async def test_options_flow(hass: HomeAssistant) -> None:
    """The options: comfort floor, participation default, telemetry interval."""
    entry = MockConfigEntry(
        domain=DOMAIN, unique_id=SERIAL, data={**_device(502), CONF_PROFILE: "dacs"}
    )
    entry.add_to_hass(hass)
    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "init"
    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {
            CONF_COMFORT_FLOOR: 19.5,
            CONF_PARTICIPATION_DEFAULT: False,
            CONF_TELEMETRY_INTERVAL: 30,
        },
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.options == {
        CONF_COMFORT_FLOOR: 19.5,
        CONF_PARTICIPATION_DEFAULT: False,
        CONF_TELEMETRY_INTERVAL: 30.0,
    }
    assert entry.state is ConfigEntryState.NOT_LOADED
