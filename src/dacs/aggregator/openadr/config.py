"""Settings of the OpenADR 3 VEN (the ``[openadr]`` section)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
import os

from .credentials import CREDENTIALS_MODES, CredentialsMode
from .errors import OpenAdrConfigError
from .identifiers import is_ean13
from .versions import VERSION_SETTINGS, VersionSetting

# The NL-flex profile fixes the DSO identifiers; Enexis is the default grid operator.
ENEXIS_EAN13 = "8712423014022"
SECRET_ENVIRONMENT_VARIABLE = "DACS_OPENADR_CLIENT_SECRET"  # noqa: S105 - a name, not a secret


@dataclass(frozen=True, kw_only=True)
class OpenAdrConfig:
    """How the aggregator reaches its grid operator's VTN.

    ``program_ids`` are NL-flex programs (baseline and FLEX events, checked
    with the ``nlflex10`` profile); ``capacity_program_ids`` are plain OpenADR
    3.1 programs carrying IMPORT_CAPACITY_LIMIT and ALERT_GRID_EMERGENCY
    events, which the NL-flex profile does not define.
    ``congestion_points`` maps the grid operator's CONGESTION_POINT_ID to the
    aggregator's own congestion point id, as ``"GRID_ID=local-id"`` entries.
    """

    enabled: bool = False
    vtn_url: str = ""
    # The OpenADR version the VTN speaks: 3.1.0, 3.0.1, or auto (asked once
    # per connection: GET /resources exists in 3.1.0 only).
    version: VersionSetting = "auto"
    # None: discovered from the VTN (OpenADR 3.1.0), else the VTN's /auth/token
    token_url: str | None = None
    client_id: str = ""
    client_secret: str | None = field(default=None, repr=False)
    scopes: tuple[str, ...] = ()
    # How the token request carries the client credentials (RFC 6749 §2.3.1):
    # HTTP Basic, the form body, or auto (Basic, then the body on a refusal).
    credentials_mode: CredentialsMode = "auto"
    program_ids: tuple[str, ...] = ()
    capacity_program_ids: tuple[str, ...] = ()
    poll_interval_s: float = 60.0
    # Poll at once when the VTN's MQTT notifier says an event changed (if it offers one).
    mqtt_notifier: bool = True
    request_timeout_s: float = 20.0
    service_provider_ean: str = ""
    dso_ean: str = ENEXIS_EAN13
    congestion_points: tuple[str, ...] = ()
    flex_type: str = "HPH"  # hybrid heat pump in the profile's flex types table
    emergency_max_duration_s: float = 6 * 3600.0
    # Plain HTTP and an http:// token URL: development and test VTNs only.
    allow_insecure_http: bool = False

    def __post_init__(self) -> None:
        """Refuse a credentials mode or an OpenADR version that does not exist."""
        if self.version not in VERSION_SETTINGS:
            raise OpenAdrConfigError(
                f"openadr.version is {self.version!r}; "
                f"use one of {', '.join(VERSION_SETTINGS)}"
            )
        if self.credentials_mode not in CREDENTIALS_MODES:
            raise OpenAdrConfigError(
                f"openadr.credentials_mode is {self.credentials_mode!r}; "
                f"use one of {', '.join(CREDENTIALS_MODES)}"
            )

    @property
    def congestion_point_map(self) -> dict[str, str]:
        """Grid operator CONGESTION_POINT_ID -> aggregator congestion point id."""
        mapping: dict[str, str] = {}
        for entry in self.congestion_points:
            grid_id, separator, local_id = entry.partition("=")
            if not separator or not grid_id.strip() or not local_id.strip():
                raise OpenAdrConfigError(
                    f"openadr.congestion_points entry {entry!r} must read GRID_ID=local-id"
                )
            mapping[grid_id.strip()] = local_id.strip()
        return mapping

    def secret(self, environ: Mapping[str, str] | None = None) -> str:
        """The client secret from the settings, else from DACS_OPENADR_CLIENT_SECRET."""
        environ = os.environ if environ is None else environ
        secret = self.client_secret or environ.get(SECRET_ENVIRONMENT_VARIABLE)
        if not secret:
            raise OpenAdrConfigError(
                "openadr.client_secret is empty: set it or "
                f"the {SECRET_ENVIRONMENT_VARIABLE} environment variable"
            )
        return secret

    def check(self) -> None:
        """Raise OpenAdrConfigError naming the first setting that cannot work."""
        if not self.vtn_url.startswith(("https://", "http://")):
            raise OpenAdrConfigError("openadr.vtn_url must be an http(s) URL")
        if self.vtn_url.startswith("http://") and not self.allow_insecure_http:
            raise OpenAdrConfigError(
                "openadr.vtn_url is plain HTTP; OpenADR 3.1 requires HTTPS "
                "(allow_insecure_http = true is for test VTNs only)"
            )
        if not self.client_id:
            raise OpenAdrConfigError("openadr.client_id is empty")
        if not self.program_ids and not self.capacity_program_ids:
            raise OpenAdrConfigError(
                "name at least one program in openadr.program_ids or "
                "openadr.capacity_program_ids"
            )
        if not is_ean13(self.service_provider_ean):
            raise OpenAdrConfigError(
                "openadr.service_provider_ean must be the service provider's "
                "EAN13 (13 digits, valid check digit)"
            )
        if not is_ean13(self.dso_ean):
            raise OpenAdrConfigError("openadr.dso_ean must be the DSO's EAN13")
        if self.poll_interval_s <= 0 or self.request_timeout_s <= 0:
            raise OpenAdrConfigError(
                "openadr.poll_interval_s and request_timeout_s must be positive"
            )
        if self.emergency_max_duration_s <= 0:
            raise OpenAdrConfigError(
                "openadr.emergency_max_duration_s must be positive"
            )
        if not self.congestion_point_map:
            raise OpenAdrConfigError(
                "openadr.congestion_points is empty: map at least one "
                "grid CONGESTION_POINT_ID to a congestion point"
            )
