"""Rules and defaults every party of the DACS home protocol applies alike.

The home controller, the Home Assistant integration, the aggregator and its
settlement must agree on what "following a limit" and "the compressor runs"
mean, and on a resident's defaults; each reads them from here.
"""

from __future__ import annotations

from typing import Final

# A resident who never chose keeps the house at least this warm (°C) and is
# curtailed at most this long at a stretch (minutes).
DEFAULT_COMFORT_FLOOR_C: Final = 18.0
DEFAULT_MAX_CURTAILMENT_MINUTES: Final = 120

# Measured power may exceed a limit by this much (W), or by this share of the
# limit when that is more, and still count as following it: meters and the
# heat pump's own regulation are not exact.
FOLLOW_TOLERANCE_W: Final = 100.0
FOLLOW_TOLERANCE_SHARE: Final = 0.10

# Below this electric power (W) the compressor is taken to be off: standby,
# pumps and controls draw a few tens of watts.
COMPRESSOR_RUNNING_W: Final = 50.0


def follow_tolerance_w(max_power_w: float) -> float:
    """How far above ``max_power_w`` measured power may be and still follow it."""
    return max(FOLLOW_TOLERANCE_W, FOLLOW_TOLERANCE_SHARE * max_power_w)


def follows_limit(power_w: float, max_power_w: float) -> bool:
    """True when ``power_w`` keeps to the limit ``max_power_w``, within the tolerance."""
    return power_w <= max_power_w + follow_tolerance_w(max_power_w)


def compressor_running(power_w: float) -> bool:
    """True when ``power_w`` says the compressor runs."""
    return power_w >= COMPRESSOR_RUNNING_W
