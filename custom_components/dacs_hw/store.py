"""The resident's choices, remembered across restarts of Home Assistant.

An opt-out or a pause must survive a restart: the command topic is retained,
so right after the home reconnects the aggregator's command arrives again,
and it must meet the resident's choice, not a default. The comfort floor is
not kept here: it is a config entry option (the options flow and the number
entity both edit it there).
"""

from __future__ import annotations

from datetime import datetime
from typing import TypedDict

from homeassistant.core import HomeAssistant
from homeassistant.helpers.storage import Store

from dacs.home import ResidentSettings
from dacs.protocol import Participation
from dacs.protocol.rules import DEFAULT_MAX_CURTAILMENT_MINUTES

from .const import DOMAIN, LOGGER, STORAGE_VERSION


class StoredChoices(TypedDict, total=False):
    """What is written to ``.storage/dacs_hw.<entry id>``."""

    participation: str
    paused_until: str | None
    min_compensation_eur_per_kwh: float
    max_curtailment_minutes: int
    manual_limit_w: float | None


class ResidentChoiceStore:
    """Loads and saves one heat pump's resident settings."""

    def __init__(self, hass: HomeAssistant, entry_id: str) -> None:
        """Prepare the store of one config entry."""
        self._store: Store[StoredChoices] = Store(
            hass, STORAGE_VERSION, f"{DOMAIN}.{entry_id}"
        )

    async def async_load(
        self, *, comfort_floor_c: float, participate: bool
    ) -> ResidentSettings:
        """The remembered settings; the defaults where nothing was chosen yet."""
        stored: StoredChoices = await self._store.async_load() or {}
        default = Participation.ON if participate else Participation.OFF
        try:
            paused_until = stored.get("paused_until")
            return ResidentSettings(
                participation=Participation(stored.get("participation", default)),
                paused_until=(
                    datetime.fromisoformat(paused_until) if paused_until else None
                ),
                comfort_floor_c=comfort_floor_c,
                min_compensation_eur_per_kwh=float(
                    stored.get("min_compensation_eur_per_kwh", 0.0)
                ),
                max_curtailment_minutes=int(
                    stored.get(
                        "max_curtailment_minutes", DEFAULT_MAX_CURTAILMENT_MINUTES
                    )
                ),
                manual_limit_w=stored.get("manual_limit_w"),
            )
        except (TypeError, ValueError) as err:
            LOGGER.warning(
                "Forgot the stored resident settings because they are invalid (%s); "
                "starting from the defaults",
                err,
            )
            return ResidentSettings(
                participation=default, comfort_floor_c=comfort_floor_c
            )

    async def async_save(self, settings: ResidentSettings) -> None:
        """Remember ``settings``."""
        await self._store.async_save(_as_stored(settings))

    async def async_remove(self) -> None:
        """Forget everything (the config entry was removed)."""
        await self._store.async_remove()


def _as_stored(settings: ResidentSettings) -> StoredChoices:
    return {
        "participation": settings.participation.value,
        "paused_until": (
            settings.paused_until.isoformat() if settings.paused_until else None
        ),
        "min_compensation_eur_per_kwh": settings.min_compensation_eur_per_kwh,
        "max_curtailment_minutes": settings.max_curtailment_minutes,
        "manual_limit_w": settings.manual_limit_w,
    }
