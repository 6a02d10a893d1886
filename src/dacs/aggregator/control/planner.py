"""The event plan in the loop: re-plan the rest of the event, keep homes for the peak.

Every few minutes (and at each new ISP) the planner forecasts each ISP left
within its horizon: the cap less the learnt margin, the other load's
forecast at the ISP's middle, and the heat pumps at what they draw now. From
that it plans which homes carry which ISPs (``domain/event_plan.py``). The
loop then still allocates every cycle from what it measures, but a home the
plan keeps for a later ISP costs more in the merit order, so it is used now
only where the planned homes fall short. Where the residents' allowances are
long enough for every ISP that needs a reduction, there is nothing to keep
and no plan is made.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
import math

import numpy as np
from numpy.typing import NDArray

from dacs.aggregator.domain.envelope import ISP
from dacs.aggregator.domain.event_plan import EventPlan, EventPlanInput, plan_event
from dacs.aggregator.domain.fairness import effective_price_eur_per_kwh
from dacs.aggregator.domain.flex_model import FlexModel
from dacs.protocol.rules import DEFAULT_MAX_CURTAILMENT_MINUTES

from .cap_tracking import isp_start
from .fleet import HANDOVER, HomeView

_ISP_MIN = ISP.total_seconds() / 60


@dataclass(frozen=True, kw_only=True)
class PlanSettings:
    """How far and how often the planner looks ahead."""

    horizon: timedelta = timedelta(hours=6)
    replan: timedelta = timedelta(minutes=5)
    # Added to a kept home's place in the merit order: more than any
    # difference between two homes' gas, so planned homes go first.
    keep_premium_eur_per_kwh: float = 1.0

    def __post_init__(self) -> None:
        """Horizon and interval are positive, the premium finite and >= 0."""
        if self.horizon < ISP or self.replan <= timedelta(0):
            raise ValueError("the horizon must hold an ISP and replan must be > 0")
        if not math.isfinite(self.keep_premium_eur_per_kwh) or (
            self.keep_premium_eur_per_kwh < 0
        ):
            raise ValueError("keep_premium_eur_per_kwh must be finite and >= 0")


@dataclass(frozen=True, kw_only=True)
class PlanView:
    """What the last plan says, for the cycle report."""

    made_at: datetime
    isps: int  # ISPs planned (those that need a reduction, the current one first)
    kept_for_later: int  # homes the loop should leave for a later ISP
    shortfall_w: float  # the largest reduction no home can cover in a planned ISP
    short_from: datetime | None  # the first planned ISP that is short


@dataclass(frozen=True, kw_only=True)
class Outlook:
    """What the loop foresees: the cap, the other load and the margin, later on."""

    cap_at: Callable[[datetime], float]  # W at a moment
    other_at: Callable[[datetime], float]  # W at a moment
    margin_at: Callable[[float], float]  # W under a cap of so many W


class EventPlanner:
    """One congestion point's plan for the rest of its event."""

    def __init__(self, settings: PlanSettings | None = None) -> None:
        """Start without a plan."""
        self.settings = settings or PlanSettings()
        self._made_at: datetime | None = None
        self._made_for: tuple[str, ...] = ()
        self._kept: frozenset[str] = frozenset()
        self.view: PlanView | None = None

    def apply(
        self,
        now: datetime,
        homes: Sequence[HomeView],
        model: FlexModel,
        outlook: Outlook,
    ) -> FlexModel:
        """``model`` with the homes the plan keeps for later ranked after the others."""
        if self._due(now, model.home_ids):
            self._kept = self._replan(now, homes, model, outlook)
        if not self._kept:
            return model
        kept = np.fromiter((h in self._kept for h in model.home_ids), bool, model.size)
        premium = self.settings.keep_premium_eur_per_kwh * kept
        return replace(model, keep_premium_eur_per_kwh=premium)

    def _due(self, now: datetime, home_ids: tuple[str, ...]) -> bool:
        made = self._made_at
        return (
            made is None
            or home_ids != self._made_for
            or isp_start(now) != isp_start(made)
            or now - made >= self.settings.replan
            or now < made
        )

    def _replan(
        self,
        now: datetime,
        homes: Sequence[HomeView],
        model: FlexModel,
        outlook: Outlook,
    ) -> frozenset[str]:
        self._made_at, self._made_for = now, model.home_ids
        starts = _isp_starts(now, self.settings.horizon)
        heat_pumps_w = float(model.baseline_w.sum())
        need = np.array([_need_w(start, heat_pumps_w, outlook) for start in starts])
        # The current ISP always; later ones only where they need a reduction.
        keep = np.flatnonzero((need > 0) | (np.arange(len(starts)) == 0))
        starts, need = [starts[i] for i in keep], need[keep]
        allowance = np.array([_allowance_isps(view, now) for view in homes])
        reducible = _reducible_w(homes, model, starts)
        self.view = None
        usable = reducible.max(axis=1, initial=0.0) > 0
        if len(starts) <= 1 or not np.any(allowance[usable] < len(starts)):
            return frozenset()  # no allowance binds: nothing to keep
        price = effective_price_eur_per_kwh(
            model.ask_eur_per_kwh, model.recent_curtailment_kwh, model.available
        )
        plan = plan_event(
            EventPlanInput(
                need_w=need,
                reducible_w=reducible,
                cost_eur_per_kwh=np.maximum(price + model.substitution, 0.0),
                allowance_isps=allowance,
                running=np.array([v.curtailed_since is not None for v in homes]),
            )
        )
        kept = plan.kept_for_later()
        self.view = _view(now, plan, starts, int(kept.sum()))
        return frozenset(h for h, k in zip(model.home_ids, kept, strict=True) if k)


def _isp_starts(now: datetime, horizon: timedelta) -> list[datetime]:
    first = isp_start(now)
    count = max(1, int(horizon / ISP))
    return [first + i * ISP for i in range(count)]


def _need_w(start: datetime, heat_pumps_w: float, outlook: Outlook) -> float:
    """The reduction one ISP needs if the heat pumps go on drawing what they draw now."""
    cap_at = outlook.cap_at
    cap_w = min(cap_at(start), cap_at(start + ISP / 2), cap_at(start + ISP * 0.99))
    other_w = outlook.other_at(start + ISP / 2)
    return max(0.0, heat_pumps_w + other_w - (cap_w - outlook.margin_at(cap_w)))


def _allowance_isps(view: HomeView, now: datetime) -> float:
    """The ISPs of curtailment the resident still allows this home, from now."""
    minutes = (
        view.preferences.max_curtailment_minutes
        if view.preferences is not None
        else DEFAULT_MAX_CURTAILMENT_MINUTES
    )
    left = timedelta(minutes=minutes) - HANDOVER
    if view.curtailed_since is not None:
        left -= now - view.curtailed_since
    return max(0.0, left / timedelta(minutes=_ISP_MIN))


def _reducible_w(
    homes: Sequence[HomeView], model: FlexModel, starts: Sequence[datetime]
) -> NDArray[np.float64]:
    """Per home and ISP the most it can reduce; a resting home from its rest's end."""
    reach = np.repeat(model.max_reduction_w[:, None], len(starts), axis=1)
    # What a home could give were it available (the model's own rule).
    whole = np.where(
        model.gas_only,
        model.baseline_w,
        np.maximum(model.baseline_w - model.floor_w, 0.0),
    )
    for index, view in enumerate(homes):
        rest = view.resting_until
        if model.available[index] or rest is None:
            continue
        # Resting after a full curtailment: back in the ISPs that begin after it.
        for column, start in enumerate(starts):
            if start >= rest:
                reach[index, column] = whole[index]
    return reach


def _view(
    now: datetime, plan: EventPlan, starts: list[datetime], kept: int
) -> PlanView:
    short = np.flatnonzero(plan.shortfall_w > 1.0)
    return PlanView(
        made_at=now,
        isps=len(starts),
        kept_for_later=kept,
        shortfall_w=float(plan.shortfall_w.max(initial=0.0)),
        short_from=starts[int(short[0])] if short.size else None,
    )
