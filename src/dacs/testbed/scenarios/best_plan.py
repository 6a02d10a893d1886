"""The best plan with perfect foresight: a MILP over the whole event.

It knows every home's uncontrolled heat pump power and COP per ISP and the
other load in advance, and chooses per home and ISP a reduction that keeps
each ISP's mean under its cap at the least extra gas. A home's reduction is
either a limit at or above its safety floor (0 to power - floor) or gas-only
(all of its power, where the device supports it); no home is curtailed for
more ISPs than its resident's maximum allows, and homes that opt out or go
offline are not curtailed after that. Heat that the heat pump does not make,
the boiler makes: extra gas = reduction x COP / boiler efficiency.

It is a lower bound, not a plan a real controller could follow: no forecast
error, no rebound after a release, no comfort floor. Where even this plan
cannot keep an ISP under its cap (slack > 0), the flexibility was short, and
the slack is the least excess any control could reach.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import coo_array

from dacs.aggregator.domain.allocation import TOLERANCE_W
from dacs.aggregator.domain.envelope import ISP, CapacityInterval
from dacs.testbed.sim.boiler import GAS_HHV_J_PER_M3

# A watt of ISP shortfall costs far more than any gas: the cap comes first.
_SLACK_PENALTY_M3_PER_W = 1e3
_TIME_LIMIT_S = 60.0


@dataclass(frozen=True, kw_only=True)
class HomeOptions:
    """What the plan may do with one home."""

    floor_w: float
    gas_only: bool
    max_isps: int  # the resident's maximum curtailment, in ISPs
    available_until: datetime | None  # opted out or offline from then on
    boiler_efficiency: float


@dataclass(frozen=True, kw_only=True)
class BestPlan:
    """The plan's extra gas and what it could not cover."""

    extra_gas_m3: float
    shortfall_w: NDArray[np.float64]  # per ISP: the least excess over the cap
    optimal: bool  # False: the solver's time limit ended the search

    @property
    def flexibility_short(self) -> bool:
        """True when even perfect foresight leaves an ISP over its cap."""
        return bool((self.shortfall_w > TOLERANCE_W).any())


def best_plan(
    caps: tuple[CapacityInterval, ...],
    *,
    times: tuple[datetime, ...],
    home_power_w: NDArray[np.float64],
    home_heat_w: NDArray[np.float64],
    other_w: NDArray[np.float64],
    homes: list[HomeOptions],
) -> BestPlan:
    """Solve the event's plan from the uncontrolled run's per-minute figures."""
    n_homes, n_isps = len(homes), len(caps)
    power = np.zeros((n_homes, n_isps))
    heat = np.zeros((n_homes, n_isps))
    other = np.zeros(n_isps)
    stamps = np.array([t.timestamp() for t in times])
    for i, interval in enumerate(caps):
        mask = (stamps >= interval.start.timestamp()) & (
            stamps < interval.end.timestamp()
        )
        power[:, i] = home_power_w[:, mask].mean(axis=1)
        heat[:, i] = home_heat_w[:, mask].mean(axis=1)
        other[i] = other_w[mask].mean()
    cop = np.divide(heat, power, out=np.zeros_like(heat), where=power > 1.0)
    hours = ISP.total_seconds() / 3600
    gas_per_w = np.array(
        [
            [
                cop[h, i] * hours * 3600 / homes[h].boiler_efficiency / GAS_HHV_J_PER_M3
                for i in range(n_isps)
            ]
            for h in range(n_homes)
        ]
    )
    # Variables per (home, ISP): a = reduction under a limit, z = gas-only,
    # u = curtailed at all; then one slack per ISP.
    size = n_homes * n_isps
    a_at, z_at, u_at, s_at = 0, size, 2 * size, 3 * size
    n_vars = 3 * size + n_isps
    cost = np.zeros(n_vars)
    cost[a_at : a_at + size] = gas_per_w.ravel()
    cost[z_at : z_at + size] = (gas_per_w * power).ravel()
    cost[s_at:] = _SLACK_PENALTY_M3_PER_W
    lower = np.zeros(n_vars)
    upper = np.ones(n_vars)
    headroom = np.maximum(power - np.array([[h.floor_w] for h in homes]), 0.0)
    upper[a_at : a_at + size] = headroom.ravel()
    upper[s_at:] = np.inf
    for h, options in enumerate(homes):
        for i, interval in enumerate(caps):
            gone = (
                options.available_until is not None
                and interval.start >= options.available_until
            )
            if gone:
                upper[[a_at + h * n_isps + i, z_at + h * n_isps + i]] = 0.0
                upper[u_at + h * n_isps + i] = 0.0
            if not options.gas_only:
                upper[z_at + h * n_isps + i] = 0.0
    rows: list[int] = []
    cols: list[int] = []
    vals: list[float] = []
    lo: list[float] = []
    hi: list[float] = []

    def row(entries: list[tuple[int, float]], low: float, high: float) -> None:
        index = len(lo)
        for col, val in entries:
            rows.append(index)
            cols.append(col)
            vals.append(val)
        lo.append(low)
        hi.append(high)

    for i, interval in enumerate(caps):
        # sum(power - a - power * z) + other - slack <= cap
        entries = [(a_at + h * n_isps + i, -1.0) for h in range(n_homes)]
        entries += [(z_at + h * n_isps + i, -power[h, i]) for h in range(n_homes)]
        entries.append((s_at + i, -1.0))
        row(entries, -np.inf, interval.cap_w - other[i] - power[:, i].sum())
    for h, options in enumerate(homes):
        for i in range(n_isps):
            at = h * n_isps + i
            # a limit and gas-only exclude each other: a <= headroom * (u - z)
            row(
                [
                    (a_at + at, 1.0),
                    (u_at + at, -headroom[h, i]),
                    (z_at + at, headroom[h, i]),
                ],
                -np.inf,
                0.0,
            )
            row([(z_at + at, 1.0), (u_at + at, -1.0)], -np.inf, 0.0)
        row(
            [(u_at + h * n_isps + i, 1.0) for i in range(n_isps)],
            0.0,
            float(options.max_isps),
        )
    matrix = coo_array((vals, (rows, cols)), shape=(len(lo), n_vars)).tocsr()
    integrality = np.zeros(n_vars)
    integrality[z_at:s_at] = 1
    result = milp(
        cost,
        constraints=LinearConstraint(matrix, np.array(lo), np.array(hi)),
        integrality=integrality,
        bounds=Bounds(lower, upper),
        options={"time_limit": _TIME_LIMIT_S, "mip_rel_gap": 0.01},
    )
    if result.x is None:
        raise RuntimeError(f"the best plan found no solution: {result.message}")
    x = result.x
    slack = x[s_at:]
    gas = float(x[:s_at] @ cost[:s_at])
    return BestPlan(extra_gas_m3=gas, shortfall_w=slack, optimal=result.status == 0)
