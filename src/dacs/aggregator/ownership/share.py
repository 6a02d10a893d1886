"""How many congestion points one instance should own, and which it lets go of."""

from __future__ import annotations

from collections.abc import Collection
import math


def fair_share(points: int, instances: int) -> int:
    """Points per instance so that every point has an owner: the ceiling of the split."""
    if points < 0 or instances < 0:
        raise ValueError("points and instances cannot be negative")
    return math.ceil(points / max(1, instances))


def surplus(held: Collection[str], share: int) -> list[str]:
    """The points to let go of when holding more than ``share`` (the last in order)."""
    return sorted(held)[max(0, share) :]
