"""Release curtailed homes in staggered groups at the end of an event.

Lifting every limit at once adds the whole curtailed power back in one step,
which can push the congestion point over its cap the moment the event ends
(the rebound peak). The plan here releases homes in groups, one group per
``group_interval_s``, so that the power added back never exceeds the headroom
under the cap at any step, provided the forecast holds.
"""

from __future__ import annotations

from dataclasses import dataclass
import math

import numpy as np
from numpy.typing import ArrayLike, NDArray

DEFAULT_GROUP_INTERVAL_S = 60.0
"""Two 30-s control cycles: each group's load is measured before the next goes."""

_TOLERANCE_W = 1e-6


@dataclass(frozen=True, kw_only=True, eq=False)
class ReleaseGroup:
    """Homes whose limits are lifted together."""

    offset_s: float  # after the event's end
    home_indices: NDArray[np.intp]  # into the arrays given to release_schedule
    added_load_w: float  # sum of (baseline - limit) over the group


@dataclass(frozen=True, kw_only=True, eq=False)
class ReleasePlan:
    """When each curtailed home's limit is lifted.

    ``release_offset_s`` holds one value per home: seconds after the event's
    end, ``NaN`` for homes that were not limited (nothing to release) and
    ``+inf`` for homes held: they do not fit the headroom within the plan and
    stay limited until a new plan (with more headroom) or their envelope's
    end releases them.
    """

    release_offset_s: NDArray[np.float64]
    groups: tuple[ReleaseGroup, ...]
    held: NDArray[np.intp]
    group_interval_s: float

    @property
    def fully_released(self) -> bool:
        """True if every curtailed home is released within the plan."""
        return self.held.size == 0

    @property
    def cumulative_added_w(self) -> NDArray[np.float64]:
        """Power added back after each group, in group order."""
        result: NDArray[np.float64] = np.cumsum(
            [group.added_load_w for group in self.groups], dtype=np.float64
        )
        return result

    def added_load_at(self, offset_s: float) -> float:
        """Power added back by ``offset_s`` after the event's end."""
        return sum(
            (group.added_load_w for group in self.groups if group.offset_s <= offset_s),
            start=0.0,
        )


def release_schedule(
    limits_w: ArrayLike,
    baseline_w: ArrayLike,
    *,
    headroom_w: float | ArrayLike,
    group_interval_s: float = DEFAULT_GROUP_INTERVAL_S,
    max_group_w: float | None = None,
) -> ReleasePlan:
    """Plan the staggered release of curtailed homes.

    ``limits_w`` uses the allocation's convention (``+inf``: no limit).
    ``headroom_w`` is the cap minus the forecast load with every curtailed
    home still at its limit: one number, or one per step (step ``k`` at
    ``k * group_interval_s``; the last value holds beyond). Releasing a home
    adds ``baseline - limit``. Homes go deepest reduction first, in strict
    order (a home is never overtaken by a smaller one, so it cannot starve),
    and a group closes when the next home would take the added load over the
    headroom at that step or any later one. ``max_group_w`` additionally caps
    each group's added load, to spread the ramp out even where the headroom
    is ample; a single home larger than it still goes alone.
    """
    limits, baseline, headroom = _checked(limits_w, baseline_w, headroom_w)
    if not math.isfinite(group_interval_s) or group_interval_s <= 0:
        raise ValueError(f"group_interval_s must be > 0 s, got {group_interval_s}")
    if max_group_w is not None and (not math.isfinite(max_group_w) or max_group_w <= 0):
        raise ValueError(f"max_group_w must be > 0 W or None, got {max_group_w}")

    limited = np.isfinite(limits)
    added = np.where(
        limited, np.maximum(baseline - np.where(limited, limits, 0.0), 0.0), 0.0
    )
    offsets = np.full(limits.size, np.nan)
    # Homes whose limit is at or above their baseline add nothing: release at once.
    free = np.flatnonzero(limited & (added <= 0))
    queue = np.flatnonzero(limited & (added > 0))
    queue = queue[np.argsort(-added[queue], kind="stable")]
    cum = np.cumsum(added[queue])
    # A group released at step k stays on at every later step, so what may be
    # added by step k is the smallest headroom from k onwards.
    allowance = np.minimum.accumulate(headroom[::-1])[::-1]

    groups: list[ReleaseGroup] = []
    if free.size:
        offsets[free] = 0.0
        groups.append(ReleaseGroup(offset_s=0.0, home_indices=free, added_load_w=0.0))
    released = 0
    released_w = 0.0
    step = 0
    while released < queue.size:
        allowed = float(allowance[min(step, allowance.size - 1)])
        bound = (
            allowed if max_group_w is None else min(allowed, released_w + max_group_w)
        )
        end = int(np.searchsorted(cum, bound + _TOLERANCE_W, side="right"))
        if end == released and cum[released] <= allowed + _TOLERANCE_W:
            end = released + 1  # one home larger than max_group_w goes alone
        if end > released:
            members = queue[released:end]
            offset = step * group_interval_s
            offsets[members] = offset
            group_w = float(cum[end - 1]) - released_w
            if groups and groups[-1].offset_s == offset:
                # The zero-load homes already opened the group at offset 0.
                members = np.concatenate([groups.pop().home_indices, members])
            groups.append(
                ReleaseGroup(
                    offset_s=offset, home_indices=members, added_load_w=group_w
                )
            )
            released = end
            released_w = float(cum[end - 1])
        elif step >= allowance.size - 1:
            break  # the headroom no longer grows: the rest would never fit
        step += 1
    held = queue[released:]
    offsets[held] = np.inf
    return ReleasePlan(
        release_offset_s=offsets,
        groups=tuple(groups),
        held=np.sort(held),
        group_interval_s=group_interval_s,
    )


def _checked(
    limits_w: ArrayLike, baseline_w: ArrayLike, headroom_w: float | ArrayLike
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    limits = np.array(limits_w, dtype=np.float64)
    baseline = np.array(baseline_w, dtype=np.float64)
    headroom = np.atleast_1d(np.array(headroom_w, dtype=np.float64))
    if limits.ndim != 1 or baseline.shape != limits.shape:
        raise ValueError(
            f"limits_w and baseline_w must be 1-D with one value per home,"
            f" got shapes {limits.shape} and {baseline.shape}"
        )
    if np.isnan(limits).any() or (limits < 0).any():
        raise ValueError("limits_w must be >= 0 W or +inf (no limit), never NaN")
    if not np.isfinite(baseline).all() or (baseline < 0).any():
        raise ValueError("baseline_w must be finite and >= 0 W")
    if headroom.ndim != 1 or headroom.size == 0 or not np.isfinite(headroom).all():
        raise ValueError(
            "headroom_w must be a finite number or a non-empty 1-D sequence"
        )
    return limits, baseline, headroom
