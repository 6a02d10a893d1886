"""State back from the database: at start-up, and when an instance takes a point over.

What the database holds is what was stored before it was sent, so the new
owner sees the same commands in force as the homes do: it releases no home
early and re-sends nothing whose content it already has in force. Status and
preferences come back too: retained messages do not reach a shared
subscription, so an instance that takes over would otherwise not know a
home's device or its resident's choices until the home sends them again.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime
import json
import logging

from dacs.protocol import (
    PROTOCOL_VERSION,
    Command,
    Message,
    Preferences,
    ProtocolError,
    Status,
    decode,
    format_time,
)

from .control.fleet import Fleet
from .control.loop import CongestionPointControl
from .storage.commands import CommandLedger
from .storage.envelopes import EnvelopeLedger
from .storage.tables import HomeRow

_LOGGER = logging.getLogger(__name__)


class StateRestorer:
    """Events, commands in force, baselines, status and preferences, from the database."""

    def __init__(
        self, envelopes: EnvelopeLedger, commands: CommandLedger, fleet: Fleet
    ) -> None:
        """Read the ledgers into ``fleet``."""
        self._envelopes = envelopes
        self._commands = commands
        self._fleet = fleet

    async def restore(
        self,
        controls: Mapping[str, CongestionPointControl],
        now: datetime,
        *,
        points: Collection[str] | None = None,
    ) -> list[Command]:
        """Put the stored state of ``points`` (None: all) in force; return commands no home answered.

        For named points (a take-over) what memory held is replaced: another
        instance may have commanded, cancelled or withdrawn since.
        """
        scope = set(controls) if points is None else set(points) & set(controls)
        await self._put_envelopes(controls, now, scope, replace=points is not None)
        homes = {
            home_id
            for home_id, view in self._fleet.homes.items()
            if view.congestion_point_id in scope
        }
        unanswered: list[Command] = []
        commanded: set[str] = set()
        for command, answered in await self._commands.in_force(now):
            view = self._fleet.homes.get(command.home_id)
            if view is None or command.home_id not in homes:
                continue
            view.command = command
            commanded.add(command.home_id)
            if not answered:
                unanswered.append(command)
        if points is not None:
            for home_id in homes - commanded:
                self._fleet.homes[home_id].command = None
        # A restarted aggregator must not take a curtailed home's limited power
        # for its normal use and swap it for another home.
        for home_id, average in (await self._commands.unlimited_averages(now)).items():
            view = self._fleet.homes.get(home_id)
            if view is None or home_id not in homes:
                continue
            if view.baseline_w is None:
                view.baseline_w = average.power_w
            if view.cop is None:
                view.cop = average.cop
        return unanswered

    async def refresh_envelopes(
        self,
        controls: Mapping[str, CongestionPointControl],
        now: datetime,
        *,
        points: Collection[str],
    ) -> None:
        """The envelopes in force of ``points`` as stored (through any instance's API)."""
        await self._put_envelopes(
            controls, now, set(points) & set(controls), replace=True
        )

    async def _put_envelopes(
        self,
        controls: Mapping[str, CongestionPointControl],
        now: datetime,
        scope: set[str],
        *,
        replace: bool,
    ) -> None:
        stored = await self._envelopes.in_force(now)
        if replace:
            for point_id in scope:
                controls[point_id].envelopes = []
        for point_id, envelope in stored:
            if point_id in scope:
                controls[point_id].put_in_force(envelope)

    def apply_stored(self, rows: Collection[HomeRow]) -> None:
        """Status and preferences as the registry stored them (what a home said last)."""
        for row in rows:
            view = self._fleet.homes.get(row.id)
            if view is None:
                continue
            if view.device is None and row.status_at is not None:
                status = _stored(
                    row.id,
                    "status",
                    {
                        "ts": format_time(row.status_at),
                        "state": "online" if row.online else "offline",
                        # Not stored: an online status needs one, and the
                        # home's own comes with its next status.
                        "protocol_version": PROTOCOL_VERSION,
                        **({"device": row.device} if row.device else {}),
                    },
                )
                if isinstance(status, Status):
                    self._fleet.apply_status(status)
            if view.preferences is None and row.preferences:
                preferences = _stored(row.id, "preferences", row.preferences)
                if isinstance(preferences, Preferences):
                    self._fleet.apply_preferences(preferences)


def _stored(home_id: str, kind: str, body: Mapping[str, object]) -> Message | None:
    """A stored message decoded as if it arrived (None, logged, when it no longer passes)."""
    document = {"v": 1, "type": kind, "home_id": home_id, **body}
    try:
        return decode(json.dumps(document))
    except ProtocolError as err:
        _LOGGER.warning("stored %s of %s not restored: %s", kind, home_id, err)
        return None
