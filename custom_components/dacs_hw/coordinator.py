"""The coordinator: the home controller's snapshots, pushed to the entities."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, override

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator
from homeassistant.util import dt as dt_util

from dacs.devices import ControllableHeatPump, HeatPump, HeatPumpError
from dacs.home import FlexEvent, HomeController, HomeSnapshot, ResidentSettings
from dacs.protocol import Participation

from .const import CONF_COMFORT_FLOOR, DOMAIN, LOGGER
from .issues import RepairWatch
from .store import ResidentChoiceStore

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(kw_only=True)
class DacsRuntimeData:
    """What a loaded config entry holds."""

    heat_pump: ControllableHeatPump
    controller: HomeController
    coordinator: DacsCoordinator
    store: ResidentChoiceStore
    telemetry_interval_s: float
    participation_default: bool


type DacsConfigEntry = ConfigEntry[DacsRuntimeData]


def _without_volatile(snapshot: HomeSnapshot) -> HomeSnapshot:
    """The snapshot minus what changes on every tick without meaning anything."""
    return replace(snapshot, time=_EPOCH, telemetry_seq=0)


def _choices(settings: ResidentSettings) -> ResidentSettings:
    """The settings the store keeps (the comfort floor lives in the options)."""
    return replace(settings, comfort_floor_c=ResidentSettings().comfort_floor_c)


class DacsCoordinator(DataUpdateCoordinator[HomeSnapshot]):
    """Pushes the home controller's snapshots to the entities.

    The controller polls the heat pump and runs the protocol by itself; its
    listener hands every new snapshot over here. Nothing is fetched on a
    timer of Home Assistant's.
    """

    config_entry: DacsConfigEntry

    def __init__(
        self,
        hass: HomeAssistant,
        entry: DacsConfigEntry,
        controller: HomeController,
        store: ResidentChoiceStore,
    ) -> None:
        """Follow ``controller`` for ``entry``."""
        super().__init__(
            hass,
            LOGGER,
            config_entry=entry,
            name=f"DACS-HW {entry.title}",
            update_interval=None,
        )
        self.controller = controller
        self.heat_pump = controller.heat_pump
        self.repairs = RepairWatch(hass, entry)
        self.room_setpoint_c: float | None = None
        self._store = store
        self._saved = _choices(controller.settings)
        self._shown: HomeSnapshot | None = None

    @override
    async def _async_update_data(self) -> HomeSnapshot:
        """The controller's current snapshot (it polls the device itself)."""
        return self.controller.snapshot

    @callback
    def async_handle_snapshot(self, snapshot: HomeSnapshot) -> None:
        """Take a snapshot from the controller: repairs, persistence, entities."""
        self.repairs.async_check(snapshot)
        choices = _choices(snapshot.settings)
        if choices != self._saved:
            # Also catches a pause that ended by itself.
            self._saved = choices
            self.config_entry.async_create_task(
                self.hass, self._store.async_save(snapshot.settings)
            )
        shown = _without_volatile(snapshot)
        if shown == self._shown:
            return
        self._shown = shown
        self.async_set_updated_data(snapshot)

    @callback
    def async_handle_flex_event(self, kind: str, event: FlexEvent) -> None:
        """Announce a flexibility event on Home Assistant's event bus."""
        device = dr.async_get(self.hass).async_get_device_by_identifier(
            (DOMAIN, str(self.config_entry.unique_id)), self.config_entry.entry_id
        )
        self.hass.bus.async_fire(
            f"{DOMAIN}_{kind}",
            {
                "config_entry_id": self.config_entry.entry_id,
                "device_id": device.id if device else None,
                "command_id": event.command_id,
                "reason": event.reason.value,
                "start": event.start.isoformat(),
                "end": event.end.isoformat(),
                "lowest_limit_w": event.lowest_limit_w,
            },
        )

    # -- the resident's actions -------------------------------------------

    async def async_set_participation(self, participate: bool) -> None:
        """Take part in flexibility events, or step out (releases at once)."""
        await self.controller.set_participation(participate)

    async def async_pause(self, duration: timedelta) -> None:
        """Step out of flexibility events for ``duration``."""
        self._refuse_pause_while_off()
        await self.controller.pause_for(duration)

    async def async_pause_at_least(self, duration: timedelta) -> None:
        """Step out for ``duration``; a pause that runs longer keeps its end.

        The pause button's promise: pressing it never brings the home back
        in sooner than the resident had chosen before.
        """
        self._refuse_pause_while_off()
        settings = self.controller.settings
        until = dt_util.utcnow() + duration
        if (
            settings.participation is Participation.PAUSED
            and settings.paused_until is not None
            and settings.paused_until >= until
        ):
            return
        await self.controller.pause(until)

    def _refuse_pause_while_off(self) -> None:
        """A pause ends by itself: it would switch a home back in that stepped out."""
        if self.controller.settings.participation is Participation.OFF:
            raise ServiceValidationError(
                translation_domain=DOMAIN, translation_key="pause_while_off"
            )

    async def async_update_preferences(self, **changes: Any) -> None:
        """Change compensation, maximum curtailment or the manual limit."""
        await self.controller.update_settings(**changes)

    async def async_set_comfort_floor(self, celsius: float) -> None:
        """Change the comfort floor and keep it in the entry's options."""
        await self.controller.update_settings(comfort_floor_c=celsius)
        entry = self.config_entry
        self.hass.config_entries.async_update_entry(
            entry, options={**entry.options, CONF_COMFORT_FLOOR: celsius}
        )

    async def async_set_room_setpoint(self, celsius: float) -> None:
        """Write the room temperature setpoint to the heat pump."""
        if not isinstance(self.heat_pump, HeatPump):
            raise HeatPumpError("this heat pump takes no room setpoint")
        await self.heat_pump.set_room_setpoint(celsius)
        await self.async_read_room_setpoint()
        self.async_update_listeners()

    async def async_read_room_setpoint(self) -> None:
        """Read the room setpoint back where the heat pump has one."""
        heat_pump = self.heat_pump
        if not isinstance(heat_pump, HeatPump):
            return  # S2 devices keep their own setpoint
        point = heat_pump.profile.room_setpoint
        if point is None or not heat_pump.capabilities.supports_room_setpoint:
            return
        try:
            value = await heat_pump.read_point(point)
        except HeatPumpError as err:
            LOGGER.debug("Could not read the room setpoint: %s", err)
            return
        self.room_setpoint_c = float(value) if isinstance(value, int | float) else None

    async def async_stop_home(self) -> None:
        """Stop the controller (releases any limit) and close the connection."""
        self.repairs.async_clear_all()
        await self.controller.stop()
        await self.heat_pump.close()
