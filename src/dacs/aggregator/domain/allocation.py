"""Allocate per-home heat pump limits that keep a congestion point under its cap.

Vocabulary after FlexMeasures: the *flex-model* says what the homes can do
(baselines, safety floors, gas-only, availability, asks), the *flex-context*
says what the grid asks (a cap on the congestion point's load). The method,
its guarantees and its measured optimality gap are in ``docs/allocation.md``.

Conventions in this module:

- powers in W, prices in EUR/kWh, one interval of ``FlexContext.interval_s``;
- a limit of ``+inf`` means *no limit* (it keeps ``np.minimum(baseline,
  limits)`` the expected power); the per-home view uses ``None``, as the home
  protocol does;
- a limit of exactly ``0`` is gas-only: the compressor is off and the boiler
  heats.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
import math
from typing import Self

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .fairness import DEFAULT_FAIRNESS_WEIGHT, effective_price_eur_per_kwh

TOLERANCE_W = 1e-3
"""Reductions below 1 mW are dropped and the cap is met to within 1 mW.

Far below any meter's resolution; without it, floating-point dust in the
running sums would curtail a home by a whole limit step for nothing.
"""

DEFAULT_GAS_ONLY_PREMIUM = 0.0
"""EUR/kWh added to the power a gas-only switch removes below the floor.

Zero: the resident's ask already prices the curtailed energy, whatever the
mode. Raise it to prefer modulating heat pumps over switching compressors off
when the prices are close.
"""

_JUMP_CANDIDATES = 16
"""How many indivisible gas-only jumps at the cover's boundary are tried.

Each try costs a binary search and a short walk back from the boundary;
later candidates are ever dearer segments that rarely win.
"""

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


class Availability(StrEnum):
    """Whether a home may be curtailed now, and if not, why."""

    AVAILABLE = "available"
    NOT_PARTICIPATING = "not_participating"
    PAUSED = "paused"
    OFFLINE = "offline"
    MAX_DURATION_REACHED = "max_duration_reached"


@dataclass(frozen=True, kw_only=True)
class HomeFlexModel:
    """What one home's hybrid heat pump can do in the coming interval."""

    home_id: str
    baseline_w: float  # forecast (or measured) heat pump power without a limit
    floor_w: float  # minimum stable power: no limit below it, except gas-only 0
    gas_only: bool  # the boiler can take over entirely (limit 0)
    ask_eur_per_kwh: float  # the resident's compensation per curtailed kWh
    step_w: float  # the device's limit resolution
    availability: Availability = Availability.AVAILABLE
    recent_curtailment_kwh: float = 0.0  # e.g. over the last 30 days


@dataclass(frozen=True, kw_only=True, eq=False)
class FlexModel:
    """What N homes can do, as a struct of arrays (one entry per home).

    The arrays are copied and made read-only on construction, so a model
    cannot change under an allocation that was computed from it.
    """

    home_ids: tuple[str, ...]
    baseline_w: NDArray[np.float64]
    floor_w: NDArray[np.float64]
    gas_only: NDArray[np.bool_]
    available: NDArray[np.bool_]
    ask_eur_per_kwh: NDArray[np.float64]
    step_w: NDArray[np.float64]
    recent_curtailment_kwh: NDArray[np.float64]

    def __post_init__(self) -> None:
        """Check and freeze the arrays; errors name the field and the home."""
        ids = tuple(self.home_ids)
        if not all(isinstance(home_id, str) for home_id in ids):
            raise ValueError("FlexModel.home_ids must all be strings")
        if len(set(ids)) != len(ids):
            raise ValueError("FlexModel.home_ids must be unique")
        object.__setattr__(self, "home_ids", ids)
        n = len(ids)
        for name, minimum, strict in (
            ("baseline_w", 0.0, False),
            ("floor_w", 0.0, False),
            ("ask_eur_per_kwh", 0.0, False),
            ("step_w", 0.0, True),
            ("recent_curtailment_kwh", 0.0, False),
        ):
            values = _float_array(name, getattr(self, name), ids)
            bad = values <= minimum if strict else values < minimum
            if bad.any():
                first = int(np.flatnonzero(bad)[0])
                relation = ">" if strict else ">="
                raise ValueError(
                    f"FlexModel.{name} must be {relation} {minimum:g};"
                    f" home {ids[first]!r} has {values[first]}"
                )
            object.__setattr__(self, name, values)
        for name in ("gas_only", "available"):
            object.__setattr__(self, name, _bool_array(name, getattr(self, name), n))

    @classmethod
    def from_records(cls, homes: Sequence[HomeFlexModel]) -> Self:
        """Build the arrays from one record per home."""
        return cls(
            home_ids=tuple(h.home_id for h in homes),
            baseline_w=np.array([h.baseline_w for h in homes], dtype=np.float64),
            floor_w=np.array([h.floor_w for h in homes], dtype=np.float64),
            gas_only=np.array([h.gas_only for h in homes], dtype=np.bool_),
            available=np.array(
                [h.availability is Availability.AVAILABLE for h in homes],
                dtype=np.bool_,
            ),
            ask_eur_per_kwh=np.array(
                [h.ask_eur_per_kwh for h in homes], dtype=np.float64
            ),
            step_w=np.array([h.step_w for h in homes], dtype=np.float64),
            recent_curtailment_kwh=np.array(
                [h.recent_curtailment_kwh for h in homes], dtype=np.float64
            ),
        )

    @property
    def size(self) -> int:
        """The number of homes."""
        return len(self.home_ids)

    @property
    def continuous_reduction_w(self) -> NDArray[np.float64]:
        """The most each home can reduce while its compressor keeps running."""
        result: NDArray[np.float64] = np.where(
            self.available, np.maximum(self.baseline_w - self.floor_w, 0.0), 0.0
        )
        return result

    @property
    def max_reduction_w(self) -> NDArray[np.float64]:
        """The most each home can reduce: its whole baseline if gas-only, else to its floor."""
        result: NDArray[np.float64] = np.where(
            self.available & self.gas_only,
            self.baseline_w,
            self.continuous_reduction_w,
        )
        return result


@dataclass(frozen=True, kw_only=True)
class FlexContext:
    """What the grid asks of the congestion point for one interval."""

    cap_w: float  # the most the congestion point may draw
    other_load_w: float  # forecast or measured load that is not heat pumps
    interval_s: float = 900.0

    def __post_init__(self) -> None:
        """Reject numbers no allocation can be computed from."""
        for name in ("cap_w", "other_load_w", "interval_s"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or not math.isfinite(value):
                raise ValueError(
                    f"FlexContext.{name} must be a finite number, got {value!r}"
                )
        if self.interval_s <= 0:
            raise ValueError(
                f"FlexContext.interval_s must be > 0 s, got {self.interval_s}"
            )


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


def allocate(
    model: FlexModel,
    context: FlexContext,
    *,
    fairness_weight: float = DEFAULT_FAIRNESS_WEIGHT,
    gas_only_premium: float = DEFAULT_GAS_ONLY_PREMIUM,
) -> Allocation:
    """Choose per-home limits that meet the cap at the lowest effective cost.

    ``fairness_weight`` (EUR/kWh) and ``gas_only_premium`` (EUR/kWh) are
    explained in ``docs/allocation.md``. When the available flexibility is not
    enough, every available home goes to its deepest limit and the allocation
    reports the shortfall.
    """
    if not math.isfinite(gas_only_premium) or gas_only_premium < 0:
        raise ValueError(
            f"gas_only_premium must be a finite number >= 0 EUR/kWh, got {gas_only_premium}"
        )
    price = effective_price_eur_per_kwh(
        model.ask_eur_per_kwh,
        model.recent_curtailment_kwh,
        model.available,
        fairness_weight=fairness_weight,
    )
    baseline = model.baseline_w
    continuous = model.continuous_reduction_w
    gas_capable = model.available & model.gas_only
    # A gas-only switch removes what is left below the floor: min(floor, baseline).
    jump = np.where(gas_capable, baseline - continuous, 0.0)
    baseline_total = float(baseline.sum())
    required = max(0.0, context.other_load_w + baseline_total - context.cap_w)

    grid = _Grid(
        baseline=baseline,
        floor=model.floor_w,
        step=model.step_w,
        available=model.available,
        gas_capable=gas_capable,
        jump=jump,
    )
    limits = np.full(model.size, np.inf)
    flex = np.flatnonzero(continuous + jump > 0)
    if required > TOLERANCE_W and flex.size:
        most = continuous[flex] + jump[flex]
        if float(most.sum()) <= required:
            # Not enough flexibility: every available home at its deepest limit.
            limits[flex] = np.where(jump[flex] > 0, 0.0, model.floor_w[flex])
        else:
            order = flex[np.argsort(price[flex])]
            target, gas, marginal = _cheapest_cover(
                continuous,
                jump,
                price,
                order,
                premium=gas_only_premium,
                required=required,
            )
            rounding = _Rounding(
                grid=grid,
                price=price,
                premium=gas_only_premium,
                required=required,
                order=order,
            )
            limits = grid.limits_for(target, gas, continuous)
            rounding.repair(limits, marginal)

    limited = np.isfinite(limits)
    reduction = np.where(limited, baseline - np.where(limited, limits, 0.0), 0.0)
    gas = (limits == 0) & (model.floor_w > 0)
    total = float(reduction.sum())
    shortfall = required - total
    energy_kwh = reduction * (context.interval_s / 3.6e6)
    # Elementwise products, not `@`: a BLAS dot spawns threads, which costs
    # more than it saves at this size and stalls on a busy machine.
    return Allocation(
        home_ids=model.home_ids,
        limits_w=limits,
        reduction_w=reduction,
        gas_only=gas,
        effective_price_eur_per_kwh=price,
        required_reduction_w=required,
        total_reduction_w=total,
        shortfall_w=shortfall if shortfall > TOLERANCE_W else 0.0,
        forecast_load_w=context.other_load_w + baseline_total - total,
        cost_eur=float((energy_kwh * model.ask_eur_per_kwh).sum()),
        objective_eur=float((energy_kwh * price).sum())
        + gas_only_premium * float(jump[gas].sum()) * (context.interval_s / 3.6e6),
        interval_s=context.interval_s,
    )


def _cheapest_cover(
    continuous: NDArray[np.float64],
    jump: NDArray[np.float64],
    price: NDArray[np.float64],
    order: NDArray[np.intp],
    *,
    premium: float,
    required: float,
) -> tuple[NDArray[np.float64], NDArray[np.bool_], int]:
    """Per-home reductions (before step rounding) covering ``required`` cheaply.

    ``order`` lists the homes with flexibility, cheapest first. Each home
    offers two segments: its continuous reduction down to the floor at its
    price, and, if gas-only, an indivisible jump from the floor to 0 at its
    price plus the premium. The two lists are merged in price order and the
    cheapest prefix that covers ``required`` is taken. If the segment at the
    boundary is continuous, only it is taken partly and the result is optimal
    before rounding (it solves the LP relaxation, and every jump in it is
    whole). If it is a jump,
    two ways out are compared: take the jump and give back the overshoot from
    the dearest continuous segments taken before it, or skip the jump and look
    at the next boundary, up to ``_JUMP_CANDIDATES`` times.

    Returns the target reductions, the gas-only homes and the home taken
    partly at the boundary (-1 if none).
    """
    n = continuous.size
    # Jumps only add to the continuous segments, so the cover ends within the
    # cheapest homes whose continuous segments alone reach ``required``, and
    # skipping up to _JUMP_CANDIDATES jumps pushes it by at most as many
    # jumps: the homes beyond that cannot matter and are left out.
    reach = required + _JUMP_CANDIDATES * float(jump.max(initial=0.0))
    cut = int(np.searchsorted(np.cumsum(continuous[order]), reach, side="left")) + 1
    order = order[:cut]
    c_price = price[order]
    has_jump = jump[order] > 0
    j_home = order[has_jump]
    # Two sorted runs: the stable sort (timsort) merges them in one linear
    # pass. Stability puts a continuous segment before a jump at the same
    # price, so a home's jump always follows its own continuous segment.
    keys = np.concatenate([c_price, c_price[has_jump] + premium])
    merged = np.argsort(keys, kind="stable")
    m = merged.size
    size = np.concatenate([continuous[order], jump[j_home]])[merged]
    seg_price = keys[merged]
    home = np.concatenate([order, j_home])[merged]
    is_jump = merged >= order.size
    position = np.empty(m, dtype=np.intp)
    position[merged] = np.arange(m)
    jump_pos = np.full(n, m, dtype=np.intp)
    jump_pos[j_home] = position[order.size :]
    cum = np.cumsum(size)
    cum_cost = np.cumsum(size * seg_price)

    segments = _Segments(size, seg_price, home, is_jump, jump_pos)
    skipped: list[int] = []
    skipped_home = np.zeros(n, dtype=np.bool_)
    skipped_size = 0.0
    skipped_cost = 0.0
    best: _Candidate | None = None
    for _ in range(_JUMP_CANDIDATES):
        k = int(np.searchsorted(cum, required + skipped_size, side="left"))
        if k >= m:
            break  # skipping jumps left too little: earlier candidates stand
        before = (float(cum[k - 1]) if k else 0.0) - skipped_size
        before_cost = (float(cum_cost[k - 1]) if k else 0.0) - skipped_cost
        if not is_jump[k]:
            partial = required - before
            candidate = _Candidate(
                cost=before_cost + partial * float(seg_price[k]),
                boundary=k,
                skipped=len(skipped),
                partial=partial,
            )
        else:
            back_idx, back_amount = segments.back_off(
                k, before + float(size[k]) - required, skipped_home
            )
            candidate = _Candidate(
                cost=before_cost
                + float(size[k] * seg_price[k])
                - float((back_amount * seg_price[back_idx]).sum()),
                boundary=k,
                skipped=len(skipped),
                back_idx=back_idx,
                back_amount=back_amount,
            )
        if best is None or candidate.cost < best.cost:
            best = candidate
        if not is_jump[k]:
            break
        skipped.append(k)
        skipped_home[home[k]] = True
        skipped_size += float(size[k])
        skipped_cost += float(size[k] * seg_price[k])
    if best is None:  # pragma: no cover - the caller checked total > required
        raise AssertionError("no covering found although the flexibility suffices")

    k = best.boundary
    amount = np.zeros(m)
    amount[:k] = size[:k]
    amount[skipped[: best.skipped]] = 0.0
    marginal = -1
    if best.back_idx is None:
        amount[k] = best.partial
        marginal = int(home[k])
    else:
        amount[k] = size[k]
        amount[best.back_idx] -= best.back_amount
    # Weighted bincount returns float64; numpy's stubs type it as integer.
    reduction = np.bincount(home, weights=amount, minlength=n).astype(
        np.float64, copy=False
    )
    gas = np.zeros(n, dtype=np.bool_)
    gas[home[is_jump & (amount > 0)]] = True
    return reduction, gas, marginal


@dataclass(frozen=True, kw_only=True, eq=False)
class _Candidate:
    cost: float
    boundary: int
    skipped: int  # how many of the skipped jumps were skipped for this one
    partial: float = 0.0
    back_idx: NDArray[np.intp] | None = None
    back_amount: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))


@dataclass(frozen=True, eq=False)
class _Segments:
    size: NDArray[np.float64]
    price: NDArray[np.float64]
    home: NDArray[np.intp]
    is_jump: NDArray[np.bool_]
    jump_pos: NDArray[np.intp]

    def back_off(
        self, k: int, overshoot: float, skipped_home: NDArray[np.bool_]
    ) -> tuple[NDArray[np.intp], NDArray[np.float64]]:
        """Give back ``overshoot`` W from the dearest continuous segments before k.

        A continuous segment may shrink only if its home's jump is not taken
        (a gas-only home is at 0 W, not between the floor and its baseline).
        The overshoot is at most one jump, so a short window behind the
        boundary nearly always suffices; it widens only when it does not.
        """
        window = 64
        while True:
            lo = max(0, k - window)
            idx = np.arange(k - 1, lo - 1, -1, dtype=np.intp)
            h = self.home[idx]
            jump_taken = (self.jump_pos[h] <= k) & ~skipped_home[h]
            amounts = np.where(~self.is_jump[idx] & ~jump_taken, self.size[idx], 0.0)
            cum = np.cumsum(amounts)
            if lo == 0 or (cum.size and cum[-1] >= overshoot):
                break
            window *= 8
        given = np.minimum(amounts, np.maximum(overshoot - (cum - amounts), 0.0))
        return idx, given


@dataclass(frozen=True, eq=False)
class _Grid:
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


@dataclass(frozen=True, kw_only=True, eq=False)
class _Rounding:
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

    grid: _Grid
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


def _reduction(limits: NDArray[np.float64], grid: _Grid) -> float:
    limited = np.isfinite(limits)
    return float((grid.baseline[limited] - limits[limited]).sum())


def _float_array(
    name: str, values: ArrayLike, ids: tuple[str, ...]
) -> NDArray[np.float64]:
    try:
        array = np.array(values, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(f"FlexModel.{name} must be numbers: {err}") from err
    _check_shape(name, array, len(ids))
    finite = np.isfinite(array)
    if not finite.all():
        first = int(np.flatnonzero(~finite)[0])
        raise ValueError(
            f"FlexModel.{name} must be finite; home {ids[first]!r} has {array[first]}"
        )
    array.flags.writeable = False
    return array


def _bool_array(name: str, values: ArrayLike, n: int) -> NDArray[np.bool_]:
    array = np.array(values)
    if array.size and array.dtype != np.bool_:
        raise ValueError(f"FlexModel.{name} must be booleans, got dtype {array.dtype}")
    array = array.astype(np.bool_)
    _check_shape(name, array, n)
    array.flags.writeable = False
    return array


def _check_shape(name: str, array: NDArray[np.generic], n: int) -> None:
    if array.ndim != 1 or array.shape[0] != n:
        raise ValueError(
            f"FlexModel.{name} must have one value per home ({n}), got shape {array.shape}"
        )
