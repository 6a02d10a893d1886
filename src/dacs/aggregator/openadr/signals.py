"""OpenADR events -> the aggregator's cap events. Pure: no I/O, time passed in.

Two kinds of program are understood:

* NL-flex programs (DER profile v1.0.0, checked with ``nlflex10``): baseline
  events give a resource group's ACTIVE_BASELINE; FLEX events call
  flexibility from the group, each dispatch interval capping the group at
  ACTIVE_BASELINE - FLEX and each adjacent hour (FLEX = 0) at the baseline,
  so the homes do not catch up right before or after a dispatch.
* Plain OpenADR 3.1 capacity programs: IMPORT_CAPACITY_LIMIT profiles in
  15-minute intervals become a dynamic capacity profile of a congestion
  point; ALERT_GRID_EMERGENCY triggers the emergency stop. The NL-flex profile
  defines neither, so its validators would reject them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
import hashlib
import math
from typing import Any

from openadr3_client.oadr310.models.event.event import ExistingEvent
from openadr3_client.oadr310.models.unit import Unit

from dacs.aggregator.domain.envelope import (
    CapacityEnvelope,
    CapacityInterval,
    EnvelopeKind,
)

from . import nlflex_profile

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


_NLFLEX_KINDS = frozenset(
    {
        SignalKind.BASELINE,
        SignalKind.FLEX_DISPATCH,
        SignalKind.REPORTING_ANCHOR,
        SignalKind.FLEX_DELTA_OVERRIDE,
    }
)
_CAPACITY_KINDS = frozenset({SignalKind.CAPACITY_LIMIT, SignalKind.GRID_EMERGENCY})


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


def plan_event(event: ExistingEvent, context: ProgramContext) -> CapPlan | Refusal:
    """Check an event against its program's profile and map it; never half a plan."""
    kind = signal_kind(event)
    if context.nlflex:
        problems = nlflex_profile.violations(event)
        if problems:
            return Refusal(kind=kind, reason=_join(problems))
        if kind not in _NLFLEX_KINDS:  # pragma: no cover - the profile rejects these
            return Refusal(kind=kind, reason=f"{kind} is not part of NL-flex")
    elif kind not in _CAPACITY_KINDS:
        return Refusal(
            kind=kind,
            reason=f"a capacity program carries IMPORT_CAPACITY_LIMIT or "
            f"ALERT_GRID_EMERGENCY events, not {kind}",
        )
    match kind:
        case SignalKind.CAPACITY_LIMIT:
            return capacity_limit_plan(event, context)
        case SignalKind.GRID_EMERGENCY:
            return grid_emergency_plan(event, context)
        case SignalKind.BASELINE:
            baseline = read_baseline(event)
            if isinstance(baseline, Refusal):
                return baseline
            group = context.groups.get(baseline.group_name)
            return CapPlan(
                kind=kind,
                group_name=baseline.group_name,
                congestion_point_id=context.congestion_points.get(
                    group.grid_congestion_point_id
                )
                if group is not None
                else None,
                baseline=baseline,
            )
        case SignalKind.FLEX_DISPATCH:
            return flex_dispatch_plan(event, context)
        case _:
            return CapPlan(kind=kind, group_name=_single_target(event))


def _join(problems: Iterable[str]) -> str:
    return "; ".join(problems)


def _single_target(event: ExistingEvent) -> str | None:
    targets = event.targets or ()
    return targets[0] if len(targets) == 1 else None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _spans(event: ExistingEvent) -> list[tuple[int, datetime, timedelta]] | str:
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


def _congestion_points(
    event: ExistingEvent, context: ProgramContext
) -> tuple[str, ...] | str:
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


def capacity_limit_plan(
    event: ExistingEvent, context: ProgramContext
) -> CapPlan | Refusal:
    """IMPORT_CAPACITY_LIMIT in KW per 15 minutes -> a dynamic capacity profile."""
    kind = SignalKind.CAPACITY_LIMIT

    def refuse(reason: str) -> Refusal:
        return Refusal(kind=kind, reason=reason)

    descriptors = [
        d
        for d in event.payload_descriptors or ()
        if str(d.payload_type) == IMPORT_CAPACITY_LIMIT
    ]
    if len(descriptors) != 1:
        return refuse("needs exactly one IMPORT_CAPACITY_LIMIT payload descriptor")
    if descriptors[0].units != Unit.KW:
        return refuse(
            f"IMPORT_CAPACITY_LIMIT must be in KW, not {descriptors[0].units}"
        )
    points = _congestion_points(event, context)
    if isinstance(points, str):
        return refuse(points)
    if len(points) != 1:
        return refuse(
            f"a capacity limit must target one congestion point, not {points}"
        )
    spans = _spans(event)
    if isinstance(spans, str):
        return refuse(spans)
    if not spans:
        return refuse("a capacity limit needs at least one interval")
    intervals = []
    for (interval_id, start, duration), interval in zip(
        spans, event.intervals or (), strict=True
    ):
        if duration != QUARTER_HOUR:
            return refuse(
                f"interval {interval_id} lasts {duration}; capacity limits come in "
                "15-minute intervals (PT15M)"
            )
        payloads = interval.payloads
        if len(payloads) != 1 or str(payloads[0].type) != IMPORT_CAPACITY_LIMIT:
            return refuse(
                f"interval {interval_id} must carry exactly one IMPORT_CAPACITY_LIMIT payload"
            )
        values = payloads[0].values
        cap = _number(values[0]) if len(values) == 1 else None
        if cap is None or cap < 0:
            return refuse(
                f"interval {interval_id}: the limit must be one number >= 0 kW, not {list(values)}"
            )
        intervals.append(
            CapacityInterval(start=start, end=start + duration, cap_w=cap * 1000)
        )
    intervals.sort(key=lambda i: i.start)
    if intervals[-1].end <= context.now:
        return Refusal(kind=kind, reason="every interval has passed", expired=True)
    point = points[0]
    try:
        cap_event = CapacityEnvelope(
            envelope_id=cap_event_id(
                context.program_id, event.id, event.modification_date_time, point
            ),
            kind=EnvelopeKind.DYNAMIC,
            intervals=tuple(intervals),
            origin=envelope_origin(context.program_id),
        )
    except ValueError as err:
        return refuse(str(err))
    return CapPlan(kind=kind, caps=((point, cap_event),))


def grid_emergency_plan(
    event: ExistingEvent, context: ProgramContext
) -> CapPlan | Refusal:
    """ALERT_GRID_EMERGENCY -> the emergency stop on the targeted congestion points.

    Without targets the alert covers every congestion point this VEN serves.
    An open-ended alert (no or zero duration) holds for at most
    ``emergency_max_duration``; deleting the event ends it earlier.
    """
    kind = SignalKind.GRID_EMERGENCY
    if event.targets:
        points = _congestion_points(event, context)
        if isinstance(points, str):
            return Refusal(kind=kind, reason=points)
    else:
        points = tuple(dict.fromkeys(context.congestion_points.values()))
    period = event.interval_period
    if period is None:
        periods = [
            i.interval_period for i in event.intervals or () if i.interval_period
        ]
        period = periods[0] if periods else None
    start = period.start if period is not None else event.created_date_time
    duration = period.duration if period is not None else timedelta(0)
    if duration <= timedelta(0) or duration > context.emergency_max_duration:
        duration = context.emergency_max_duration
    if start + duration <= context.now:
        return Refusal(kind=kind, reason="the emergency has ended", expired=True)
    caps = tuple(
        (
            point,
            CapacityEnvelope.emergency_stop(
                cap_event_id(
                    context.program_id, event.id, event.modification_date_time, point
                ),
                start,
                duration,
            ),
        )
        for point in points
    )
    return CapPlan(kind=kind, caps=caps)


def read_baseline(event: ExistingEvent) -> Baseline | Refusal:
    """The ACTIVE_BASELINE and RESERVED_BASELINE of a baseline event."""
    kind = SignalKind.BASELINE
    group = _single_target(event)
    if group is None or not event.intervals:
        return Refusal(kind=kind, reason="a baseline event targets one resource group")
    values: dict[str, float] = {}
    for payload in event.intervals[0].payloads:
        number = _number(payload.values[0]) if len(payload.values) == 1 else None
        if number is None:
            return Refusal(kind=kind, reason=f"{payload.type} is not one number in kW")
        values[str(payload.type)] = number
    if ACTIVE_BASELINE not in values or RESERVED_BASELINE not in values:
        return Refusal(kind=kind, reason="ACTIVE_BASELINE or RESERVED_BASELINE missing")
    return Baseline(
        event_id=event.id,
        group_name=group,
        active_kw=values[ACTIVE_BASELINE],
        reserved_kw=values[RESERVED_BASELINE],
        published_at=event.created_date_time,
    )


def current_baselines(baselines: Iterable[Baseline]) -> dict[str, Baseline]:
    """The newest baseline per resource group: a new baseline event supersedes the old."""
    newest: dict[str, Baseline] = {}
    for baseline in baselines:
        known = newest.get(baseline.group_name)
        if known is None or baseline.published_at > known.published_at:
            newest[baseline.group_name] = baseline
    return newest


def flex_dispatch_plan(
    event: ExistingEvent, context: ProgramContext
) -> CapPlan | Refusal:
    """A FLEX event -> caps of ACTIVE_BASELINE - FLEX (adjacent hours: the baseline)."""
    kind = SignalKind.FLEX_DISPATCH

    def refuse(reason: str) -> Refusal:
        return Refusal(kind=kind, reason=reason)

    group_name = _single_target(event)
    group = context.groups.get(group_name or "")
    if group is None:
        return refuse(f"it targets {event.targets}, no resource group this VEN knows")
    problems = nlflex_profile.dispatch_violations(
        event,
        max_duration=group.max_duration,
        max_callable_kw=group.active_available_flex_kw,
    )
    if problems:
        return refuse(_join(problems))
    point = context.congestion_points.get(group.grid_congestion_point_id)
    if point is None:
        return refuse(
            f"the group's congestion point {group.grid_congestion_point_id!r} is not "
            "mapped in openadr.congestion_points"
        )
    baseline = context.baselines.get(group.name)
    if baseline is None:
        return refuse(
            f"no baseline event for group {group.name!r}: the cap is baseline - FLEX"
        )
    spans = _spans(event)
    if isinstance(spans, str):  # pragma: no cover - the profile requires periods
        return refuse(spans)
    dispatch = []
    for (interval_id, start, duration), interval in zip(
        spans, event.intervals or (), strict=True
    ):
        flex = _number(interval.payloads[0].values[0])
        if flex is None:  # pragma: no cover - the profile checks the value
            return refuse(f"interval {interval_id}: FLEX is not a number")
        dispatch.append(
            DispatchInterval(
                interval_id=interval_id, start=start, duration=duration, flex_kw=flex
            )
        )
    dispatch.sort(key=lambda i: i.start)
    outside = context.outside_group_kw.get(point, 0.0)
    cap_intervals = tuple(
        CapacityInterval(
            start=i.start,
            end=i.end,
            cap_w=(max(0.0, baseline.active_kw - i.flex_kw) + outside) * 1000,
        )
        for i in dispatch
        if i.end > context.now
    )
    caps: tuple[tuple[str, CapacityEnvelope], ...] = ()
    if cap_intervals:
        caps = (
            (
                point,
                CapacityEnvelope(
                    envelope_id=cap_event_id(
                        context.program_id,
                        event.id,
                        event.modification_date_time,
                        point,
                    ),
                    kind=EnvelopeKind.DYNAMIC,
                    intervals=cap_intervals,
                    origin=envelope_origin(context.program_id),
                ),
            ),
        )
    # A FLEX event whose intervals have all passed still gets its ACK and
    # delivery report, so it is planned (with no caps), not refused.
    return CapPlan(
        kind=kind,
        caps=caps,
        group_name=group.name,
        congestion_point_id=point,
        intervals=tuple(dispatch),
    )
