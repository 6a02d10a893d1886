"""OpenADR 3 VEN: the aggregator as a congestion service provider of a Dutch DSO.

``signals`` and ``reports`` are the pure mapping (OpenADR models to cap
events and back); ``client`` is the VTN over HTTP; ``ven`` the poller.
Import ``OpenAdrVen`` from ``ven``: it needs the service, and the
configuration module imports this package's settings without it.
"""

from .config import OpenAdrConfig
from .errors import (
    OpenAdrConfigError,
    OpenAdrError,
    VtnAuthError,
    VtnError,
    VtnResponseError,
    VtnUnavailableError,
)

__all__ = [
    "OpenAdrConfig",
    "OpenAdrConfigError",
    "OpenAdrError",
    "VtnAuthError",
    "VtnError",
    "VtnResponseError",
    "VtnUnavailableError",
]
