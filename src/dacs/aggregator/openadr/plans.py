"""What an OpenADR event becomes: the kinds of signal, a plan or a refusal. Pure.

The vocabulary the two kinds of program share (``capacity_signals`` for plain
OpenADR 3.1 capacity programs, ``nlflex_signals`` for NL-flex programs, and
``signals.plan_event`` that picks between them): the payload types, the
classification of an event, the plan an event version puts in force, the
context a program's events are read in, and the parsing both need.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
import hashlib
import math
from typing import Any

from openadr3_client.oadr310.models.event.event import ExistingEvent

from dacs.aggregator.domain.envelope import (
    CapacityEnvelope,
    CapacityInterval,
    EnvelopeKind,
)

QUARTER_HOUR = timedelta(minutes=15)
ADJACENT_HOUR = timedelta(hours=1)

IMPORT_CAPACITY_LIMIT = "IMPORT_CAPACITY_LIMIT"
ALERT_GRID_EMERGENCY = "ALERT_GRID_EMERGENCY"
ACTIVE_BASELINE = "ACTIVE_BASELINE"
RESERVED_BASELINE = "RESERVED_BASELINE"
FLEX = "FLEX"
_OVERRIDE_TYPES = frozenset(
    {
        "REPORT_ID",
        "ACTIVE_FLEX_DELTA_OVERRIDE",
        "ACTIVE_FLEX_DELTA_OVERRIDE_REASON",
        "RESERVED_FLEX_DELTA_OVERRIDE",
        "RESERVED_FLEX_DELTA_OVERRIDE_REASON",
    }
)


class SignalKind(StrEnum):
    """What an event asks, read from the payload types it carries."""

    CAPACITY_LIMIT = "capacity_limit"
    GRID_EMERGENCY = "grid_emergency"
    BASELINE = "baseline"
    FLEX_DISPATCH = "flex_dispatch"
    REPORTING_ANCHOR = "reporting_anchor"
    FLEX_DELTA_OVERRIDE = "flex_delta_override"
    UNKNOWN = "unknown"


@dataclass(frozen=True, kw_only=True)
class Refusal:
    """An event the VEN will not apply, and why (logged, counted, stored)."""

    kind: SignalKind
    reason: str
    expired: bool = False  # valid, but over before it was received


@dataclass(frozen=True, kw_only=True)
class ResourceGroupView:
    """A resource group as the VEN needs it (read from the VTN)."""

    object_id: str
    name: str  # the Group-ID that events target
    grid_congestion_point_id: str
    max_duration: timedelta | None = None
    active_available_flex_kw: float | None = None


@dataclass(frozen=True, kw_only=True)
class Baseline:
    """A resource group's baseline, in force from its publication until superseded."""

    event_id: str
    group_name: str
    active_kw: float
    reserved_kw: float
    published_at: datetime


@dataclass(frozen=True, kw_only=True)
class DispatchInterval:
    """One interval of a FLEX event: a dispatch or an adjacent hour."""

    interval_id: int
    start: datetime
    duration: timedelta
    flex_kw: float

    @property
    def end(self) -> datetime:
        """When the interval ends."""
        return self.start + self.duration

    @property
    def adjacent_hour(self) -> bool:
        """True for the PT1H intervals with FLEX = 0 around a dispatch."""
        return self.duration == ADJACENT_HOUR


@dataclass(frozen=True, kw_only=True)
class CapPlan:
    """What one event version puts in force (possibly nothing, e.g. a baseline)."""

    kind: SignalKind
    caps: tuple[
        tuple[str, CapacityEnvelope], ...
    ] = ()  # (congestion point id, cap event)
    group_name: str | None = None
    congestion_point_id: str | None = None  # of a FLEX event, even when over
    intervals: tuple[DispatchInterval, ...] = ()
    baseline: Baseline | None = None

    @property
    def ends_at(self) -> datetime | None:
        """When the last interval of the event ends (None: open-ended)."""
        ends = [i.end for i in self.intervals] + [e.end for _, e in self.caps]
        return max(ends) if ends else None


@dataclass(frozen=True, kw_only=True)
class ProgramContext:
    """What the mapping of one program's events needs to know."""

    program_id: str
    nlflex: bool
    congestion_points: Mapping[str, str]  # grid CONGESTION_POINT_ID -> ours
    now: datetime
    emergency_max_duration: timedelta
    groups: Mapping[str, ResourceGroupView] = field(default_factory=dict)
    baselines: Mapping[str, Baseline] = field(default_factory=dict)
    # kW of heat pumps behind a congestion point that are not in the group
    # (not enrolled): a group cap must not be met by curtailing them.
    outside_group_kw: Mapping[str, float] = field(default_factory=dict)


def signal_kind(event: ExistingEvent) -> SignalKind:
    """Classify an event by the payload types it declares and carries."""
    types = {str(d.payload_type) for d in event.payload_descriptors or ()} | {
        str(p.type) for i in event.intervals or () for p in i.payloads
    }
    if FLEX in types:
        return SignalKind.FLEX_DISPATCH
    if types & {ACTIVE_BASELINE, RESERVED_BASELINE}:
        return SignalKind.BASELINE
    if types & _OVERRIDE_TYPES:
        return SignalKind.FLEX_DELTA_OVERRIDE
    if IMPORT_CAPACITY_LIMIT in types:
        return SignalKind.CAPACITY_LIMIT
    if ALERT_GRID_EMERGENCY in types:
        return SignalKind.GRID_EMERGENCY
    if not types:
        return SignalKind.REPORTING_ANCHOR
    return SignalKind.UNKNOWN


def envelope_origin(program_id: str) -> str:
    """Who an envelope from ``program_id`` says it came from (stored, at most 64 characters)."""
    return f"openadr:{program_id}"[:64]


def cap_event_id(
    program_id: str, event_id: str, modified: datetime, congestion_point_id: str
) -> str:
    """A short, stable id for the cap event one event version puts on one point.

    VTN ids may be 128 characters; the aggregator's event ids hold 64. The
    modification time is part of it, so a changed event never reuses an id.
    """
    key = (
        f"{program_id}\x1f{event_id}\x1f{modified.isoformat()}\x1f{congestion_point_id}"
    )
    return "oadr-" + hashlib.blake2b(key.encode(), digest_size=12).hexdigest()


def dynamic_envelope(
    event: ExistingEvent,
    context: ProgramContext,
    point: str,
    intervals: tuple[CapacityInterval, ...],
) -> CapacityEnvelope:
    """The dynamic envelope one event version puts on one congestion point.

    Raises ValueError for intervals an envelope cannot hold.
    """
    return CapacityEnvelope(
        envelope_id=cap_event_id(
            context.program_id, event.id, event.modification_date_time, point
        ),
        kind=EnvelopeKind.DYNAMIC,
        intervals=intervals,
        origin=envelope_origin(context.program_id),
    )


def single_target(event: ExistingEvent) -> str | None:
    """The one target of an event (a resource group), None for none or several."""
    targets = event.targets or ()
    return targets[0] if len(targets) == 1 else None


def finite_number(value: Any) -> float | None:
    """A payload value as a finite float; None for anything else (booleans too)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def event_spans(event: ExistingEvent) -> list[tuple[int, datetime, timedelta]] | str:
    """(interval id, start, duration) per interval.

    Intervals without their own period follow each other from the event's
    period (OpenADR 3.1 user guide).
    """
    spans = []
    for index, interval in enumerate(event.intervals or ()):
        if interval.interval_period is not None:
            start = interval.interval_period.start
            duration = interval.interval_period.duration
        elif event.interval_period is not None:
            duration = event.interval_period.duration
            start = event.interval_period.start + index * duration
        else:
            return f"interval {interval.id} has no intervalPeriod and neither has the event"
        spans.append((interval.id, start, duration))
    return spans


def targeted_points(
    event: ExistingEvent, context: ProgramContext
) -> tuple[str, ...] | str:
    """Our congestion points among the event's targets, or why there are none."""
    targets = event.targets or ()
    known = tuple(
        dict.fromkeys(
            context.congestion_points[t]
            for t in targets
            if t in context.congestion_points
        )
    )
    if not known:
        return (
            f"its targets {list(targets)} name no congestion point this VEN serves "
            f"(known: {sorted(context.congestion_points)})"
        )
    return known
