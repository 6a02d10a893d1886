"""What the VEN reads from the VTN each poll: programs, their events, resource groups.

NL-flex programs and resource groups are checked against the NL-flex profile
as they are read; one the profile rejects is left out with a warning (and a
program counted), as is an event that does not even parse. Capacity programs
are plain OpenADR 3.1 and not held to the profile.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
import logging

from openadr3_client.oadr310.models.event.event import ExistingEvent

from . import nlflex_profile
from .client import RawEvent, VtnClient
from .config import OpenAdrConfig
from .monitoring import OnceWarnings, OpenAdrCounters
from .nlflex_signals import group_view
from .plans import ResourceGroupView, SignalKind, signal_kind

_LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True)
class EventRef:
    """An event and the program it belongs to (an OpenADR 3.0.1 report names both)."""

    program_id: str
    event_id: str


@dataclass(frozen=True)
class FetchedProgram:
    """A program read in this poll, with all its events."""

    program_id: str
    nlflex: bool  # an NL-flex program; else a plain capacity program
    events: list[ExistingEvent]


class ProgramReader:
    """Reads the configured programs and the resource groups from the VTN."""

    def __init__(
        self,
        config: OpenAdrConfig,
        client: VtnClient,
        *,
        counters: OpenAdrCounters,
        warnings: OnceWarnings,
    ) -> None:
        """Read through ``client``; count and warn of what is refused."""
        self._config = config
        self._client = client
        self._counters = counters
        self._warnings = warnings

    async def programs(self) -> list[FetchedProgram]:
        """The NL-flex programs, then the capacity programs, each the VEN accepts."""
        fetched: list[FetchedProgram] = []
        for program_id in self._config.program_ids:
            events = await self._program_events(program_id, nlflex=True)
            if events is not None:
                fetched.append(FetchedProgram(program_id, True, events))
        for program_id in self._config.capacity_program_ids:
            events = await self._program_events(program_id, nlflex=False)
            if events is not None:
                fetched.append(FetchedProgram(program_id, False, events))
        return fetched

    async def _program_events(
        self, program_id: str, *, nlflex: bool
    ) -> list[ExistingEvent] | None:
        program = await self._client.program(program_id)
        if nlflex:
            problems = nlflex_profile.violations(program)
            if problems:
                self._counters.programs_refused += 1
                self._warnings.warn(
                    _LOGGER,
                    f"program:{program_id}:{program.modification_date_time}",
                    "refused OpenADR program %s: not NL-flex compliant: %s",
                    program_id,
                    "; ".join(problems),
                )
                return None
        events, broken = await self._client.events(program_id)
        for raw in broken:
            self._refuse_raw(program_id, raw)
        return events

    def _refuse_raw(self, program_id: str, raw: RawEvent) -> None:
        key = f"raw:{program_id}:{raw.event_id}:{raw.reason}"
        if not self._warnings.given(key):
            self._counters.events_refused += 1
        self._warnings.warn(
            _LOGGER,
            key,
            "refused OpenADR event %s of program %s: %s",
            raw.event_id,
            program_id,
            raw.reason,
        )

    async def resource_groups(self) -> dict[str, ResourceGroupView]:
        """The resource groups the NL-flex profile accepts, by name (Group-ID)."""
        views: dict[str, ResourceGroupView] = {}
        for group in await self._client.resource_groups():
            problems = nlflex_profile.violations(group)
            if problems:
                self._warnings.warn(
                    _LOGGER,
                    f"group:{group.id}:{group.modification_date_time}",
                    "ignoring resource group %s: not NL-flex compliant: %s",
                    group.resource_group_name,
                    "; ".join(problems),
                )
                continue
            views[group.resource_group_name] = group_view(group)
        return views


def anchor_event(fetched: Sequence[FetchedProgram]) -> EventRef | None:
    """The NL-flex program's reporting anchor event (reports without an event cite it)."""
    for program in fetched:
        if not program.nlflex:
            continue
        for event in program.events:
            if signal_kind(
                event
            ) is SignalKind.REPORTING_ANCHOR and not nlflex_profile.violations(event):
                return EventRef(program.program_id, event.id)
    return None
