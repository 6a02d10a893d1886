"""Settings of the UFTP (GOPACS) aggregator adapter."""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dacs.excerpt import quoted

from .errors import UftpConfigError

UFTP_PATH = "/shapeshifter/api/v3/message"


@dataclass(frozen=True, kw_only=True)
class UftpConfig:
    """How the aggregator takes part in UFTP as AGR.

    ``congestion_points`` maps UFTP entity addresses to our congestion point ids
    as ``"ADDRESS=ID"`` strings (``ea1.…`` addresses need this; ``ean.<EAN18>``
    addresses also match the ``congestion_points.ean`` column without it).
    """

    enabled: bool = False
    domain: str = "agr.example.com"
    signing_key_file: str | None = None  # base64 ed25519 seed (32 B) or secret (64 B)
    participants_file: str | None = None  # TOML or JSON, see docs/grid-interfaces.md
    endpoint_path: str = UFTP_PATH
    isp_duration: str = "PT15M"
    time_zone: str = "Europe/Amsterdam"
    margin_eur_per_kwh: float = 0.02
    offer_validity_minutes: float = 240.0
    offer_fractions: tuple[str, ...] = ("1.0", "0.5")
    congestion_points: tuple[str, ...] = ()
    settlement_tolerance_w: float = 100.0
    settlement_tolerance_fraction: float = 0.05
    # 15 attempts from 2 s, doubling up to 600 s: about 67 minutes, past the
    # hour UFTP asks senders to keep trying.
    retry_attempts: int = 15
    retry_base_s: float = 2.0
    retry_max_s: float = 600.0
    request_timeout_s: float = 30.0
    version: str = "3.1.0"
    max_message_bytes: int = 4 * 1024 * 1024

    def __post_init__(self) -> None:
        """Refuse settings the protocol or the adapter cannot work with."""
        if self.isp_duration != "PT15M":
            raise UftpConfigError("uftp.isp_duration: only PT15M is supported")
        try:
            ZoneInfo(self.time_zone)
        except (ZoneInfoNotFoundError, ValueError, OSError) as err:
            # A name too long for a file name is an OSError, not "not found".
            raise UftpConfigError(
                f"uftp.time_zone {quoted(self.time_zone)} is not a known time zone"
            ) from err
        if not self.endpoint_path.startswith("/"):
            raise UftpConfigError("uftp.endpoint_path must start with '/'")
        if self.margin_eur_per_kwh < 0:
            raise UftpConfigError("uftp.margin_eur_per_kwh cannot be negative")
        if self.offer_validity_minutes <= 0:
            raise UftpConfigError("uftp.offer_validity_minutes must be positive")
        if self.retry_attempts < 1 or self.retry_base_s <= 0 or self.retry_max_s <= 0:
            raise UftpConfigError("uftp.retry_* must be positive")
        if self.max_message_bytes < 64 * 1024:
            raise UftpConfigError("uftp.max_message_bytes must be at least 65536")
        if self.version not in ("3.0.0", "3.1.0"):
            raise UftpConfigError("uftp.version must be 3.0.0 or 3.1.0")
        fractions = self.fractions
        if not fractions or any(not 0 < f <= 1 for f in fractions):
            raise UftpConfigError("uftp.offer_fractions must lie in (0, 1]")
        self.congestion_point_map  # noqa: B018 - parse now so errors show at start-up
        if self.enabled and (not self.signing_key_file or not self.participants_file):
            raise UftpConfigError(
                "uftp.signing_key_file and uftp.participants_file are required"
                " when UFTP is enabled"
            )

    @property
    def zone(self) -> ZoneInfo:
        """The market's time zone."""
        return ZoneInfo(self.time_zone)

    @property
    def fractions(self) -> tuple[float, ...]:
        """Fractions of the requested volume offered as options, largest first."""
        try:
            values = tuple(float(f) for f in self.offer_fractions)
        except ValueError as err:
            raise UftpConfigError(f"uftp.offer_fractions: {err}") from err
        return tuple(sorted(set(values), reverse=True))

    @property
    def congestion_point_map(self) -> dict[str, str]:
        """UFTP entity address -> congestion point id."""
        mapping: dict[str, str] = {}
        for entry in self.congestion_points:
            address, sep, point_id = entry.partition("=")
            if not sep or not address.strip() or not point_id.strip():
                raise UftpConfigError(
                    f"uftp.congestion_points: {entry!r} is not ADDRESS=ID"
                )
            mapping[address.strip()] = point_id.strip()
        return mapping
