"""GOPACS / UFTP (Shapeshifter) aggregator role: FlexRequest in, FlexOffer out, FlexOrder to a cap.

Built on shapeshifter-uftp's message classes, parser and signing; served from
the aggregator's own aiohttp application (see docs/grid-interfaces.md).
The agent and its routes live in ``agent`` and ``routes``, imported only when
UFTP is enabled; the agent sees the aggregator through its ``GridPort``.
"""

from .config import UFTP_PATH, UftpConfig
from .errors import (
    DeliveryError,
    MessageRejectedError,
    TransportRefusedError,
    UftpConfigError,
    UftpError,
    UnknownParticipantError,
)
from .keys import generate_keypair, public_key
from .participants import Participant, Participants

__all__ = [
    "UFTP_PATH",
    "DeliveryError",
    "MessageRejectedError",
    "Participant",
    "Participants",
    "TransportRefusedError",
    "UftpConfig",
    "UftpConfigError",
    "UftpError",
    "UnknownParticipantError",
    "generate_keypair",
    "public_key",
]
