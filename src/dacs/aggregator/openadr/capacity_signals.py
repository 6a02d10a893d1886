"""Plain OpenADR 3.1 capacity programs -> capacity envelopes. Pure: no I/O.

IMPORT_CAPACITY_LIMIT profiles in 15-minute intervals become a dynamic
capacity profile of a congestion point; ALERT_GRID_EMERGENCY triggers the
emergency stop. The NL-flex profile defines neither, so its validators would
reject them: these events are checked here, not by ``nlflex_profile``.
"""

from __future__ import annotations

from datetime import timedelta

from openadr3_client.oadr310.models.event.event import ExistingEvent
from openadr3_client.oadr310.models.unit import Unit

from dacs.aggregator.domain.envelope import CapacityEnvelope, CapacityInterval

from .plans import (
    IMPORT_CAPACITY_LIMIT,
    QUARTER_HOUR,
    CapPlan,
    ProgramContext,
    Refusal,
    SignalKind,
    cap_event_id,
    dynamic_envelope,
    event_spans,
    finite_number,
    targeted_points,
)


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
    points = targeted_points(event, context)
    if isinstance(points, str):
        return refuse(points)
    if len(points) != 1:
        return refuse(
            f"a capacity limit must target one congestion point, not {points}"
        )
    spans = event_spans(event)
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
        cap = finite_number(values[0]) if len(values) == 1 else None
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
        cap_event = dynamic_envelope(event, context, point, tuple(intervals))
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
        points = targeted_points(event, context)
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
