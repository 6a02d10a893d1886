"""The UFTP adapter's errors: configuration problems, and messages refused by the protocol."""

from __future__ import annotations

from dacs.excerpt import bounded


class UftpError(Exception):
    """Base of every error of the UFTP adapter."""


class UftpConfigError(UftpError):
    """A setting, the signing key or the participants file is unusable."""


class UnknownParticipantError(UftpError):
    """No participant with this domain and role is in the participants file."""


class DeliveryError(UftpError):
    """An outbound message could not be delivered (after its retries, if any)."""


class TransportRefusedError(UftpError):
    """An inbound message refused at the transport level: answered with an HTTP status.

    UFTP answers unreadable, unsigned and unverifiable messages with an HTTP
    error and no response message (the sender cannot be trusted to receive one).
    """

    def __init__(self, status: int, reason: str) -> None:
        """Remember the HTTP status and a reason for the log and the response body."""
        reason = bounded(reason, 280)  # a peer's value is quoted, never whole
        super().__init__(f"HTTP {status}: {reason}")
        self.status = status
        self.reason = reason


class MessageRejectedError(UftpError):
    """A verified message refused for what it says: answered with ``Result=Rejected``.

    ``reason`` is the UFTP ``RejectionReason`` the sender receives.
    """

    def __init__(self, reason: str) -> None:
        """Keep the reason the response message carries (cut short: it may quote)."""
        reason = bounded(reason)
        super().__init__(reason)
        self.reason = reason


# UFTP rejection reasons (shapeshifter-uftp's exceptions carry the same texts).
INVALID_SENDER = "Invalid Sender"
UNKNOWN_RECIPIENT = "Unknown Recipient"
DUPLICATE_IDENTIFIER = "Duplicate Identifier"
ISP_DURATION_REJECTED = "ISP Duration Rejected"
TIME_ZONE_REJECTED = "TimeZone Rejected"
INVALID_CONGESTION_POINT = "Invalid Congestion Point"
UNKNOWN_REFERENCE = "Unknown Reference"
REFERENCE_PERIOD_MISMATCH = "Reference Period Mismatch"
REFERENCE_MESSAGE_EXPIRED = "Reference Message Expired"
ISPS_OUT_OF_BOUNDS = "ISPs Out Of Bounds"
ISP_CONFLICT = "ISP Conflict"
PERIOD_OUT_OF_BOUNDS = "Period Out Of Bounds"
EXPIRATION_OUT_OF_BOUNDS = "Expiration DateTime Out Of Bounds"
ISPS_DO_NOT_MATCH_OFFER = "ISPs do not match the FlexOffer option"


class OfferAlreadyOrderedError(MessageRejectedError):
    """A FlexOrder names a FlexOffer that another FlexOrder took first."""

    def __init__(self) -> None:
        """Reject with UFTP's reason for a reference that cannot be used."""
        super().__init__(f"{UNKNOWN_REFERENCE}: the FlexOffer was ordered already")
