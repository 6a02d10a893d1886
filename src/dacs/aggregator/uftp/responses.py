"""What needs no storage: TestMessage answered, responses logged, our rejections."""

from __future__ import annotations

from datetime import datetime
import logging
import re
from typing import Any

from shapeshifter_uftp import (
    AcceptedRejected,
    FlexSettlement,
    PayloadMessage,
    PayloadMessageResponse,
    TestMessageResponse,
)
from shapeshifter_uftp.uftp import (
    AcceptedDisputed,
    FlexOrderSettlementStatus,
    request_response_map,
)

from .config import UftpConfig
from .envelope import OpenedMessage
from .header import outgoing, reply
from .outbox import Outgoing

_LOGGER = logging.getLogger(__name__)


def process_test_message(
    opened: OpenedMessage, *, config: UftpConfig, now: datetime
) -> Outgoing:
    """The answer to a TestMessage (sent at once, not stored), to the role that sent it."""
    response = reply(
        TestMessageResponse(),
        opened,
        config,
        now=now,
    )
    return outgoing(response, opened.sender_domain, role=opened.sender_role)


def process_response(opened: OpenedMessage) -> None:
    """Log a response to one of our messages; a rejection as a warning."""
    message = opened.message
    if (
        isinstance(message, PayloadMessageResponse)
        and message.result == AcceptedRejected.REJECTED
    ):
        _LOGGER.warning(
            "UFTP: %s rejected our message: %s",
            opened.sender_domain,
            message.rejection_reason,
        )
    else:
        _LOGGER.info("UFTP: %s from %s", type(message).__name__, opened.sender_domain)


def rejection(
    opened: OpenedMessage, reason: str, *, config: UftpConfig, now: datetime
) -> Outgoing | None:
    """The protocol's rejection of a verified message; None for a response."""
    message = opened.message
    response_type = request_response_map.get(type(message))
    if response_type is None or response_type is TestMessageResponse:
        return None  # responses are never answered
    fields: dict[str, Any] = {
        "result": AcceptedRejected.REJECTED,
        "rejection_reason": reason,
        _reference_field(type(message)): message.message_id,
    }
    if isinstance(message, FlexSettlement):
        fields["flex_order_settlement_statuses"] = [
            FlexOrderSettlementStatus(
                order_reference=item.order_reference,
                disposition=AcceptedDisputed.DISPUTED,
                dispute_reason=reason,
            )
            for item in message.flex_order_settlements
        ]
    response = reply(
        response_type(**fields),
        opened,
        config,
        now=now,
    )
    return outgoing(response, opened.sender_domain, role=opened.sender_role)


def _reference_field(message_type: type[PayloadMessage]) -> str:
    """The response's field that names the request (FlexOrder -> flex_order_message_id)."""
    name = re.sub(r"(.)([A-Z][a-z])", r"\1_\2", message_type.__name__).lower()
    return f"{name}_message_id"
