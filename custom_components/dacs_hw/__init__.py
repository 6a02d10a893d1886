"""The DACS-HW integration: a hybrid heat pump that helps the grid, on the resident's terms."""

from __future__ import annotations

from homeassistant.const import (
    CONF_HOST,
    CONF_PASSWORD,
    CONF_PORT,
    CONF_USERNAME,
    EVENT_HOMEASSISTANT_STOP,
    Platform,
)
from homeassistant.core import Event, HomeAssistant
from homeassistant.exceptions import ConfigEntryError, ConfigEntryNotReady
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers.typing import ConfigType

from dacs.devices import (
    ControllableHeatPump,
    HeatPump,
    HeatPumpConnectionError,
    HeatPumpError,
    HeatPumpInvalidDataError,
    ProfileError,
    builtin_profiles,
)
from dacs.devices.s2 import S2HeatPump, S2UnsupportedError
from dacs.home import BrokerSettings, HomeController
from dacs.protocol.schema import schema as protocol_schema

from .const import (
    CONF_BROKER,
    CONF_COMFORT_FLOOR,
    CONF_DEVICE_ID,
    CONF_HOME_ID,
    CONF_KIND,
    CONF_PARTICIPATION_DEFAULT,
    CONF_PROFILE,
    CONF_TELEMETRY_INTERVAL,
    CONTROL_INTERVAL_S,
    DEFAULT_COMFORT_FLOOR_C,
    DEFAULT_PARTICIPATION,
    DEFAULT_TELEMETRY_INTERVAL_S,
    DEVICE_TIMEOUT_S,
    DOMAIN,
    KIND_S2,
    POLL_INTERVAL_S,
    S2_PAIR_TIMEOUT_S,
)
from .coordinator import DacsConfigEntry, DacsCoordinator, DacsRuntimeData
from .s2 import s2_heat_pump
from .services import async_setup_services
from .store import ResidentChoiceStore

CONFIG_SCHEMA = cv.config_entry_only_config_schema(DOMAIN)

PLATFORMS = [
    Platform.BINARY_SENSOR,
    Platform.BUTTON,
    Platform.CLIMATE,
    Platform.NUMBER,
    Platform.SENSOR,
    Platform.SWITCH,
]


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """Register the integration's actions; load the library's data files."""
    async_setup_services(hass)
    # The library reads its device profiles and the protocol's JSON Schemas
    # from files on first use, and caches them. First use would be in the
    # event loop (a heat pump set up, a command decoded): read them here.
    await hass.async_add_executor_job(_load_library_data)
    return True


def _load_library_data() -> None:
    builtin_profiles()
    protocol_schema("command")


async def async_setup_entry(hass: HomeAssistant, entry: DacsConfigEntry) -> bool:
    """Connect to the heat pump, start its home controller, set up the entities."""
    heat_pump = await _async_connect(entry)
    options = entry.options
    telemetry_interval_s = float(
        options.get(CONF_TELEMETRY_INTERVAL, DEFAULT_TELEMETRY_INTERVAL_S)
    )
    participation_default = bool(
        options.get(CONF_PARTICIPATION_DEFAULT, DEFAULT_PARTICIPATION)
    )
    store = ResidentChoiceStore(hass, entry.entry_id)
    settings = await store.async_load(
        comfort_floor_c=float(options.get(CONF_COMFORT_FLOOR, DEFAULT_COMFORT_FLOOR_C)),
        participate=participation_default,
    )
    broker = entry.data.get(CONF_BROKER)
    controller = HomeController(
        heat_pump,
        home_id=broker[CONF_HOME_ID] if broker else None,
        broker=(
            BrokerSettings(
                host=broker[CONF_HOST],
                port=broker[CONF_PORT],
                username=broker.get(CONF_USERNAME) or None,
                password=broker.get(CONF_PASSWORD) or None,
                client_id=f"dacs-ha-{broker[CONF_HOME_ID]}",
            )
            if broker
            else None
        ),
        settings=settings,
        telemetry_interval_s=telemetry_interval_s,
        poll_interval_s=min(telemetry_interval_s, POLL_INTERVAL_S),
        control_interval_s=CONTROL_INTERVAL_S,
    )
    coordinator = DacsCoordinator(hass, entry, controller, store)
    entry.runtime_data = DacsRuntimeData(
        heat_pump=heat_pump,
        controller=controller,
        coordinator=coordinator,
        store=store,
        telemetry_interval_s=telemetry_interval_s,
        participation_default=participation_default,
    )
    # Unload runs these last to first: listeners go before the controller stops.
    entry.async_on_unload(coordinator.async_stop_home)
    entry.async_on_unload(controller.add_listener(coordinator.async_handle_snapshot))
    entry.async_on_unload(
        controller.add_event_listener(coordinator.async_handle_flex_event)
    )
    await controller.start()
    await coordinator.async_read_room_setpoint()
    await coordinator.async_config_entry_first_refresh()
    coordinator.repairs.async_check_capabilities(coordinator.data)

    async def _async_stop(_event: Event) -> None:
        # Home Assistant does not unload entries when it stops; the limit must
        # still be released and the broker told that the home goes offline.
        await coordinator.async_stop_home()

    entry.async_on_unload(
        hass.bus.async_listen_once(EVENT_HOMEASSISTANT_STOP, _async_stop)
    )
    entry.async_on_unload(entry.add_update_listener(_async_options_updated))
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    return True


async def async_unload_entry(hass: HomeAssistant, entry: DacsConfigEntry) -> bool:
    """Unload the entities; the controller stops in the entry's on-unload callbacks."""
    return await hass.config_entries.async_unload_platforms(entry, PLATFORMS)


async def async_remove_entry(hass: HomeAssistant, entry: DacsConfigEntry) -> None:
    """Forget the resident's stored choices for a removed heat pump."""
    await ResidentChoiceStore(hass, entry.entry_id).async_remove()


async def _async_connect(entry: DacsConfigEntry) -> ControllableHeatPump:
    """Connect to the heat pump: over Modbus with its profile, or wait for it over S2."""
    host, port = entry.data[CONF_HOST], entry.data[CONF_PORT]
    placeholders = {"host": host, "port": str(port)}
    heat_pump: HeatPump | S2HeatPump
    if entry.data.get(CONF_KIND) == KIND_S2:
        heat_pump = s2_heat_pump(entry.data, connect_timeout=S2_PAIR_TIMEOUT_S)
    else:
        try:
            heat_pump = HeatPump(
                host,
                port,
                entry.data[CONF_DEVICE_ID],
                profile=entry.data[CONF_PROFILE],
                timeout=DEVICE_TIMEOUT_S,
            )
        except ProfileError as err:
            raise ConfigEntryError(
                translation_domain=DOMAIN,
                translation_key="unknown_profile",
                translation_placeholders={"profile": str(entry.data[CONF_PROFILE])},
            ) from err
    try:
        await heat_pump.connect()
    except HeatPumpError as err:
        await heat_pump.close()
        if isinstance(err, S2UnsupportedError):
            raise ConfigEntryError(
                translation_domain=DOMAIN,
                translation_key="s2_unsupported",
                translation_placeholders={**placeholders, "error": str(err)},
            ) from err
        if isinstance(err, HeatPumpConnectionError):
            key = (
                "s2_not_paired"
                if isinstance(heat_pump, S2HeatPump)
                else "cannot_connect"
            )
        elif isinstance(err, HeatPumpInvalidDataError):
            key = "invalid_data"
        else:
            key = "device_error"
        raise ConfigEntryNotReady(
            translation_domain=DOMAIN,
            translation_key=key,
            translation_placeholders={**placeholders, "error": str(err)},
        ) from err
    return heat_pump


async def _async_options_updated(hass: HomeAssistant, entry: DacsConfigEntry) -> None:
    """Apply changed options: live where possible, by a reload otherwise."""
    runtime = entry.runtime_data
    options = entry.options
    telemetry_interval_s = float(
        options.get(CONF_TELEMETRY_INTERVAL, DEFAULT_TELEMETRY_INTERVAL_S)
    )
    if telemetry_interval_s != runtime.telemetry_interval_s:
        hass.config_entries.async_schedule_reload(entry.entry_id)
        return
    comfort_floor_c = float(options.get(CONF_COMFORT_FLOOR, DEFAULT_COMFORT_FLOOR_C))
    if comfort_floor_c != runtime.controller.settings.comfort_floor_c:
        await runtime.controller.update_settings(comfort_floor_c=comfort_floor_c)
    participation_default = bool(
        options.get(CONF_PARTICIPATION_DEFAULT, DEFAULT_PARTICIPATION)
    )
    if participation_default != runtime.participation_default:
        runtime.participation_default = participation_default
        await runtime.controller.set_participation(participation_default)
