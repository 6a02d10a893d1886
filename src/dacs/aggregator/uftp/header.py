"""The header every UFTP message carries: checks of an inbound one's, stamps for ours."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any
import uuid

from shapeshifter_uftp import PayloadMessage, TestMessage, TestMessageResponse
from shapeshifter_uftp.uftp import origin_map

from dacs.aggregator.storage.tables import UftpInboundRow
from dacs.excerpt import quoted

from .config import UftpConfig
from .envelope import OpenedMessage, to_xml
from .errors import (
    INVALID_SENDER,
    ISP_DURATION_REJECTED,
    TIME_ZONE_REJECTED,
    UNKNOWN_RECIPIENT,
    MessageRejectedError,
)
from .outbox import Outgoing

DSO = "DSO"
CURRENCY = "EUR"


def check_routing(opened: OpenedMessage, config: UftpConfig) -> None:
    """Refuse a message whose sender, role or recipient is not the one UFTP allows."""
    message = opened.message
    if message.sender_domain != opened.sender_domain:
        raise MessageRejectedError(INVALID_SENDER)
    expected_role = origin_map.get(type(message))
    if type(message) not in (TestMessage, TestMessageResponse) and (
        expected_role != DSO or opened.sender_role != DSO
    ):
        raise MessageRejectedError(INVALID_SENDER)
    if (message.recipient_domain or "").lower() != config.domain.lower():
        raise MessageRejectedError(UNKNOWN_RECIPIENT)


def check_flex_header(message: Any, config: UftpConfig) -> None:
    """Refuse a flex message in another ISP duration or time zone than ours."""
    if str(message.isp_duration) != config.isp_duration:
        raise MessageRejectedError(ISP_DURATION_REJECTED)
    if message.time_zone != config.time_zone:
        raise MessageRejectedError(TIME_ZONE_REJECTED)


def stamp[M: PayloadMessage](
    message: M,
    config: UftpConfig,
    *,
    now: datetime,
    recipient: str,
    conversation_id: str | None,
) -> M:
    """Fill the header every UFTP message carries (a new MessageID each time)."""
    message.version = config.version
    message.sender_domain = config.domain
    message.recipient_domain = recipient
    message.time_stamp = format_time(now)
    message.message_id = str(uuid.uuid4())
    message.conversation_id = conversation_id or str(uuid.uuid4())
    return message


def reply[M: PayloadMessage](
    response: M, opened: OpenedMessage, config: UftpConfig, *, now: datetime
) -> M:
    """Stamp a response to ``opened``: to its sender, in its conversation."""
    return stamp(
        response,
        config,
        now=now,
        recipient=opened.sender_domain,
        conversation_id=opened.message.conversation_id,
    )


def outgoing(message: PayloadMessage, recipient: str, *, role: str = DSO) -> Outgoing:
    """A stamped message, ready for the outbox."""
    return Outgoing(
        message_id=message.message_id or "",
        message_type=type(message).__name__,
        recipient_domain=recipient,
        recipient_role=role,
        payload=to_xml(message),
    )


@dataclass(frozen=True, kw_only=True)
class Acceptance:
    """The response to an accepted message, and the record that it was answered so."""

    inbound: UftpInboundRow  # a repeat of the message is answered with ``response``
    response: Outgoing


def accept(
    response: PayloadMessage,
    opened: OpenedMessage,
    config: UftpConfig,
    *,
    now: datetime,
) -> Acceptance:
    """Stamp ``response`` to ``opened`` and record the message as answered with it."""
    reply(response, opened, config, now=now)
    return Acceptance(
        inbound=UftpInboundRow(
            sender_domain=opened.sender_domain,
            message_id=opened.message.message_id,
            message_type=type(opened.message).__name__,
            digest=opened.digest,
            received_at=now,
            response_message_id=response.message_id,
        ),
        response=outgoing(response, opened.sender_domain),
    )


def expect[M: PayloadMessage](message: PayloadMessage, kind: type[M]) -> M:
    """``message`` as a ``kind``; TypeError when the routing sent it to the wrong handler."""
    if not isinstance(message, kind):
        raise TypeError(f"expected {kind.__name__}, got {type(message).__name__}")
    return message


def parse_time(text: str) -> datetime:
    """A UFTP date-time; it must carry its offset."""
    try:
        moment = datetime.fromisoformat(text)
    except (TypeError, ValueError) as err:
        raise MessageRejectedError(f"Invalid Message: bad time {quoted(text)}") from err
    if moment.tzinfo is None:
        raise MessageRejectedError(
            f"Invalid Message: time {quoted(text)} has no offset"
        )
    return moment


def format_time(moment: datetime) -> str:
    """A date-time as UFTP writes it (whole seconds, with offset)."""
    return moment.isoformat(timespec="seconds")


def amount(value: object) -> Decimal:
    """A price or amount at UFTP's four decimals."""
    try:
        return Decimal(str(value)).quantize(Decimal("0.0001"))
    except InvalidOperation as err:
        raise MessageRejectedError(
            f"Invalid Message: bad amount {quoted(value)}"
        ) from err
