"""The device layer's errors: one tree, so callers can catch what they can handle."""


class HeatPumpError(Exception):
    """Base class for every error of the device layer."""


class HeatPumpConnectionError(HeatPumpError):
    """The heat pump (or its Modbus gateway) cannot be reached."""


class HeatPumpTimeoutError(HeatPumpConnectionError):
    """The heat pump did not answer in time."""


class HeatPumpDeviceError(HeatPumpError):
    """The heat pump answered with a Modbus exception.

    ``exception_code`` is the Modbus exception code (2 illegal address,
    3 illegal value, 4 device failure, 6 busy, ...).
    """

    def __init__(self, message: str, exception_code: int) -> None:
        """Keep the Modbus exception code for callers that need it."""
        super().__init__(message)
        self.exception_code = exception_code


class HeatPumpInvalidDataError(HeatPumpError):
    """The heat pump returned a value outside its physically possible range."""


class HeatPumpUnsupportedError(HeatPumpError):
    """The heat pump's profile cannot do what was asked (e.g. no power limit)."""


class ProfileError(HeatPumpError):
    """A device profile file is invalid."""


class ProfileDetectionError(HeatPumpError):
    """No known profile matches the device."""
