"""The cheapest cover: which homes' reductions meet a required total at the lowest cost.

Each home offers its reduction as segments in a merit order (cheapest
effective price first): a continuous one down to its floor and, if it can go
gas-only, an indivisible jump from the floor to 0. The cover is computed
before rounding to the devices' limit steps (``rounding`` repairs that).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

_JUMP_CANDIDATES = 16
"""How many indivisible gas-only jumps at the cover's boundary are tried.

Each try costs a binary search and a short walk back from the boundary;
later candidates are ever dearer segments that rarely win.
"""


def cheapest_cover(
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
