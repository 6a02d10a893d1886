"""S2 (EN 50491-12-2): the home controller as the CEM of a heat pump's resource manager.

Needs ``s2-python``; imported only where an S2 heat pump is configured.
"""

from .errors import (
    S2ConnectionError,
    S2Error,
    S2InvalidMessageError,
    S2ListenError,
    S2RefusedError,
    S2TimeoutError,
    S2UnsupportedError,
)
from .heat_pump import DEFAULT_S2_PORT, S2_PROFILE_ID, S2HeatPump
from .session import S2Control
from .transport import S2_PATH

__all__ = [
    "DEFAULT_S2_PORT",
    "S2_PATH",
    "S2_PROFILE_ID",
    "S2ConnectionError",
    "S2Control",
    "S2Error",
    "S2HeatPump",
    "S2InvalidMessageError",
    "S2ListenError",
    "S2RefusedError",
    "S2TimeoutError",
    "S2UnsupportedError",
]
