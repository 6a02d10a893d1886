"""OpenADR 3 VEN: the aggregator as a congestion service provider of a Dutch DSO.

``signals`` (with ``plans``, ``capacity_signals``, ``nlflex_signals``) and
``reports`` are the pure mapping (OpenADR models to capacity envelopes and
back), ``nlflex_profile`` the NL-flex compliance checks; ``client`` is the
VTN over HTTP; ``ven`` the poller, a facade over ``polling``, ``programs``,
``registration``, ``event_handling`` and ``report_sender``.
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
