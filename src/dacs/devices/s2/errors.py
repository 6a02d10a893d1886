"""The S2 adapter's errors: one tree, inside the device layer's.

Every S2 error is a :class:`~dacs.devices.HeatPumpError`, so the home
controller treats an S2 heat pump that is gone or refuses an instruction
exactly like a Modbus one (device unavailable, try again next tick).
"""

from __future__ import annotations

from dacs.devices.errors import (
    HeatPumpConnectionError,
    HeatPumpError,
    HeatPumpInvalidDataError,
    HeatPumpTimeoutError,
    HeatPumpUnsupportedError,
)


class S2Error(HeatPumpError):
    """Base class for every error of the S2 adapter."""


class S2ConnectionError(S2Error, HeatPumpConnectionError):
    """No S2 resource manager is connected (or the connection just ended)."""


class S2TimeoutError(S2ConnectionError, HeatPumpTimeoutError):
    """The resource manager did not connect, or did not answer, in time."""


class S2ListenError(S2ConnectionError):
    """The home controller cannot listen for resource managers on its address."""


class S2RefusedError(S2Error):
    """The resource manager answered an instruction with a ReceptionStatus other than OK."""

    def __init__(self, message: str, status: str) -> None:
        """Keep the S2 ReceptionStatus value for callers that need it."""
        super().__init__(message)
        self.status = status


class S2InvalidMessageError(S2Error, HeatPumpInvalidDataError):
    """A message from the resource manager is valid S2 but makes no sense here."""


class S2UnsupportedError(S2Error, HeatPumpUnsupportedError):
    """The resource manager offers no control type the home controller can use."""
