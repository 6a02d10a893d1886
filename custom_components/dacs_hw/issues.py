"""Repair issues: problems a resident or installer has to look at."""

from __future__ import annotations

from datetime import datetime

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import issue_registry as ir

from dacs.home import HomeSnapshot
from dacs.protocol.rules import follows_limit

from .const import (
    AGGREGATOR_LOST_AFTER,
    DOMAIN,
    ISSUE_AGGREGATOR_LOST,
    ISSUE_LIMIT_NOT_FOLLOWED,
    ISSUE_NO_POWER_LIMIT,
    LIMIT_NOT_FOLLOWED_AFTER,
)

TROUBLESHOOTING_URL = (
    "https://github.com/dacs-hw/dacs-hw/blob/main/docs/installer-guide.md"
    "#troubleshooting"
)


def issue_id(issue: str, entry: ConfigEntry) -> str:
    """The issue registry id of ``issue`` for one heat pump."""
    return f"{issue}_{entry.entry_id}"


def exceeds_limit(snapshot: HomeSnapshot) -> bool:
    """True when the heat pump draws clearly more than the limit in force."""
    measured = snapshot.measurements
    if (
        not snapshot.device_available
        or snapshot.limit_w is None
        or measured is None
        or measured.electric_power_w is None
    ):
        return False
    return not follows_limit(measured.electric_power_w, snapshot.limit_w)


class RepairWatch:
    """Raises and clears one heat pump's repair issues as its snapshots change."""

    def __init__(self, hass: HomeAssistant, entry: ConfigEntry) -> None:
        """Watch the heat pump of ``entry``."""
        self._hass = hass
        self._entry = entry
        self._over_limit_since: datetime | None = None
        self._offline_since: datetime | None = None
        self._raised: set[str] = set()

    @callback
    def async_check(self, snapshot: HomeSnapshot) -> None:
        """Look at one snapshot."""
        self._check_limit(snapshot)
        self._check_link(snapshot)

    @callback
    def async_check_capabilities(self, snapshot: HomeSnapshot) -> None:
        """Say so once when the heat pump cannot limit its electric power."""
        caps = snapshot.capabilities
        if caps is not None and not caps.supports_power_limit:
            self._raise(
                ISSUE_NO_POWER_LIMIT,
                ir.IssueSeverity.WARNING,
                {
                    "gas_only": "yes" if caps.supports_gas_only else "no",
                    "profile": snapshot.identity.profile_id
                    if snapshot.identity
                    else "?",
                },
            )

    @callback
    def async_clear_all(self) -> None:
        """Remove every issue this watch raised (the entry is unloading)."""
        for issue in list(self._raised):
            self._clear(issue)

    def _check_limit(self, snapshot: HomeSnapshot) -> None:
        if not exceeds_limit(snapshot):
            self._over_limit_since = None
            self._clear(ISSUE_LIMIT_NOT_FOLLOWED)
            return
        since = self._over_limit_since = self._over_limit_since or snapshot.time
        if snapshot.time - since >= LIMIT_NOT_FOLLOWED_AFTER:
            measured = snapshot.measurements
            self._raise(
                ISSUE_LIMIT_NOT_FOLLOWED,
                ir.IssueSeverity.ERROR,
                {
                    "limit": f"{snapshot.limit_w:.0f}",
                    "power": f"{measured.electric_power_w:.0f}"
                    if measured and measured.electric_power_w is not None
                    else "?",
                    "minutes": f"{LIMIT_NOT_FOLLOWED_AFTER.total_seconds() / 60:g}",
                },
            )

    def _check_link(self, snapshot: HomeSnapshot) -> None:
        if not snapshot.aggregator_linked or snapshot.aggregator_connected:
            self._offline_since = None
            self._clear(ISSUE_AGGREGATOR_LOST)
            return
        since = self._offline_since = self._offline_since or snapshot.time
        if snapshot.time - since >= AGGREGATOR_LOST_AFTER:
            self._raise(
                ISSUE_AGGREGATOR_LOST,
                ir.IssueSeverity.WARNING,
                {"minutes": f"{AGGREGATOR_LOST_AFTER.total_seconds() / 60:g}"},
            )

    def _raise(
        self, issue: str, severity: ir.IssueSeverity, placeholders: dict[str, str]
    ) -> None:
        if issue in self._raised:
            return
        self._raised.add(issue)
        ir.async_create_issue(
            self._hass,
            DOMAIN,
            issue_id(issue, self._entry),
            is_fixable=False,
            is_persistent=False,
            learn_more_url=TROUBLESHOOTING_URL,
            severity=severity,
            translation_key=issue,
            translation_placeholders={"name": self._entry.title, **placeholders},
        )

    def _clear(self, issue: str) -> None:
        if issue not in self._raised:
            return
        self._raised.discard(issue)
        ir.async_delete_issue(self._hass, DOMAIN, issue_id(issue, self._entry))
