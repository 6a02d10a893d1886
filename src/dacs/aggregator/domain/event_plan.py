"""Plan the rest of an event per ISP: which homes carry which quarter hours.

The 30-second loop covers the reduction needed *now* with the cheapest homes.
Each resident allows only so many minutes of curtailment in a row, so a loop
that only looks at now spends its cheap homes early and runs short, or pays
dearly, at the evening's peak. The plan looks at every ISP left in the event
at once: per ISP the reduction the forecast needs, per home what it can
reduce and how many ISPs its resident still allows, and it spreads the
homes' allowances over the ISPs at the least cost.

It is a linear programme (HiGHS through SciPy): deterministic, and fast
enough to re-make every few minutes (a fifth of a second for 50 homes over
18 ISPs, about a second for 200, on two busy cores). Per home and ISP it
chooses a limit down to the safety floor and, where the device allows it,
the switch to gas-only for the rest; the share of the ISP the home is
limited for is what the resident's allowance counts, in whole ISPs (a
limit set in an ISP holds to its end). A run of limits going on now, or one
the plan starts now, goes on until it is released. Where the homes cannot
cover an ISP, the plan says by how much (``shortfall_w``), before the ISP
begins.
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
# Shares of an ISP below this are the solver's rounding, not a plan.
_SHARE_TOLERANCE = 1e-6


class EventPlanError(ValueError):
    """The inputs cannot make a plan (shapes or values out of range)."""


@dataclass(frozen=True, kw_only=True)
class EventPlanInput:
    """What the plan knows: per ISP the need, per home its reach, cost and allowance."""

    need_w: NDArray[np.float64]  # (isps,) reduction the forecast needs per ISP
    reducible_w: NDArray[np.float64]  # (homes, isps) down to the safety floor
    switch_off_w: NDArray[np.float64] | None = None  # (homes, isps) gas-only adds
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
        if self.switch_off_w is None:
            object.__setattr__(self, "switch_off_w", np.zeros_like(reach))
        if np.shape(np.asarray(self.switch_off_w)) != reach.shape:
            raise EventPlanError("switch_off_w must match reducible_w")
        for name in ("cost_eur_per_kwh", "allowance_isps", "running"):
            if np.shape(getattr(self, name)) != (homes,):
                raise EventPlanError(f"{name} must hold one value per home")
        for name in (
            "need_w",
            "reducible_w",
            "switch_off_w",
            "cost_eur_per_kwh",
            "allowance_isps",
        ):
            values = getattr(self, name)
            if not np.all(np.isfinite(values)) or np.any(values < 0):
                raise EventPlanError(f"{name} must be finite and >= 0")


@dataclass(frozen=True, kw_only=True)
class EventPlan:
    """Per home and ISP the planned reduction; per ISP what no home can cover."""

    reduction_w: NDArray[np.float64]  # (homes, isps)
    limited_share: NDArray[np.float64]  # (homes, isps) of the ISP, in [0, 1]
    shortfall_w: NDArray[np.float64]  # (isps,)
    allowance_isps: NDArray[np.float64]  # (homes,) whole ISPs the plan counted

    @property
    def planned_now(self) -> NDArray[np.bool_]:
        """The homes the plan curtails in the current (first) ISP."""
        result: NDArray[np.bool_] = self.reduction_w[:, 0] > TOLERANCE_W
        return result

    def kept_for_later(self) -> NDArray[np.bool_]:
        """Homes whose allowance the plan spends on the ISPs after this one.

        Curtailing such a home now takes an ISP from the peak the plan kept
        it for; the loop uses it only when the planned homes fall short.
        """
        spent = self.limited_share[:, 1:].sum(axis=1)
        # More than its allowance less one ISP later: limiting it for the
        # rest of this ISP would take one the plan needs (a share of this ISP
        # is the relaxation's, a real limit holds to the ISP's end).
        result: NDArray[np.bool_] = spent > self.allowance_isps - 1 + _SHARE_TOLERANCE
        return result

    @property
    def short(self) -> bool:
        """True when some ISP of the plan cannot be covered."""
        return bool((self.shortfall_w > TOLERANCE_W).any())


def plan_event(problem: EventPlanInput) -> EventPlan:
    """Spread the homes' allowances over the ISPs at the least cost."""
    need, reach = problem.need_w, problem.reducible_w
    switch = np.asarray(problem.switch_off_w)
    n_homes, n_isps = reach.shape
    if n_isps == 0:
        raise EventPlanError("a plan needs at least one ISP")
    size = n_homes * n_isps
    # Variables, row-major per (home, ISP): r = reduction down to the floor,
    # g = what gas-only adds, u = the share of the ISP the home is limited;
    # then one shortfall per ISP.
    r_at, g_at, u_at, s_at = 0, size, 2 * size, 3 * size
    cost = np.zeros(3 * size + n_isps)
    # Of two equal choices, limit later: the allowance kept is worth more
    # than the same kWh now, as the peak is still ahead.
    earlier = np.tile(np.arange(n_isps, 0, -1, dtype=np.float64), n_homes)
    price = np.repeat(problem.cost_eur_per_kwh, n_isps) + _LATER_TIE_BREAK * earlier
    cost[r_at:g_at] = price
    cost[g_at:u_at] = price
    cost[s_at:] = _SHORTFALL_PENALTY
    usable = (reach + switch).ravel() > 0
    upper = np.concatenate(
        [
            reach.ravel(),
            switch.ravel(),
            usable.astype(np.float64),
            np.full(n_isps, np.inf),
        ]
    )
    homes_at = np.repeat(np.arange(n_homes), n_isps)
    isps_at = np.tile(np.arange(n_isps), n_homes)
    cells = np.arange(size)
    ones = np.ones(size)
    # Each ISP: sum_h (r + g)[h, k] + shortfall[k] >= need[k].
    cover = coo_array(
        (
            np.ones(2 * size + n_isps),
            (
                np.concatenate([isps_at, isps_at, np.arange(n_isps)]),
                np.concatenate([r_at + cells, g_at + cells, s_at + np.arange(n_isps)]),
            ),
        ),
        shape=(n_isps, cost.size),
    )
    # Each (home, ISP): r <= reach * u and g <= switch * u.
    linked = coo_array(
        (
            np.concatenate([ones, -reach.ravel(), ones, -switch.ravel()]),
            (
                np.concatenate([cells, cells, size + cells, size + cells]),
                np.concatenate(
                    [r_at + cells, u_at + cells, g_at + cells, u_at + cells]
                ),
            ),
        ),
        shape=(2 * size, cost.size),
    )
    # Each home: sum_k u[h, k] <= allowance[h].
    allowance = coo_array((ones, (homes_at, u_at + cells)), shape=(n_homes, cost.size))
    # A home stays limited from one ISP to the next until it is released: a
    # run going on now, or one the plan starts now, cannot stop and start
    # again (u[h, k] - u[h, k-1] <= 0 for those; rows without new
    # variables, so the plan stays fast for hundreds of homes).
    running = np.asarray(problem.running, dtype=np.float64)
    whole_isps = np.floor(problem.allowance_isps + _SHARE_TOLERANCE)
    later = np.flatnonzero(isps_at > 0)
    fresh = later[running[homes_at[later]] == 0]
    rows = np.arange(later.size)
    fresh_rows = rows[running[homes_at[later]] == 0]
    runs = coo_array(
        (
            np.concatenate(
                [np.ones(later.size), -np.ones(later.size), np.ones(fresh.size)]
            ),
            (
                np.concatenate([rows, rows, fresh_rows]),
                np.concatenate(
                    [u_at + later, u_at + later - 1, u_at + homes_at[fresh] * n_isps]
                ),
            ),
        ),
        shape=(later.size, cost.size),
    )
    runs_bound = 1.0 - running[homes_at[later]]
    result = milp(
        cost,
        constraints=[
            LinearConstraint(cover.tocsr(), need, np.inf),
            LinearConstraint(linked.tocsr(), -np.inf, 0.0),
            # Whole ISPs: a home limited in an ISP stays limited to its end.
            LinearConstraint(allowance.tocsr(), -np.inf, whole_isps),
            LinearConstraint(runs.tocsr(), -np.inf, runs_bound),
        ],
        bounds=Bounds(np.zeros(cost.size), upper),
    )
    if result.x is None:  # pragma: no cover - the shortfall keeps it feasible
        raise EventPlanError(f"no plan found: {result.message}")
    x = np.maximum(result.x, 0.0)
    return EventPlan(
        reduction_w=(x[r_at:g_at] + x[g_at:u_at]).reshape(n_homes, n_isps),
        limited_share=np.minimum(x[u_at:s_at], 1.0).reshape(n_homes, n_isps),
        shortfall_w=x[s_at:],
        allowance_isps=whole_isps,
    )
