"""Plan the rest of an event per ISP: which homes carry which quarter hours.

The 30-second loop covers the reduction needed *now* with the cheapest homes.
Each resident allows only so many minutes of curtailment in a row, so a loop
that only looks at now spends its cheap homes early and runs short, or pays
dearly, at the evening's peak. The plan looks at every ISP left in the event
at once: per ISP the reduction the forecast needs, per home what it can
reduce and how many ISPs its resident still allows, and it spreads the
homes' allowances over the ISPs at the least cost.

It is a small mixed-integer programme (HiGHS through SciPy): per home and
ISP whether the home is limited at all (any limit, however shallow, takes
the ISP from the resident's allowance) and by how much; solved within two
seconds to within 2 % of the best, which is plenty for a plan the loop
re-makes every few minutes and rounds to real limits every cycle. Where the
homes cannot cover an ISP, the plan says by how much (``shortfall_w``),
before the ISP begins.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import coo_array

from .allocation import TOLERANCE_W

# A watt short of the cap costs far more than any curtailment: the cap first.
_SHORTFALL_PENALTY = 1e4
# EUR/kWh per ISP earlier: small against any price, it only breaks ties.
_LATER_TIE_BREAK = 1e-5
# A plan is re-made every few minutes: a good one now beats the best one late.
_TIME_LIMIT_S = 2.0
_GAP = 0.02


class EventPlanError(ValueError):
    """The inputs cannot make a plan (shapes or values out of range)."""


@dataclass(frozen=True, kw_only=True)
class EventPlanInput:
    """What the plan knows: per ISP the need, per home its reach, cost and allowance."""

    need_w: NDArray[np.float64]  # (isps,) reduction the forecast needs per ISP
    reducible_w: NDArray[np.float64]  # (homes, isps) the most each home can reduce
    cost_eur_per_kwh: NDArray[np.float64]  # (homes,) what a curtailed kWh costs
    allowance_isps: NDArray[np.float64]  # (homes,) curtailed ISPs still allowed
    running: NDArray[np.bool_] | None = None  # (homes,) curtailed now: the run goes on

    def __post_init__(self) -> None:
        """Shapes agree and every value is finite and >= 0."""
        need, reach = self.need_w, self.reducible_w
        if need.ndim != 1 or reach.ndim != 2 or reach.shape[1] != need.shape[0]:
            raise EventPlanError(
                f"need_w {need.shape} and reducible_w {reach.shape} do not match"
            )
        homes = reach.shape[0]
        if self.running is None:
            object.__setattr__(self, "running", np.zeros(homes, dtype=np.bool_))
        for name in ("cost_eur_per_kwh", "allowance_isps", "running"):
            if np.shape(getattr(self, name)) != (homes,):
                raise EventPlanError(f"{name} must hold one value per home")
        for name in ("need_w", "reducible_w", "cost_eur_per_kwh", "allowance_isps"):
            values = getattr(self, name)
            if not np.all(np.isfinite(values)) or np.any(values < 0):
                raise EventPlanError(f"{name} must be finite and >= 0")


@dataclass(frozen=True, kw_only=True)
class EventPlan:
    """Per home and ISP the planned reduction; per ISP what no home can cover."""

    reduction_w: NDArray[np.float64]  # (homes, isps)
    curtailed: NDArray[np.bool_]  # (homes, isps) limited at all
    shortfall_w: NDArray[np.float64]  # (isps,)
    allowance_isps: NDArray[np.float64]  # (homes,) as given to the plan

    @property
    def planned_now(self) -> NDArray[np.bool_]:
        """The homes the plan curtails in the current (first) ISP."""
        result: NDArray[np.bool_] = self.curtailed[:, 0] & (
            self.reduction_w[:, 0] > TOLERANCE_W
        )
        return result

    def kept_for_later(self) -> NDArray[np.bool_]:
        """Homes not curtailed now whose allowance the plan spends on later ISPs.

        Curtailing such a home now takes an ISP from the peak the plan kept
        it for; the loop uses it only when the planned homes fall short.
        """
        spent = self.curtailed[:, 1:].sum(axis=1)
        result: NDArray[np.bool_] = ~self.planned_now & (
            spent > np.floor(self.allowance_isps + 1e-9) - 1
        )
        return result

    @property
    def short(self) -> bool:
        """True when some ISP of the plan cannot be covered."""
        return bool((self.shortfall_w > TOLERANCE_W).any())


def plan_event(problem: EventPlanInput) -> EventPlan:
    """Spread the homes' allowances over the ISPs at the least cost."""
    need, reach = problem.need_w, problem.reducible_w
    n_homes, n_isps = reach.shape
    if n_isps == 0:
        raise EventPlanError("a plan needs at least one ISP")
    size = n_homes * n_isps
    # Variables, row-major per (home, ISP): r = reduction, u = curtailed at
    # all (a limit of any depth takes the ISP from the allowance), v = a run
    # of curtailment starts; then one shortfall per ISP.
    r_at, u_at, v_at, s_at = 0, size, 2 * size, 3 * size
    cost = np.zeros(3 * size + n_isps)
    # Of two equal choices, curtail later: the allowance kept is worth more
    # than the same kWh now, as the peak is still ahead.
    earlier = np.tile(np.arange(n_isps, 0, -1, dtype=np.float64), n_homes)
    cost[r_at:u_at] = (
        np.repeat(problem.cost_eur_per_kwh, n_isps) + _LATER_TIE_BREAK * earlier
    )
    cost[s_at:] = _SHORTFALL_PENALTY
    upper = np.concatenate(
        [
            reach.ravel(),
            (reach.ravel() > 0).astype(np.float64),
            np.ones(size),
            np.full(n_isps, np.inf),
        ]
    )
    homes_at = np.repeat(np.arange(n_homes), n_isps)
    isps_at = np.tile(np.arange(n_isps), n_homes)
    cells = np.arange(size)
    # Each ISP: sum_h r[h, k] + shortfall[k] >= need[k].
    cover = coo_array(
        (
            np.ones(size + n_isps),
            (
                np.concatenate([isps_at, np.arange(n_isps)]),
                np.concatenate([r_at + cells, s_at + np.arange(n_isps)]),
            ),
        ),
        shape=(n_isps, cost.size),
    )
    # Each (home, ISP): r <= reach * u.
    linked = coo_array(
        (
            np.concatenate([np.ones(size), -reach.ravel()]),
            (
                np.concatenate([cells, cells]),
                np.concatenate([r_at + cells, u_at + cells]),
            ),
        ),
        shape=(size, cost.size),
    )
    # Each home: sum_k u[h, k] <= allowance[h].
    allowance = coo_array(
        (np.ones(size), (homes_at, u_at + cells)), shape=(n_homes, cost.size)
    )
    # A home stays limited from one ISP to the next until it is released,
    # and the allowance is for one run: u[h, k] - u[h, k-1] <= v[h, k],
    # at most one start, none for a home whose run is going on already.
    running = np.asarray(problem.running, dtype=np.float64)
    first = isps_at == 0
    previous = np.flatnonzero(~first)
    runs = coo_array(
        (
            np.concatenate([np.ones(size), -np.ones(previous.size), -np.ones(size)]),
            (
                np.concatenate([cells, previous, cells]),
                np.concatenate([u_at + cells, u_at + previous - 1, v_at + cells]),
            ),
        ),
        shape=(size, cost.size),
    )
    runs_bound = np.where(first, np.repeat(running, n_isps), 0.0)
    starts = coo_array(
        (np.ones(size), (homes_at, v_at + cells)), shape=(n_homes, cost.size)
    )
    integrality = np.zeros(cost.size)
    integrality[u_at:v_at] = 1
    result = milp(
        cost,
        constraints=[
            LinearConstraint(cover.tocsr(), need, np.inf),
            LinearConstraint(linked.tocsr(), -np.inf, 0.0),
            LinearConstraint(
                allowance.tocsr(), -np.inf, np.floor(problem.allowance_isps + 1e-9)
            ),
            LinearConstraint(runs.tocsr(), -np.inf, runs_bound),
            LinearConstraint(starts.tocsr(), -np.inf, 1.0 - running),
        ],
        integrality=integrality,
        bounds=Bounds(np.zeros(cost.size), upper),
        options={"time_limit": _TIME_LIMIT_S, "mip_rel_gap": _GAP},
    )
    if result.x is None:  # pragma: no cover - the shortfall keeps it feasible
        raise EventPlanError(f"no plan found: {result.message}")
    x = np.maximum(result.x, 0.0)
    return EventPlan(
        reduction_w=x[r_at:u_at].reshape(n_homes, n_isps),
        curtailed=x[u_at:v_at].reshape(n_homes, n_isps) > 0.5,
        shortfall_w=x[s_at:],
        allowance_isps=problem.allowance_isps.copy(),
    )
