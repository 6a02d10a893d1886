"""One congestion point's closed loop: measure, compare with the cap, re-allocate, dispatch."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
import logging
import math

from dacs.aggregator.domain.allocation import Allocation
from dacs.aggregator.domain.allocator import allocate
from dacs.aggregator.domain.envelope import (
    CapacityEnvelope,
    CapInForce,
    FixedCapacity,
    binding_cap,
)
from dacs.aggregator.domain.flex_context import FlexContext
from dacs.protocol import Cancel, Command

from .cap_tracking import CapTracker, CycleTarget
from .dispatch import DispatchPlan, DispatchSettings, plan_dispatch
from .fleet import FOLLOW_DELAY, Fleet
from .other_load import OtherLoadAt, OtherLoadEstimate
from .planner import EventPlanner, Outlook, PlanView

_LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class CycleReport:
    """What one control cycle saw and did."""

    time: datetime
    congestion_point_id: str
    cap: CapInForce | None
    cap_w: float
    measured_load_w: float | None
    heat_pump_load_w: float
    other_load_w: float
    forecast_load_w: float
    required_reduction_w: float
    shortfall_w: float
    curtailed_homes: int
    commands: int
    cancels: int
    held_for_rebound: int
    target: CycleTarget | None = None  # where the cycle aimed under the cap
    isp_mean_w: float | None = None  # the current ISP's mean load so far
    isps_over_cap: int = 0  # finished ISPs of the last day whose mean was over the cap
    worst_isp_excess_w: float = 0.0  # the largest of those excesses
    plan: PlanView | None = None  # the plan for the rest of the event, if one binds


@dataclass
class CongestionPointControl:
    """The control state of one congestion point."""

    point_id: str
    rated_capacity_kw: float
    fleet: Fleet
    fixed: FixedCapacity | None = None
    settings: DispatchSettings = field(default_factory=DispatchSettings)
    envelopes: list[CapacityEnvelope] = field(default_factory=list)
    measurement: tuple[datetime, float] | None = None  # (time, load W)
    last_report: CycleReport | None = None
    last_allocation: Allocation | None = None
    tracker: CapTracker = field(default_factory=CapTracker)
    planner: EventPlanner = field(default_factory=EventPlanner)
    # The ownership epoch this instance holds the point in; its commands
    # carry it (None: the instance runs alone).
    epoch: int | None = None
    other_load: OtherLoadEstimate = field(init=False)

    def __post_init__(self) -> None:
        """The other load's estimate follows the dispatch settings."""
        cycle = timedelta(seconds=self.settings.cycle_s)
        self.other_load = OtherLoadEstimate(
            gain=self.settings.other_load_gain,
            stale_after=3 * cycle,
            follow_delay=FOLLOW_DELAY,
            hold=cycle,
        )

    def record_measurement(self, at: datetime, load_w: float) -> None:
        """A real-time transformer load measurement."""
        if not math.isfinite(load_w) or load_w < 0:
            raise ValueError("a transformer load must be a finite number >= 0 W")
        if self.measurement is None or at >= self.measurement[0]:
            self.measurement = (at, load_w)
            # Less what the heat pumps drew then, taken now: commands sent
            # later move the heat pumps but not this measurement.
            homes = self.fleet.of(self.point_id)
            self.other_load.measured(
                at,
                load_w
                - self.fleet.heat_pump_load_w(homes, at, self.settings.rebound_share),
            )
        self.tracker.observe(at, load_w)

    def cap_w_at(self, moment: datetime) -> float:
        """The cap on the load at ``moment``: the binding envelope's, never above rated."""
        return self.cap_w_under(self.envelopes, moment)

    def cap_w_under(
        self, envelopes: Sequence[CapacityEnvelope], moment: datetime
    ) -> float:
        """The cap ``envelopes`` (and the fixed profile) set at ``moment``, never above rated."""
        rated_w = self.rated_capacity_kw * 1000
        cap = binding_cap(moment, fixed=self.fixed, envelopes=envelopes)
        return min(cap.cap_w, rated_w) if cap is not None else rated_w

    def put_in_force(self, envelope: CapacityEnvelope) -> None:
        """Add an envelope, or replace the one with its id."""
        self.envelopes = [
            e for e in self.envelopes if e.envelope_id != envelope.envelope_id
        ]
        self.envelopes.append(envelope)

    def withdraw(self, envelope_id: str) -> bool:
        """End an envelope early; False when there was none with that id."""
        before = len(self.envelopes)
        self.envelopes = [e for e in self.envelopes if e.envelope_id != envelope_id]
        return len(self.envelopes) != before

    def prune(self, now: datetime) -> None:
        """Forget envelopes that have ended."""
        self.envelopes = [e for e in self.envelopes if e.end > now]

    def cycle(
        self, now: datetime, *, other_load_at: OtherLoadAt | None = None
    ) -> tuple[CycleReport, DispatchPlan]:
        """Compare load with the cap, allocate, and plan the commands to send.

        ``other_load_at`` is the forecast of the load other than the heat
        pumps (W at a moment). With a fresh measurement only its change
        counts: the meter gives the level, the forecast what happens before
        this cycle's commands are replaced (a step at the quarter hour).
        """
        self.prune(now)
        homes = self.fleet.of(self.point_id)
        cap = binding_cap(now, fixed=self.fixed, envelopes=self.envelopes)
        cap_w = self.cap_w_at(now)
        heat_pump_w = self.fleet.heat_pump_load_w(
            homes, now, self.settings.rebound_share
        )
        measured_w: float | None = None
        if self.measurement is not None and self.other_load.fresh(now):
            measured_w = self.measurement[1]
        other_w = self.other_load.at(now, other_load_at)
        model = self.fleet.flex_model(
            homes,
            now,
            rebound_share=self.settings.rebound_share,
            prices=self.settings.prices,
        )
        model = self.planner.apply(
            now,
            homes,
            model,
            Outlook(
                cap_at=self.cap_w_at,
                other_at=lambda moment: self.other_load.later_w(
                    moment, now, other_load_at
                ),
                margin_at=self.tracker.margin_w,
            ),
        )
        target = self.tracker.target(now, self.cap_w_at)
        allocation = allocate(
            model,
            FlexContext(
                cap_w=target.target_w,
                other_load_w=other_w,
                interval_s=self.settings.cycle_s,
            ),
        )
        self.tracker.predicted(now, allocation.forecast_load_w)
        # The load now, with the limits in force, is what the release must fit under.
        plan = plan_dispatch(
            homes,
            allocation,
            now=now,
            cap=cap,
            cap_w=target.target_w,
            forecast_load_w=other_w + heat_pump_w,
            settings=self.settings,
            epoch=self.epoch,
        )
        # Short is what the deepest limits leave over the cap itself; what
        # they leave in the margin only is not a lack of flexibility.
        shortfall_w = (
            max(0.0, allocation.forecast_load_w - cap_w)
            if allocation.shortfall_w > 0
            else 0.0
        )
        report = CycleReport(
            time=now,
            congestion_point_id=self.point_id,
            cap=cap,
            cap_w=cap_w,
            measured_load_w=measured_w,
            heat_pump_load_w=heat_pump_w,
            other_load_w=other_w,
            forecast_load_w=allocation.forecast_load_w,
            required_reduction_w=allocation.required_reduction_w,
            shortfall_w=shortfall_w,
            curtailed_homes=int((allocation.reduction_w > 0).sum()),
            commands=len(plan.commands),
            cancels=len(plan.cancels),
            held_for_rebound=len(plan.held_for_rebound),
            target=target,
            isp_mean_w=self.tracker.isp_mean_w(now),
            isps_over_cap=sum(1 for o in self.tracker.outcomes if o.excess_w > 0),
            worst_isp_excess_w=max(
                (o.excess_w for o in self.tracker.outcomes), default=0.0
            ),
            plan=self.planner.view,
        )
        if shortfall_w > 0:
            _LOGGER.warning(
                "%s: not enough flexibility, %.1f kW short of the cap",
                self.point_id,
                shortfall_w / 1000,
            )
        self.last_report = report
        self.last_allocation = allocation
        return report, plan

    def sent(self, message: Command | Cancel) -> None:
        """Record that a command or cancel went out (the fleet now expects it in force)."""
        view = self.fleet.homes.get(message.home_id)
        if view is None:
            return
        view.changed_at = message.issued_at
        if isinstance(message, Command):
            view.command = message
            view.command_result = None
        elif view.command is not None and view.command.command_id == message.command_id:
            view.command = None
            view.command_result = None
