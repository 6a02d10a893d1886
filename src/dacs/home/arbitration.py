"""Who decides the heat pump's limit, in order of authority.

1. the resident's opt-out or pause: no aggregator limit at all;
2. the comfort guard: indoor temperature below the resident's comfort floor
   releases the aggregator's limit for the rest of that command (and so does
   reaching the resident's maximum curtailment duration);
3. the device's safety floor: enforced by the device layer when the limit is
   written (below it: gas-only where possible, else the floor);
4. the aggregator's power envelope;
5. the resident's own manual limit.

The aggregator's cap and the manual cap are both maximums, so where both are
in force the lower one holds; the source says which one binds.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from dacs.devices import LimitAction, LimitResult
from dacs.protocol import Command, LimitSource

from .resident import ResidentSettings


class Guard(StrEnum):
    """Why the aggregator's limit is not applied although a command is in force."""

    NONE = "none"
    OPTED_OUT = "opted_out"
    PAUSED = "paused"
    COMFORT = "comfort"
    MAX_DURATION = "max_duration"


@dataclass(frozen=True, kw_only=True)
class Decision:
    """The cap to write to the heat pump now, and why."""

    max_power_w: float | None  # None: no limit
    source: LimitSource
    guard: Guard
    command_id: str | None  # the command whose envelope binds, if any
    valid_until: (
        datetime | None
    )  # when this decision must be reconsidered at the latest

    @property
    def aggregator_limited(self) -> bool:
        """True while the aggregator's envelope is what limits the heat pump."""
        return self.source is LimitSource.AGGREGATOR


def decide(
    *,
    now: datetime,
    settings: ResidentSettings,
    command: Command | None,
    guard_tripped: Guard,
) -> Decision:
    """Combine the resident's settings, the guards and the command into one cap.

    ``guard_tripped`` is a guard that already fired for ``command`` (comfort or
    maximum duration); it stays in force until the command ends.
    """
    aggregator_cap: float | None = None
    guard = Guard.NONE
    valid_until: datetime | None = None
    command_id: str | None = None
    if command is not None and now < command.ends_at:
        if not settings.participating(now):
            guard = (
                Guard.PAUSED
                if settings.participation.value == "paused"
                else Guard.OPTED_OUT
            )
        elif guard_tripped is not Guard.NONE:
            guard = guard_tripped
        else:
            aggregator_cap = command.limit_at(now)
            valid_until = command.next_change_after(now)
            if aggregator_cap is not None:
                command_id = command.command_id
    manual = settings.manual_limit_w
    if aggregator_cap is not None and (manual is None or aggregator_cap <= manual):
        return Decision(
            max_power_w=aggregator_cap,
            source=LimitSource.AGGREGATOR,
            guard=guard,
            command_id=command_id,
            valid_until=valid_until,
        )
    if manual is not None:
        return Decision(
            max_power_w=manual,
            source=LimitSource.MANUAL,
            guard=guard,
            command_id=None,
            valid_until=valid_until,
        )
    return Decision(
        max_power_w=None,
        source=LimitSource.NONE,
        guard=guard,
        command_id=None,
        valid_until=valid_until,
    )


@dataclass(frozen=True, kw_only=True)
class GuardCheck:
    """The guard in force after a check, and since when the home is curtailed."""

    guard: Guard
    curtailed_since: datetime | None


def check_guards(
    *,
    now: datetime,
    decision: Decision,
    guard: Guard,
    curtailed_since: datetime | None,
    indoor_temp_c: float | None,
    settings: ResidentSettings,
) -> GuardCheck:
    """Trip the comfort or the duration guard for the command in force.

    ``decision`` is the one in force before this check. A guard that already
    tripped stays until the command ends (the command book resets it).
    """
    if not decision.aggregator_limited:
        return GuardCheck(guard=guard, curtailed_since=None)
    if guard is not Guard.NONE:
        return GuardCheck(guard=guard, curtailed_since=curtailed_since)
    if indoor_temp_c is not None and indoor_temp_c < settings.comfort_floor_c:
        return GuardCheck(guard=Guard.COMFORT, curtailed_since=curtailed_since)
    since = curtailed_since or now
    if now - since >= timedelta(minutes=settings.max_curtailment_minutes):
        return GuardCheck(guard=Guard.MAX_DURATION, curtailed_since=since)
    return GuardCheck(guard=Guard.NONE, curtailed_since=since)


def released_by_resident(guard: Guard) -> bool:
    """True while one of the resident's guards holds the command's limit off.

    Both the comfort floor and the maximum curtailment duration count: the
    aggregator must see either as an override (``comfort_override``), or it
    takes a released home for one that ignores its limit.
    """
    return guard in (Guard.COMFORT, Guard.MAX_DURATION)


def reported_limit(
    applied: LimitResult | None, decision: Decision | None
) -> tuple[float | None, LimitSource]:
    """The limit in force at the heat pump and who caused it, as telemetry reports it."""
    if applied is None or decision is None or not applied.limited:
        return None, LimitSource.NONE
    if applied.action is LimitAction.GAS_ONLY:
        return 0.0, LimitSource.GAS_ONLY
    if applied.action is LimitAction.FLOOR_APPLIED:
        return float(applied.max_power_w or 0), LimitSource.FLOOR
    return float(applied.max_power_w or 0), decision.source


def needs_write(applied: Decision | None, decision: Decision) -> bool:
    """True when ``decision`` differs from the one last written to the heat pump."""
    if applied is None:
        return decision.max_power_w is not None
    return (applied.max_power_w, applied.valid_until) != (
        decision.max_power_w,
        decision.valid_until,
    )
