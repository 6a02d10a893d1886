"""Diagnostics: what an installer needs to see, without what identifies the home."""

from __future__ import annotations

from dataclasses import asdict, is_dataclass
from datetime import datetime
from enum import Enum
from typing import Any

from homeassistant.components.diagnostics import async_redact_data
from homeassistant.const import CONF_PASSWORD, CONF_USERNAME
from homeassistant.core import HomeAssistant

from .const import CONF_HOME_ID, CONF_TOPIC_PREFIX
from .coordinator import DacsConfigEntry

TO_REDACT = {
    CONF_PASSWORD,
    CONF_USERNAME,
    CONF_HOME_ID,
    CONF_TOPIC_PREFIX,
    "serial",
    "command_id",
    "unique_id",
}


def _plain(value: Any) -> Any:
    """``value`` as JSON-friendly data."""
    if is_dataclass(value) and not isinstance(value, type):
        return _plain(asdict(value))
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, Enum):
        return value.value if isinstance(value.value, str) else value.name.lower()
    if isinstance(value, datetime):
        return value.isoformat()
    return value


async def async_get_config_entry_diagnostics(
    hass: HomeAssistant, entry: DacsConfigEntry
) -> dict[str, Any]:
    """Return diagnostics for a heat pump."""
    runtime = entry.runtime_data
    snapshot = runtime.coordinator.data
    link = runtime.controller.link
    unreceipted = runtime.controller.unreceipted
    return async_redact_data(
        {
            "entry": {
                "title": entry.title,
                "unique_id": entry.unique_id,
                "data": dict(entry.data),
                "options": dict(entry.options),
            },
            "profile": runtime.heat_pump.identity.profile_id,
            "snapshot": _plain(snapshot),
            "room_setpoint_c": runtime.coordinator.room_setpoint_c,
            "aggregator_link": (
                {
                    "connected": link.connected,
                    "queued": link.queued,
                    "dropped": link.dropped,
                    "last_error": link.last_error,
                    # Telemetry kept until the aggregator's receipt names it.
                    "telemetry_unreceipted": unreceipted.held,
                    "telemetry_resent": unreceipted.resent,
                    "telemetry_dropped_unreceipted": unreceipted.dropped,
                    "receipts_seen": unreceipted.receipts_seen,
                }
                if link is not None
                else None
            ),
        },
        TO_REDACT,
    )
