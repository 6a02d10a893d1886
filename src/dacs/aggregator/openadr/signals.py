"""OpenADR events -> the aggregator's capacity envelopes. Pure: no I/O, time passed in.

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

``plan_event`` checks an event against its program's profile and hands it to
``nlflex_signals`` or ``capacity_signals``; ``plans`` holds what they share.
"""

from __future__ import annotations

from openadr3_client.oadr310.models.event.event import ExistingEvent

from . import nlflex_profile
from .capacity_signals import capacity_limit_plan, grid_emergency_plan
from .nlflex_signals import baseline_plan, flex_dispatch_plan
from .plans import (
    CapPlan,
    ProgramContext,
    Refusal,
    SignalKind,
    signal_kind,
    single_target,
)

_NLFLEX_KINDS = frozenset(
    {
        SignalKind.BASELINE,
        SignalKind.FLEX_DISPATCH,
        SignalKind.REPORTING_ANCHOR,
        SignalKind.FLEX_DELTA_OVERRIDE,
    }
)
_CAPACITY_KINDS = frozenset({SignalKind.CAPACITY_LIMIT, SignalKind.GRID_EMERGENCY})


def plan_event(event: ExistingEvent, context: ProgramContext) -> CapPlan | Refusal:
    """Check an event against its program's profile and map it; never half a plan."""
    kind = signal_kind(event)
    if context.nlflex:
        problems = nlflex_profile.violations(event)
        if problems:
            return Refusal(kind=kind, reason="; ".join(problems))
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
            return baseline_plan(event, context)
        case SignalKind.FLEX_DISPATCH:
            return flex_dispatch_plan(event, context)
        case _:
            return CapPlan(kind=kind, group_name=single_target(event))
