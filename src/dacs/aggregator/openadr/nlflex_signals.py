"""NL-flex programs (DER profile v1.0.0) -> capacity envelopes. Pure: no I/O.

Baseline events give a resource group's ACTIVE_BASELINE; FLEX events call
flexibility from the group, each dispatch interval capping the group at
ACTIVE_BASELINE - FLEX and each adjacent hour (FLEX = 0) at the baseline, so
the homes do not catch up right before or after a dispatch. The resource
groups those events target are read from the VTN's objects here too.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

from openadr3_client._models.common.value_map_collection import ValuesMap
from openadr3_client._models.common.ven_resource_attribute_type import (
    VenResourceAttributeType,
)
from openadr3_client.extensions.resource_group.models.resource_group import (
    ExistingResourceGroup,
)
from openadr3_client.oadr310.models.event.event import ExistingEvent

from dacs.aggregator.domain.envelope import CapacityEnvelope, CapacityInterval

from . import nlflex_profile
from .plans import (
    ACTIVE_BASELINE,
    RESERVED_BASELINE,
    Baseline,
    CapPlan,
    DispatchInterval,
    ProgramContext,
    Refusal,
    ResourceGroupView,
    SignalKind,
    dynamic_envelope,
    event_spans,
    finite_number,
    single_target,
)


def read_baseline(event: ExistingEvent) -> Baseline | Refusal:
    """The ACTIVE_BASELINE and RESERVED_BASELINE of a baseline event."""
    kind = SignalKind.BASELINE
    group = single_target(event)
    if group is None or not event.intervals:
        return Refusal(kind=kind, reason="a baseline event targets one resource group")
    values: dict[str, float] = {}
    for payload in event.intervals[0].payloads:
        number = finite_number(payload.values[0]) if len(payload.values) == 1 else None
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


def baseline_plan(event: ExistingEvent, context: ProgramContext) -> CapPlan | Refusal:
    """A baseline event -> nothing in force; the baseline, kept for its group."""
    baseline = read_baseline(event)
    if isinstance(baseline, Refusal):
        return baseline
    group = context.groups.get(baseline.group_name)
    return CapPlan(
        kind=SignalKind.BASELINE,
        group_name=baseline.group_name,
        congestion_point_id=context.congestion_points.get(
            group.grid_congestion_point_id
        )
        if group is not None
        else None,
        baseline=baseline,
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

    group_name = single_target(event)
    group = context.groups.get(group_name or "")
    if group is None:
        return refuse(f"it targets {event.targets}, no resource group this VEN knows")
    problems = nlflex_profile.dispatch_violations(
        event,
        max_duration=group.max_duration,
        max_callable_kw=group.active_available_flex_kw,
    )
    if problems:
        return refuse("; ".join(problems))
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
    spans = event_spans(event)
    if isinstance(spans, str):  # pragma: no cover - the profile requires periods
        return refuse(spans)
    dispatch = []
    for (interval_id, start, duration), interval in zip(
        spans, event.intervals or (), strict=True
    ):
        flex = finite_number(interval.payloads[0].values[0])
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
                dynamic_envelope(event, context, point, cap_intervals),
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


def group_view(group: ExistingResourceGroup) -> ResourceGroupView:
    """A resource group read from the VTN: its congestion point, MAX_DURATION, flex."""
    attributes = group.attributes or ValuesMap([])

    def value(name: str) -> object | None:
        attribute = attributes.get_by_type(VenResourceAttributeType(name))
        return (
            attribute.values[0] if attribute is not None and attribute.values else None
        )

    durations = {"PT2H": 2, "PT4H": 4, "PT6H": 6}
    max_duration = durations.get(str(value("MAX_DURATION")))
    available = value("ACTIVE_AVAILABLE_FLEX")
    return ResourceGroupView(
        object_id=group.id,
        name=group.resource_group_name,
        grid_congestion_point_id=str(value("CONGESTION_POINT_ID")),
        max_duration=timedelta(hours=max_duration) if max_duration else None,
        active_available_flex_kw=float(available)
        if isinstance(available, int | float) and not isinstance(available, bool)
        else None,
    )
