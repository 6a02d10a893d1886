"""The OpenADR adapter's errors: one tree, so callers can catch what they can act on."""

from __future__ import annotations


class OpenAdrError(Exception):
    """Anything that went wrong talking OpenADR."""


class OpenAdrConfigError(OpenAdrError):
    """The [openadr] settings cannot work (missing URL, bad EAN, unknown mapping)."""


class VtnError(OpenAdrError):
    """The VTN could not be used this poll; the next poll tries again."""


class VtnUnavailableError(VtnError):
    """The VTN did not answer, timed out or answered with a server error (5xx)."""


class VtnAuthError(VtnError):
    """No access token: the token endpoint refused or could not be reached, or 401/403."""


class VtnResponseError(VtnError):
    """The VTN answered with something that is not OpenADR 3.1 (bad JSON, bad model, 4xx)."""


class VtnCapabilityError(VtnError):
    """The VTN does not offer an optional part of OpenADR 3 (it answered 404/405/501).

    The VEN turns that capability off and goes on with the rest.
    """

    def __init__(self, capability: str, message: str) -> None:
        """``capability`` names the part, as the VEN's status shows it."""
        super().__init__(message)
        self.capability = capability


class NotifierError(OpenAdrError):
    """The VTN's MQTT notifier cannot be used; the VEN keeps polling."""
