"""Config flow: find the heat pump, link it to the home's broker, tune the options."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
import re
from typing import Any, override

from homeassistant.config_entries import (
    ConfigEntry,
    ConfigEntryState,
    ConfigFlow,
    ConfigFlowResult,
    OptionsFlow,
)
from homeassistant.const import (
    CONF_HOST,
    CONF_PASSWORD,
    CONF_PORT,
    CONF_TOKEN,
    CONF_USERNAME,
)
from homeassistant.core import callback
from homeassistant.helpers.selector import (
    BooleanSelector,
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    SelectOptionDict,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
    TextSelector,
    TextSelectorConfig,
    TextSelectorType,
)
from homeassistant.helpers.service_info.hassio import HassioServiceInfo
import probatio

from dacs.devices import (
    DeviceIdentity,
    HeatPump,
    HeatPumpConnectionError,
    HeatPumpError,
    HeatPumpInvalidDataError,
    ProfileDetectionError,
    builtin_profiles,
)
from dacs.devices.s2 import (
    S2_PROFILE_ID,
    S2Control,
    S2ListenError,
    S2TimeoutError,
    S2UnsupportedError,
)
from dacs.home import BrokerSettings, MqttLink
from dacs.protocol import home_root

from .const import (
    BROKER_CHECK_TIMEOUT_S,
    CONF_BROKER,
    CONF_COMFORT_FLOOR,
    CONF_DEVICE_ID,
    CONF_ENTRY,
    CONF_HOME_ID,
    CONF_KIND,
    CONF_PARTICIPATION_DEFAULT,
    CONF_PROFILE,
    CONF_S2_CONTROL,
    CONF_TELEMETRY_INTERVAL,
    CONF_TOPIC_PREFIX,
    DEFAULT_BROKER_PORT,
    DEFAULT_COMFORT_FLOOR_C,
    DEFAULT_DEVICE_ID,
    DEFAULT_MODBUS_PORT,
    DEFAULT_PARTICIPATION,
    DEFAULT_S2_LISTEN,
    DEFAULT_S2_PORT,
    DEFAULT_TELEMETRY_INTERVAL_S,
    DEVICE_TIMEOUT_S,
    DOMAIN,
    KIND_S2,
    LOGGER,
    MAX_TELEMETRY_INTERVAL_S,
    MIN_TELEMETRY_INTERVAL_S,
    S2_PAIR_TIMEOUT_S,
)
from .s2 import s2_heat_pump

# docs/protocol.md, section 2.
HOME_ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{2,63}$")

DEFAULT_OPTIONS: dict[str, Any] = {
    CONF_TELEMETRY_INTERVAL: DEFAULT_TELEMETRY_INTERVAL_S,
    CONF_COMFORT_FLOOR: DEFAULT_COMFORT_FLOOR_C,
    CONF_PARTICIPATION_DEFAULT: DEFAULT_PARTICIPATION,
}


def _port_selector() -> NumberSelector:
    return NumberSelector(
        NumberSelectorConfig(min=1, max=65535, step=1, mode=NumberSelectorMode.BOX)
    )


DEVICE_SCHEMA = probatio.Schema(
    {
        probatio.Required(CONF_HOST): TextSelector(
            TextSelectorConfig(autocomplete="off")
        ),
        probatio.Required(CONF_PORT, default=DEFAULT_MODBUS_PORT): _port_selector(),
        probatio.Required(CONF_DEVICE_ID, default=DEFAULT_DEVICE_ID): NumberSelector(
            NumberSelectorConfig(min=1, max=247, step=1, mode=NumberSelectorMode.BOX)
        ),
    }
)

S2_SCHEMA = probatio.Schema(
    {
        probatio.Required(CONF_HOST, default=DEFAULT_S2_LISTEN): TextSelector(
            TextSelectorConfig(autocomplete="off")
        ),
        probatio.Required(CONF_PORT, default=DEFAULT_S2_PORT): _port_selector(),
        probatio.Optional(CONF_TOKEN): TextSelector(
            TextSelectorConfig(type=TextSelectorType.PASSWORD)
        ),
        probatio.Required(
            CONF_S2_CONTROL, default=S2Control.PEBC.value
        ): SelectSelector(
            SelectSelectorConfig(
                options=[c.value for c in S2Control],
                translation_key=CONF_S2_CONTROL,
                mode=SelectSelectorMode.LIST,
            )
        ),
    }
)

PROFILE_SCHEMA = probatio.Schema(
    {
        probatio.Required(CONF_PROFILE): SelectSelector(
            SelectSelectorConfig(
                options=sorted(builtin_profiles()),
                translation_key=CONF_PROFILE,
                mode=SelectSelectorMode.LIST,
            )
        )
    }
)

BROKER_SCHEMA = probatio.Schema(
    {
        probatio.Required(CONF_HOST): TextSelector(
            TextSelectorConfig(autocomplete="off")
        ),
        probatio.Required(CONF_PORT, default=DEFAULT_BROKER_PORT): _port_selector(),
        probatio.Optional(CONF_USERNAME): TextSelector(
            TextSelectorConfig(autocomplete="username")
        ),
        probatio.Optional(CONF_PASSWORD): TextSelector(
            TextSelectorConfig(type=TextSelectorType.PASSWORD)
        ),
        probatio.Required(CONF_HOME_ID): TextSelector(),
    }
)

OPTIONS_SCHEMA = probatio.Schema(
    {
        probatio.Required(CONF_COMFORT_FLOOR): NumberSelector(
            NumberSelectorConfig(
                min=10,
                max=25,
                step=0.5,
                unit_of_measurement="°C",
                mode=NumberSelectorMode.BOX,
            )
        ),
        probatio.Required(CONF_PARTICIPATION_DEFAULT): BooleanSelector(),
        probatio.Required(CONF_TELEMETRY_INTERVAL): NumberSelector(
            NumberSelectorConfig(
                min=MIN_TELEMETRY_INTERVAL_S,
                max=MAX_TELEMETRY_INTERVAL_S,
                step=1,
                unit_of_measurement="s",
                mode=NumberSelectorMode.BOX,
            )
        ),
    }
)


def _device(user_input: Mapping[str, Any]) -> dict[str, Any]:
    """Where the heat pump is, typed."""
    return {
        CONF_HOST: str(user_input[CONF_HOST]).strip(),
        CONF_PORT: int(user_input[CONF_PORT]),
        CONF_DEVICE_ID: int(user_input[CONF_DEVICE_ID]),
    }


async def _async_identify(
    device: Mapping[str, Any], profile: str | None
) -> DeviceIdentity:
    """Connect once, detect the profile unless given, and say who answered."""
    heat_pump = HeatPump(
        device[CONF_HOST],
        device[CONF_PORT],
        device[CONF_DEVICE_ID],
        profile=profile,
        timeout=DEVICE_TIMEOUT_S,
    )
    async with heat_pump:
        return heat_pump.identity


def _s2_device(user_input: Mapping[str, Any]) -> dict[str, Any]:
    """Where the home controller waits for the S2 device, typed."""
    token = str(user_input.get(CONF_TOKEN) or "").strip()
    return {
        CONF_KIND: KIND_S2,
        CONF_HOST: str(user_input[CONF_HOST]).strip(),
        CONF_PORT: int(user_input[CONF_PORT]),
        CONF_TOKEN: token or None,
        CONF_S2_CONTROL: str(user_input[CONF_S2_CONTROL]),
    }


async def _async_pair_s2(device: Mapping[str, Any]) -> DeviceIdentity:
    """Wait for the S2 device to dial in and describe itself; say who it is."""
    async with s2_heat_pump(device, connect_timeout=S2_PAIR_TIMEOUT_S) as heat_pump:
        return heat_pump.identity


async def _async_pair_s2_or_error(device: Mapping[str, Any]) -> DeviceIdentity | str:
    """Pair with the S2 device, or the form error that says why not."""
    try:
        return await _async_pair_s2(device)
    except HeatPumpError as err:
        return _device_error(err)
    except Exception:  # noqa: BLE001 - the form must show something
        LOGGER.exception("Unexpected error while pairing the S2 heat pump")
        return "unknown"


def _device_error(err: HeatPumpError) -> str:
    """The form error for a heat pump that could not be set up."""
    if isinstance(err, S2ListenError):
        return "cannot_listen"
    if isinstance(err, S2TimeoutError):
        return "no_s2_device"
    if isinstance(err, S2UnsupportedError):
        return "s2_unsupported"
    if isinstance(err, HeatPumpConnectionError):
        return "cannot_connect"
    if isinstance(err, HeatPumpInvalidDataError):
        return "invalid_data"
    return "device_error"


async def _async_ignore(_topic: str, _payload: bytes) -> None:
    """The connection check subscribes to nothing."""


async def _async_check_broker(broker: Mapping[str, Any]) -> str | None:
    """Log in to the broker once; None when that worked, else why not."""
    link = MqttLink(
        BrokerSettings(
            host=broker[CONF_HOST],
            port=broker[CONF_PORT],
            username=broker.get(CONF_USERNAME) or None,
            password=broker.get(CONF_PASSWORD) or None,
            client_id=f"dacs-ha-{broker[CONF_HOME_ID]}-check",
        ),
        subscriptions=[],
        on_message=_async_ignore,
    )
    session = asyncio.create_task(link.run())
    try:
        if await link.wait_connected(BROKER_CHECK_TIMEOUT_S):
            return None
        return link.last_error or "no answer"
    finally:
        session.cancel()
        await asyncio.gather(session, return_exceptions=True)


def _is_linked_to(entry: ConfigEntry, home_id: str) -> bool:
    broker = entry.data.get(CONF_BROKER)
    return broker is not None and broker.get(CONF_HOME_ID) == home_id


class DacsConfigFlow(ConfigFlow, domain=DOMAIN):
    """Set up a hybrid heat pump, one config entry per heat pump."""

    VERSION = 1

    def __init__(self) -> None:
        """Start with nothing known."""
        self._device: dict[str, Any] = {}
        self._broker: dict[str, Any] | None = None
        self._addon = "DACS Connect"

    @staticmethod
    @callback
    def async_get_options_flow(config_entry: ConfigEntry) -> DacsOptionsFlow:
        """Options: comfort floor, participation default, telemetry interval."""
        return DacsOptionsFlow()

    # -- a heat pump -------------------------------------------------------

    @override
    async def async_step_user(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Modbus (the controller reads the heat pump) or S2 (the heat pump dials in)."""
        return self.async_show_menu(step_id="user", menu_options=["modbus", "s2"])

    async def async_step_s2(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Wait for an S2 heat pump to dial in and pair."""
        errors: dict[str, str] = {}
        if user_input is not None:
            self._device = _s2_device(user_input)
            paired = await _async_pair_s2_or_error(self._device)
            if isinstance(paired, str):
                errors["base"] = paired
            else:
                return await self._async_create(paired)
        return self.async_show_form(
            step_id="s2",
            data_schema=self.add_suggested_values_to_schema(
                S2_SCHEMA, user_input or {}
            ),
            errors=errors,
        )

    async def async_step_modbus(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask where the heat pump is; detect its profile."""
        errors: dict[str, str] = {}
        if user_input is not None:
            self._device = _device(user_input)
            try:
                identity = await _async_identify(self._device, None)
            except ProfileDetectionError:
                return await self.async_step_profile()
            except HeatPumpError as err:
                errors["base"] = _device_error(err)
            except Exception:  # noqa: BLE001 - the form must show something
                LOGGER.exception("Unexpected error while connecting to the heat pump")
                errors["base"] = "unknown"
            else:
                return await self._async_create(identity)
        return self.async_show_form(
            step_id="modbus",
            data_schema=self.add_suggested_values_to_schema(
                DEVICE_SCHEMA, user_input or self._device
            ),
            errors=errors,
        )

    async def async_step_profile(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """No profile answered by itself: let the installer choose one."""
        errors: dict[str, str] = {}
        if user_input is not None:
            try:
                identity = await _async_identify(self._device, user_input[CONF_PROFILE])
            except HeatPumpError as err:
                errors["base"] = _device_error(err)
            else:
                return await self._async_create(identity)
        return self.async_show_form(
            step_id="profile",
            data_schema=self.add_suggested_values_to_schema(
                PROFILE_SCHEMA, user_input or {}
            ),
            errors=errors,
            description_placeholders={
                "host": self._device[CONF_HOST],
                "port": str(self._device[CONF_PORT]),
            },
        )

    async def _async_create(self, identity: DeviceIdentity) -> ConfigFlowResult:
        """One entry per heat pump: by serial number, else by where it answers."""
        device = self._device
        await self.async_set_unique_id(
            identity.serial
            or (
                f"s2:{device[CONF_PORT]}"
                if identity.profile_id == S2_PROFILE_ID
                else f"{device[CONF_HOST]}:{device[CONF_PORT]}:{device[CONF_DEVICE_ID]}"
            ),
            raise_on_progress=False,
        )
        data = {**device, CONF_PROFILE: identity.profile_id}
        if self._broker is not None:
            data[CONF_BROKER] = self._broker
        self._abort_if_unique_id_configured(updates=data)
        return self.async_create_entry(
            title=f"{identity.manufacturer} {identity.model}",
            data=data,
            options=DEFAULT_OPTIONS,
        )

    # -- the add-on's broker, announced by the Supervisor ------------------

    @override
    async def async_step_hassio(
        self, discovery_info: HassioServiceInfo
    ) -> ConfigFlowResult:
        """The DACS Connect add-on announced the home's broker."""
        config = discovery_info.config
        try:
            broker: dict[str, Any] = {
                CONF_HOST: str(config[CONF_HOST]),
                CONF_PORT: int(config[CONF_PORT]),
                CONF_USERNAME: str(config.get(CONF_USERNAME) or ""),
                CONF_PASSWORD: str(config.get(CONF_PASSWORD) or ""),
                CONF_HOME_ID: str(config[CONF_HOME_ID]),
            }
        except (KeyError, TypeError, ValueError):
            return self.async_abort(reason="invalid_discovery_info")
        home_id = broker[CONF_HOME_ID]
        if not HOME_ID_PATTERN.match(home_id) or config.get(
            CONF_TOPIC_PREFIX, home_root(home_id)
        ) != home_root(home_id):
            # A prefix other than the one this integration speaks: a newer
            # protocol version the add-on would bridge and nobody would hear.
            return self.async_abort(reason="incompatible_addon")
        await self.async_set_unique_id(f"broker-{home_id}")
        self._abort_if_unique_id_configured()
        for entry in self._async_current_entries(include_ignore=False):
            if _is_linked_to(entry, home_id):
                return self.async_update_reload_and_abort(
                    entry,
                    data_updates={CONF_BROKER: broker},
                    reload_even_if_entry_is_unchanged=False,
                    reason="already_configured",
                )
        self._broker = broker
        self._addon = discovery_info.name
        self.context["title_placeholders"] = {"name": discovery_info.name}
        self.context["configuration_url"] = (
            f"homeassistant://hassio/addon/{discovery_info.slug}/info"
        )
        if self._async_current_entries(include_ignore=False):
            return await self.async_step_hassio_confirm()
        return await self.async_step_hassio_setup()

    async def async_step_hassio_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Link a heat pump that is set up already to the add-on's broker."""
        broker = self._require_broker()
        entries = {
            entry.entry_id: entry
            for entry in self._async_current_entries(include_ignore=False)
        }
        errors: dict[str, str] = {}
        placeholders = {"addon": self._addon, "home_id": broker[CONF_HOME_ID]}
        if user_input is not None:
            entry = entries.get(user_input[CONF_ENTRY])
            if entry is None:
                return self.async_abort(reason="entry_gone")
            if (problem := await _async_check_broker(broker)) is None:
                return self.async_update_reload_and_abort(
                    entry, data_updates={CONF_BROKER: broker}, reason="linked"
                )
            errors["base"] = "cannot_connect_broker"
            placeholders["error"] = problem
        options = [
            SelectOptionDict(value=entry_id, label=entry.title)
            for entry_id, entry in entries.items()
        ]
        return self.async_show_form(
            step_id="hassio_confirm",
            data_schema=probatio.Schema(
                {
                    probatio.Required(
                        CONF_ENTRY, default=options[0]["value"]
                    ): SelectSelector(SelectSelectorConfig(options=options))
                }
            ),
            description_placeholders=placeholders,
            errors=errors,
        )

    async def async_step_hassio_setup(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """No heat pump yet: check the broker, then set one up that uses it."""
        broker = self._require_broker()
        errors: dict[str, str] = {}
        placeholders = {"addon": self._addon, "home_id": broker[CONF_HOME_ID]}
        if user_input is not None:
            if (problem := await _async_check_broker(broker)) is None:
                return await self.async_step_user()
            errors["base"] = "cannot_connect_broker"
            placeholders["error"] = problem
        return self.async_show_form(
            step_id="hassio_setup",
            description_placeholders=placeholders,
            errors=errors,
        )

    def _require_broker(self) -> dict[str, Any]:
        """The broker the add-on announced (the hassio steps come after it)."""
        if self._broker is None:
            raise RuntimeError("the add-on's broker is not known in this flow")
        return self._broker

    # -- changing an entry -------------------------------------------------

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Choose what to change: the heat pump's address or the broker link."""
        entry = self._get_reconfigure_entry()
        device_step = (
            "reconfigure_s2"
            if entry.data.get(CONF_KIND) == KIND_S2
            else "reconfigure_device"
        )
        options = [device_step, "link_broker"]
        if CONF_BROKER in entry.data:
            options.append("unlink_broker")
        return self.async_show_menu(step_id="reconfigure", menu_options=options)

    async def async_step_reconfigure_device(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """The heat pump moved (a new IP address, port or Modbus device id)."""
        entry = self._get_reconfigure_entry()
        errors: dict[str, str] = {}
        if user_input is not None:
            device = _device(user_input)
            try:
                identity = await _async_identify(device, entry.data[CONF_PROFILE])
            except HeatPumpError as err:
                errors["base"] = _device_error(err)
            else:
                if identity.serial is not None:
                    await self.async_set_unique_id(identity.serial)
                    self._abort_if_unique_id_mismatch(reason="different_device")
                elif device != _device(entry.data):
                    # No serial number to recognise the device by: at least
                    # do not point a second entry at a heat pump set up already.
                    self._async_abort_entries_match(device)
                return self.async_update_reload_and_abort(entry, data_updates=device)
        return self.async_show_form(
            step_id="reconfigure_device",
            data_schema=self.add_suggested_values_to_schema(
                DEVICE_SCHEMA, user_input or entry.data
            ),
            errors=errors,
        )

    async def async_step_reconfigure_s2(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Pair the S2 heat pump again: a new port, pairing token or control type."""
        entry = self._get_reconfigure_entry()
        errors: dict[str, str] = {}
        if user_input is not None:
            device = _s2_device(user_input)
            if device[CONF_TOKEN] is None:
                # The form never shows the token: empty keeps the current one.
                device[CONF_TOKEN] = entry.data.get(CONF_TOKEN)
            if device[CONF_PORT] != entry.data[CONF_PORT]:
                # Two entries cannot listen on one port.
                self._async_abort_entries_match(
                    {CONF_KIND: KIND_S2, CONF_PORT: device[CONF_PORT]}
                )
            # The entry's own S2 end holds its port, or will at its next
            # setup retry: pairing there needs it stopped. The device talks
            # to one CEM at a time anyway.
            frees_port = device[CONF_PORT] == entry.data[CONF_PORT] and (
                entry.state.recoverable
                and entry.state is not ConfigEntryState.NOT_LOADED
            )
            if frees_port:
                await self.hass.config_entries.async_unload(entry.entry_id)
            paired = await _async_pair_s2_or_error(device)
            if isinstance(paired, str):
                errors["base"] = paired
            elif paired.serial is None or paired.serial == entry.unique_id:
                unique_id = entry.unique_id
                if paired.serial is None and str(unique_id).startswith("s2:"):
                    # Without a serial number the entry is known by its port.
                    unique_id = f"s2:{device[CONF_PORT]}"
                return self.async_update_reload_and_abort(
                    entry, unique_id=unique_id, data_updates=device
                )
            else:
                errors["base"] = "different_s2_device"
            if frees_port:
                # Not paired with the new settings: the old ones run again.
                self.hass.config_entries.async_schedule_reload(entry.entry_id)
        suggested = user_input or entry.data
        return self.async_show_form(
            step_id="reconfigure_s2",
            data_schema=self.add_suggested_values_to_schema(
                S2_SCHEMA, {k: v for k, v in suggested.items() if k != CONF_TOKEN}
            ),
            errors=errors,
        )

    async def async_step_link_broker(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Link to a home broker by hand (installations without the Supervisor)."""
        entry = self._get_reconfigure_entry()
        errors: dict[str, str] = {}
        placeholders: dict[str, str] = {}
        if user_input is not None:
            broker: dict[str, Any] = {
                CONF_HOST: str(user_input[CONF_HOST]).strip(),
                CONF_PORT: int(user_input[CONF_PORT]),
                CONF_USERNAME: user_input.get(CONF_USERNAME, ""),
                CONF_PASSWORD: user_input.get(CONF_PASSWORD, ""),
                CONF_HOME_ID: str(user_input[CONF_HOME_ID]).strip(),
            }
            if not HOME_ID_PATTERN.match(broker[CONF_HOME_ID]):
                errors[CONF_HOME_ID] = "invalid_home_id"
            elif (problem := await _async_check_broker(broker)) is not None:
                errors["base"] = "cannot_connect_broker"
                placeholders["error"] = problem
            else:
                return self.async_update_reload_and_abort(
                    entry, data_updates={CONF_BROKER: broker}
                )
        suggested = user_input or entry.data.get(CONF_BROKER) or {}
        return self.async_show_form(
            step_id="link_broker",
            data_schema=self.add_suggested_values_to_schema(
                BROKER_SCHEMA,
                {k: v for k, v in suggested.items() if k != CONF_PASSWORD},
            ),
            errors=errors,
            description_placeholders=placeholders,
        )

    async def async_step_unlink_broker(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Stop taking part through a broker: monitoring and the manual limit only."""
        entry = self._get_reconfigure_entry()
        if user_input is not None:
            return self.async_update_reload_and_abort(
                entry,
                data={k: v for k, v in entry.data.items() if k != CONF_BROKER},
            )
        return self.async_show_form(
            step_id="unlink_broker",
            description_placeholders={"home_id": entry.data[CONF_BROKER][CONF_HOME_ID]},
        )


class DacsOptionsFlow(OptionsFlow):
    """Comfort floor, participation default and telemetry interval."""

    async def async_step_init(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Show and save the options (applied at once, see __init__.py)."""
        if user_input is not None:
            return self.async_create_entry(
                data={
                    CONF_COMFORT_FLOOR: float(user_input[CONF_COMFORT_FLOOR]),
                    CONF_PARTICIPATION_DEFAULT: bool(
                        user_input[CONF_PARTICIPATION_DEFAULT]
                    ),
                    CONF_TELEMETRY_INTERVAL: float(user_input[CONF_TELEMETRY_INTERVAL]),
                }
            )
        return self.async_show_form(
            step_id="init",
            data_schema=self.add_suggested_values_to_schema(
                OPTIONS_SCHEMA, {**DEFAULT_OPTIONS, **self.config_entry.options}
            ),
        )
