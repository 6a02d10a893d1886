"""An allocation: the per-home limits chosen for one interval, and how well they meet the cap.

Conventions: powers in W, prices in EUR/kWh, one interval of ``interval_s``;
a limit of ``+inf`` means *no limit* (it keeps ``np.minimum(baseline,
limits)`` the expected power), the per-home view uses ``None``, as the home
protocol does; a limit of exactly ``0`` is gas-only: the compressor is off and
the boiler heats.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
import math

import numpy as np
from numpy.typing import NDArray

TOLERANCE_W = 1e-3
"""Reductions below 1 mW are dropped and the cap is met to within 1 mW.

Far below any meter's resolution; without it, floating-point dust in the
running sums would curtail a home by a whole limit step for nothing.
"""


@dataclass(frozen=True, kw_only=True)
class HomeLimit:
    """One home's result: the limit to send and what it is expected to do."""

    home_id: str
    limit_w: float | None  # None: no limit; 0.0: gas-only
    reduction_w: float
    gas_only: bool


@dataclass(frozen=True, kw_only=True, eq=False)
class Allocation:
    """Per-home limits for one interval, and how well they meet the cap."""

    home_ids: tuple[str, ...]
    limits_w: NDArray[np.float64]  # +inf: no limit; 0: gas-only
    reduction_w: NDArray[np.float64]  # baseline - limit where limited, else 0
    gas_only: NDArray[np.bool_]
    effective_price_eur_per_kwh: NDArray[np.float64]  # ask + fairness term
    required_reduction_w: float  # other load + sum of baselines - cap, if > 0
    total_reduction_w: float
    shortfall_w: float  # required - total when flexibility runs out, else 0
    forecast_load_w: float  # the congestion point's load if the forecast holds
    cost_eur: float  # compensation owed to residents for the interval (asks)
    objective_eur: float  # what was minimised: effective prices + gas-only premium
    interval_s: float

    def __post_init__(self) -> None:
        """Make the arrays read-only: an allocation is a record of a decision."""
        for array in (
            self.limits_w,
            self.reduction_w,
            self.gas_only,
            self.effective_price_eur_per_kwh,
        ):
            array.flags.writeable = False

    @property
    def curtailed(self) -> NDArray[np.bool_]:
        """Which homes get a limit."""
        return np.isfinite(self.limits_w)

    @property
    def curtailed_count(self) -> int:
        """How many homes get a limit."""
        return int(np.count_nonzero(self.curtailed))

    @property
    def curtailed_kwh(self) -> NDArray[np.float64]:
        """Expected curtailed energy per home over the interval (feeds the history)."""
        result: NDArray[np.float64] = self.reduction_w * (self.interval_s / 3.6e6)
        return result

    def homes(self, *, curtailed_only: bool = False) -> Iterator[HomeLimit]:
        """Yield each home's result, in the flex-model's order."""
        indices = (
            np.flatnonzero(self.curtailed)
            if curtailed_only
            else np.arange(len(self.home_ids))
        )
        for i in indices.tolist():
            limit = float(self.limits_w[i])
            yield HomeLimit(
                home_id=self.home_ids[i],
                limit_w=limit if math.isfinite(limit) else None,
                reduction_w=float(self.reduction_w[i]),
                gas_only=bool(self.gas_only[i]),
            )
