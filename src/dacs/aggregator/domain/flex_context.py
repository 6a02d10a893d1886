"""The flex-context: what the grid asks of a congestion point for one interval."""

from __future__ import annotations

from dataclasses import dataclass
import math


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
