"""The repair of what rounding a cover to the devices' accepted limits costs."""

from __future__ import annotations

from dataclasses import dataclass
import math

import numpy as np
from numpy.typing import NDArray

from .allocation import TOLERANCE_W
from .limit_grid import LimitGrid

_GIVE_BACK_TRIES = 256
"""How many of the dearest limited homes may give an overshoot back."""

_THOROUGH_REPAIR_HOMES = 5_000
"""Up to this many homes with flexibility, the rounding repair tries more moves.

Each move costs one O(N) search. A low-voltage congestion point has tens to
hundreds of homes, where the extra moves cut the mean gap to the optimum by
more than two thirds (docs/allocation.md); a batch of 100,000 keeps to its
time budget with the basic moves.
"""

_SWAP_TRIES = 8
"""In a thorough repair: how many of the dearest limited homes may be swapped out."""


@dataclass(frozen=True, kw_only=True, eq=False)
class RoundingRepair:
    """Repair what rounding to the devices' grids costs.

    Rounding the boundary home's limit down to its step overshoots by up to
    a step, and an indivisible gas-only jump by up to a floor; for small
    requests that overshoot dominates the cost. The repair tries moves: other
    accepted limits for the boundary home (one or, in a thorough repair, up to
    four steps up; lifted; one step down; its floor) and, in a thorough
    repair, lifting or raising by one step each of the dearest limited homes.
    A move that leaves a deficit is completed by the one home whose lower
    accepted limit covers it cheapest. Every variant (and the unchanged
    result) then lets limited homes give the overshoot back, largest saving
    first, and the cheapest variant wins. Variants are kept as the few limits
    they change, so a move costs one O(N) search at most.
    """

    grid: LimitGrid
    price: NDArray[np.float64]
    premium: float
    required: float
    order: NDArray[np.intp]  # the homes with flexibility, cheapest first

    def repair(self, limits: NDArray[np.float64], marginal: int) -> None:
        """Replace ``limits`` (in place) by the cheapest variant tried."""
        grid = self.grid
        limited = np.isfinite(limits)
        total = float((grid.baseline[limited] - limits[limited]).sum())
        dearest = self.order[::-1]
        pool = dearest[limited[dearest]][:_GIVE_BACK_TRIES]
        # Each move costs one O(N) search for a cover; small batches (every
        # real low-voltage congestion point) can afford many more of them.
        thorough = self.order.size <= _THOROUGH_REPAIR_HOMES
        moves: list[tuple[int, float]] = []
        if marginal >= 0:
            moves += self._alternatives(
                limits, marginal, steps_up=4 if thorough else 1, down=True
            )
        if thorough:
            for home in pool[:_SWAP_TRIES].tolist():
                if home != marginal:
                    moves += self._alternatives(limits, home, steps_up=1, down=False)
        variants: list[dict[int, float]] = [{}]
        current = np.where(limited, limits, grid.baseline) if moves else limits
        for home, alternative in moves:
            variant = {home: alternative}
            deficit = self.required - total - self._delta(limits, variant)[0]
            if deficit > TOLERANCE_W:
                cover = self._cover(current, deficit, home)
                if cover is None:
                    continue
                variant[cover[0]] = cover[1]
            variants.append(variant)
        best: tuple[float, dict[int, float]] | None = None
        for variant in variants:
            self._give_back(limits, variant, pool, total)
            cost = self._delta(limits, variant)[1]
            if best is None or cost < best[0]:
                best = (cost, variant)
        if best is not None:
            for home, new_limit in best[1].items():
                limits[home] = new_limit

    def _alternatives(
        self, limits: NDArray[np.float64], home: int, *, steps_up: int, down: bool
    ) -> list[tuple[int, float]]:
        """Other accepted limits for one home: a few steps up, lifted, and down."""
        grid = self.grid
        limit = float(limits[home])
        options = {math.inf}
        above = limit
        for _ in range(steps_up):
            above = grid.next_above(above, home)
            if math.isinf(above):
                break
            options.add(above)
        if down:
            options.add(float(grid.floor[home]))
            options.add(
                float(
                    grid.highest_at_most(
                        np.array([limit - TOLERANCE_W]), np.array([home])
                    )[0]
                )
            )
        return [(home, option) for option in sorted(options - {limit, -math.inf})]

    def _delta(
        self, limits: NDArray[np.float64], variant: dict[int, float]
    ) -> tuple[float, float]:
        """How a variant changes the total reduction (W) and the cost."""
        reduction = cost = 0.0
        for home, new in variant.items():
            for limit, sign in ((new, 1.0), (float(limits[home]), -1.0)):
                if math.isfinite(limit):
                    cut = float(self.grid.baseline[home]) - limit
                    reduction += sign * cut
                    cost += sign * float(self.price[home]) * cut
                    if limit == 0:
                        cost += sign * self.premium * float(self.grid.jump[home])
        return reduction, cost

    def _cover(
        self, current: NDArray[np.float64], deficit: float, exclude: int
    ) -> tuple[int, float] | None:
        """The one home whose lower accepted limit covers ``deficit`` cheapest."""
        grid = self.grid
        # Over all homes in their own order: contiguous arrays beat gathers.
        lowered = grid.highest_at_most(current - deficit, slice(None))
        reachable = np.isfinite(lowered)
        # Unreachable homes cost +inf, also those asking nothing (0 * inf).
        extra = current - np.where(reachable, lowered, current)
        cost = np.where(reachable, self.price * extra, np.inf)
        if self.premium:
            cost += self.premium * grid.jump * ((lowered == 0) & (current > 0))
        cost[~grid.available] = np.inf
        cost[exclude] = np.inf
        best = int(np.argmin(cost))
        if not math.isfinite(cost[best]):
            return None
        return best, float(lowered[best])

    def _give_back(
        self,
        limits: NDArray[np.float64],
        variant: dict[int, float],
        pool: NDArray[np.intp],
        total: float,
    ) -> None:
        """Raise limits in ``pool``, largest saving first, while the cap holds.

        Records the raised limits in ``variant``. The pool is the dearest
        limited homes (plus those the variant changed): the overshoot is at
        most about a step or a floor, so a few homes absorb it.
        """
        grid = self.grid
        overshoot = total + self._delta(limits, variant)[0] - self.required
        if overshoot <= TOLERANCE_W:
            return
        homes = np.union1d(pool, np.fromiter(variant, dtype=np.intp))
        current = limits[homes].copy()
        for position, home in enumerate(homes.tolist()):
            current[position] = variant.get(home, current[position])
        for _ in range(homes.size):
            open_ = np.isfinite(current)
            candidates = homes[open_]
            now = current[open_]
            baseline = grid.baseline[candidates]
            released = baseline - now <= overshoot
            raised = np.where(
                released,
                np.inf,
                grid.highest_at_most(
                    np.minimum(now + overshoot, baseline - TOLERANCE_W), candidates
                ),
            )
            given = np.where(released, baseline - now, raised - now)
            given = np.where((given > 0) & (given <= overshoot), given, 0.0)
            saving = self.price[candidates] * given + self.premium * grid.jump[
                candidates
            ] * ((now == 0) & (given > 0))
            if not saving.size or saving.max() <= 0:
                return
            best = int(np.argmax(saving))
            home = int(candidates[best])
            variant[home] = float(raised[best])
            current[np.flatnonzero(homes == home)] = raised[best]
            overshoot -= float(given[best])
