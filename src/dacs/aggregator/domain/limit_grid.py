"""The limits each home's device accepts: its floor, its steps, gas-only."""

from __future__ import annotations

from dataclasses import dataclass
import math

import numpy as np
from numpy.typing import NDArray

from .allocation import TOLERANCE_W


@dataclass(frozen=True, eq=False)
class LimitGrid:
    """The limits each home's device accepts.

    For an available home: no limit; its floor; a multiple of its step
    between the floor and its baseline; and 0 if it can go gas-only.
    """

    baseline: NDArray[np.float64]
    floor: NDArray[np.float64]
    step: NDArray[np.float64]
    available: NDArray[np.bool_]
    gas_capable: NDArray[np.bool_]
    jump: NDArray[np.float64]  # what gas-only removes below the floor

    def limits_for(
        self,
        target: NDArray[np.float64],
        gas: NDArray[np.bool_],
        continuous: NDArray[np.float64],
    ) -> NDArray[np.float64]:
        """Turn target reductions into accepted limits, never reducing less.

        A partial limit is rounded *down* to the step, which only deepens the
        reduction, and never below the floor; a floor off the step grid is
        used as it is, as the device layer does (``dacs.devices.limits``).
        """
        limits = np.full(target.size, np.inf)
        limits[gas] = 0.0
        active = ~gas & (target > TOLERANCE_W)
        full = active & (target >= continuous - TOLERANCE_W)
        limits[full] = self.floor[full]
        partial = np.flatnonzero(active & ~full)
        limits[partial] = self.highest_at_most(
            self.baseline[partial] - target[partial], partial
        )
        return limits

    def highest_at_most(
        self, power_w: NDArray[np.float64], homes: NDArray[np.intp] | slice
    ) -> NDArray[np.float64]:
        """The highest accepted limit at or below ``power_w`` (< baseline), or -inf."""
        floor = self.floor[homes]
        step = self.step[homes]
        # The epsilon keeps a limit computed as 1199.9999999 on the 1200 step;
        # the guard keeps it below the baseline all the same (no limit there).
        on_grid = np.floor(power_w / step + 1e-9) * step
        on_grid = np.maximum(
            np.where(on_grid >= self.baseline[homes], on_grid - step, on_grid), floor
        )
        result: NDArray[np.float64] = np.where(
            power_w >= floor,
            on_grid,
            np.where(self.gas_capable[homes] & (power_w >= 0), 0.0, -np.inf),
        )
        return result

    def next_above(self, limit: float, home: int) -> float:
        """The lowest accepted limit above a finite ``limit`` (+inf: none)."""
        floor = float(self.floor[home])
        if limit < floor:
            candidate = floor
        else:
            step = float(self.step[home])
            candidate = (math.floor(limit / step + 1e-9) + 1) * step
        return candidate if candidate < self.baseline[home] else math.inf
