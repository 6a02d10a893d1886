"""The event plan in the loop: re-plan the rest of the event, see shortfalls ahead.

Every few minutes (and at each new ISP) the planner forecasts each ISP left
within its horizon: the cap less the learnt margin, the other load's
forecast at the ISP's middle, and the heat pumps at what they draw now. From
that it plans which homes carry which ISPs (``domain/event_plan.py``). The
loop then still allocates every cycle from what it measures, but a home the
plan keeps for a later ISP costs more in the merit order, so it is used now
only where the planned homes fall short. Where the residents' allowances are
long enough for every ISP that needs a reduction, there is nothing to keep
and no plan is made.

Steering is off by default (``keep_premium_eur_per_kwh`` 0): measured on
the scenario suite it did not save gas and it left more minutes over the
cap than the merit order alone. What the plan always gives is the outlook:
the first ISP the homes' allowances cannot cover, and by how much.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Executor, Future
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
import logging
import math
import threading

import numpy as np
from numpy.typing import NDArray

from dacs.aggregator.domain.envelope import ISP
from dacs.aggregator.domain.event_plan import EventPlan, EventPlanInput, plan_event
from dacs.aggregator.domain.fairness import effective_price_eur_per_kwh
from dacs.aggregator.domain.flex_model import FlexModel
from dacs.protocol.rules import DEFAULT_MAX_CURTAILMENT_MINUTES

from .cap_tracking import isp_start
from .fleet import HANDOVER, HomeView

_LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class PlanSettings:
    """How far and how often the planner looks ahead."""

    horizon: timedelta = timedelta(hours=6)
    replan: timedelta = timedelta(minutes=5)
    # Added to a kept home's place in the merit order (1.0: more than any
    # difference between two homes' gas, so planned homes go first). Off by
    # default: on the scenario suite steering by the plan gave the same gas
    # and more minutes over the cap (docs/allocation.md), so the plan only
    # tells ahead of time which ISPs will be short.
    keep_premium_eur_per_kwh: float = 0.0

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


@dataclass(frozen=True, kw_only=True)
class _Problem:
    """A plan to make: the solver's input, and where its answer goes."""

    made_at: datetime
    home_ids: tuple[str, ...]
    starts: list[datetime]
    problem: EventPlanInput


type _Outcome = tuple[frozenset[str], PlanView | None]


class EventPlanner:
    """One congestion point's plan for the rest of its event.

    Without an ``executor`` a plan is made within the cycle (the scenario
    suite, tests: the same result on any machine). With one, the service's
    cycles never wait for the solver: the plan is made there and the cycles
    use the last one made until the next is ready.
    """

    def __init__(
        self, settings: PlanSettings | None = None, *, executor: Executor | None = None
    ) -> None:
        """Start without a plan."""
        self.settings = settings or PlanSettings()
        self._executor = executor
        self._pending: Future[_Outcome] | None = None
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
        self._collect()
        if self._pending is None and self._due(now, model.home_ids):
            self._made_at, self._made_for = now, model.home_ids
            problem = self._problem(now, homes, model, outlook)
            if problem is None:
                self._kept, self.view = frozenset(), None
            elif self._executor is None:
                self._kept, self.view = _solve(problem)
            else:
                self._pending = self._executor.submit(_solve, problem)
        if not self._kept or self.settings.keep_premium_eur_per_kwh == 0:
            return model
        # Only which homes to add is steered: a home limited now keeps its
        # place, so a new plan never swaps limited homes for others at once.
        kept = np.fromiter(
            (
                view.home_id in self._kept and view.curtailed_since is None
                for view in homes
            ),
            bool,
            model.size,
        )
        premium = self.settings.keep_premium_eur_per_kwh * kept
        return replace(model, keep_premium_eur_per_kwh=premium)

    def _collect(self) -> None:
        """Take a plan made on the executor, once it is ready."""
        pending = self._pending
        if pending is None or not pending.done():
            return
        self._pending = None
        try:
            self._kept, self.view = pending.result()
        except Exception:
            # A plan is an improvement, never a condition: the loop goes on
            # with the merit order alone and says why.
            _LOGGER.exception("the event plan failed; the loop goes on without it")
            self._kept, self.view = frozenset(), None

    def _due(self, now: datetime, home_ids: tuple[str, ...]) -> bool:
        made = self._made_at
        return (
            made is None
            or home_ids != self._made_for
            or isp_start(now) != isp_start(made)
            or now - made >= self.settings.replan
            or now < made
        )

    def _problem(
        self,
        now: datetime,
        homes: Sequence[HomeView],
        model: FlexModel,
        outlook: Outlook,
    ) -> _Problem | None:
        """What the plan needs, read now; None when no allowance can bind."""
        starts = _isp_starts(now, self.settings.horizon)
        heat_pumps_w = float(model.baseline_w.sum())
        need = np.array([_need_w(start, heat_pumps_w, outlook) for start in starts])
        # The current ISP always; later ones only where they need a reduction.
        keep = np.flatnonzero((need > 0) | (np.arange(len(starts)) == 0))
        starts, need = [starts[i] for i in keep], need[keep]
        allowance = np.array([_allowance_isps(view, now) for view in homes])
        reducible, switch_off = _reducible_w(homes, model, starts)
        usable = (reducible + switch_off).max(axis=1, initial=0.0) > 0
        if len(starts) <= 1 or not np.any(allowance[usable] < len(starts)):
            return None  # no allowance binds: nothing to keep
        price = effective_price_eur_per_kwh(
            model.ask_eur_per_kwh, model.recent_curtailment_kwh, model.available
        )
        return _Problem(
            made_at=now,
            home_ids=model.home_ids,
            starts=starts,
            problem=EventPlanInput(
                need_w=need,
                reducible_w=reducible,
                switch_off_w=switch_off,
                cost_eur_per_kwh=np.maximum(price + model.substitution, 0.0),
                allowance_isps=allowance,
                running=np.array([v.curtailed_since is not None for v in homes]),
            ),
        )


class _ThreadPerPlan(Executor):
    """Each plan on a short-lived daemon thread: nothing lingers between plans."""

    def submit[R](  # type: ignore[override]
        self, fn: Callable[[_Problem], R], /, problem: _Problem
    ) -> Future[R]:
        future: Future[R] = Future()

        def run() -> None:
            if not future.set_running_or_notify_cancel():
                return
            try:
                future.set_result(fn(problem))
            except Exception as err:  # noqa: BLE001 - handed to the loop, which logs it
                future.set_exception(err)

        threading.Thread(target=run, name="dacs-event-plan", daemon=True).start()
        return future


def background_planner(settings: PlanSettings | None = None) -> EventPlanner:
    """A planner for the service: plans are made off the event loop."""
    return EventPlanner(settings, executor=_ThreadPerPlan())


def _solve(problem: _Problem) -> _Outcome:
    """Make the plan; the homes it keeps for later and what it says."""
    plan = plan_event(problem.problem)
    kept = plan.kept_for_later()
    view = _view(problem.made_at, plan, problem.starts, int(kept.sum()))
    ids = frozenset(h for h, k in zip(problem.home_ids, kept, strict=True) if k)
    return ids, view


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
    return max(0.0, left / ISP)


def _reducible_w(
    homes: Sequence[HomeView], model: FlexModel, starts: Sequence[datetime]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Per home and ISP: down to the floor, and what gas-only adds below it.

    A home resting after a full curtailment is back in the ISPs that begin
    after its rest; one unavailable for another reason is out of the plan.
    """
    floor_part = np.maximum(model.baseline_w - model.floor_w, 0.0)
    below = np.where(model.gas_only, model.baseline_w - floor_part, 0.0)
    begins = np.array([start.timestamp() for start in starts])
    back = np.array(
        [
            -math.inf
            if model.available[i]
            else (view.resting_until.timestamp() if view.resting_until else math.inf)
            for i, view in enumerate(homes)
        ]
    )
    present = begins[None, :] >= back[:, None]
    return (
        np.where(present, floor_part[:, None], 0.0),
        np.where(present, below[:, None], 0.0),
    )


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
