"""The aggregator's pure domain: functions over plain data, no I/O.

``allocate`` turns a flex-model (what the homes can do) and a flex-context
(what the grid asks) into per-home limits; ``release_schedule`` plans the
staggered release at an event's end.
"""

from .allocation import TOLERANCE_W, Allocation, HomeLimit
from .allocator import DEFAULT_GAS_ONLY_PREMIUM, allocate
from .fairness import DEFAULT_FAIRNESS_WEIGHT, effective_price_eur_per_kwh
from .flex_context import FlexContext
from .flex_model import Availability, FlexModel, HomeFlexModel
from .rebound import (
    DEFAULT_GROUP_INTERVAL_S,
    ReleaseGroup,
    ReleasePlan,
    release_schedule,
)

__all__ = [
    "DEFAULT_FAIRNESS_WEIGHT",
    "DEFAULT_GAS_ONLY_PREMIUM",
    "DEFAULT_GROUP_INTERVAL_S",
    "TOLERANCE_W",
    "Allocation",
    "Availability",
    "FlexContext",
    "FlexModel",
    "HomeFlexModel",
    "HomeLimit",
    "ReleaseGroup",
    "ReleasePlan",
    "allocate",
    "effective_price_eur_per_kwh",
    "release_schedule",
]
