"""FlexOrder -> FlexOrderResponse and the capacity envelope that delivers the order."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from shapeshifter_uftp import AcceptedRejected, FlexOrder, FlexOrderResponse

from dacs.aggregator.domain.envelope import (
    CapacityEnvelope,
    CapacityInterval,
    EnvelopeKind,
)
from dacs.aggregator.storage.tables import (
    UftpFlexOfferRow,
    UftpFlexOrderRow,
    UftpInboundRow,
)

from . import isp as isps
from .config import UftpConfig
from .envelope import OpenedMessage
from .errors import (
    INVALID_CONGESTION_POINT,
    ISP_CONFLICT,
    ISPS_DO_NOT_MATCH_OFFER,
    REFERENCE_MESSAGE_EXPIRED,
    REFERENCE_PERIOD_MISMATCH,
    UNKNOWN_REFERENCE,
    MessageRejectedError,
    OfferAlreadyOrderedError,
)
from .header import CURRENCY, accept, amount, check_flex_header, expect
from .outbox import Outgoing


@dataclass(frozen=True, kw_only=True)
class AcceptedFlexOrder:
    """What an accepted FlexOrder stores, sends and puts in force."""

    inbound: UftpInboundRow
    order: UftpFlexOrderRow
    response: Outgoing
    envelope: CapacityEnvelope
    address: str  # the congestion point's UFTP address, for the D-Prognosis


def process_flex_order(
    opened: OpenedMessage,
    *,
    offer: UftpFlexOfferRow | None,
    config: UftpConfig,
    now: datetime,
) -> AcceptedFlexOrder:
    """Check a FlexOrder against the FlexOffer it names (None: not found).

    Raises MessageRejectedError.
    """
    message = expect(opened.message, FlexOrder)
    check_flex_header(message, config)
    if offer is None or offer.recipient_domain != opened.sender_domain:
        raise MessageRejectedError(UNKNOWN_REFERENCE)
    if offer.order_message_id is not None:
        raise OfferAlreadyOrderedError
    if now >= offer.expires_at:
        raise MessageRejectedError(REFERENCE_MESSAGE_EXPIRED)
    if message.period.to_date().isoformat() != offer.period:
        raise MessageRejectedError(REFERENCE_PERIOD_MISMATCH)
    if message.congestion_point != offer.congestion_point:
        raise MessageRejectedError(INVALID_CONGESTION_POINT)
    option = next(
        (o for o in offer.options if o["reference"] == message.option_reference),
        None,
    )
    if option is None:
        raise MessageRejectedError(f"{UNKNOWN_REFERENCE}: OptionReference")
    try:
        ordered = isps.expand((i.start, i.duration, i.power) for i in message.isps)
    except ValueError as err:
        raise MessageRejectedError(ISP_CONFLICT) from err
    offered = {int(k): int(v) for k, v in option["isps"].items()}
    if ordered != offered:
        raise MessageRejectedError(ISPS_DO_NOT_MATCH_OFFER)
    if Decimal(message.activation_factor) != 1:
        raise MessageRejectedError("Invalid Message: ActivationFactor must be 1.00")
    if amount(message.price) != amount(option["price"]) or (
        message.currency != CURRENCY
    ):
        raise MessageRejectedError(
            "Invalid Message: Price does not match the FlexOffer"
        )
    envelope = order_envelope(
        message.message_id, offer, ordered, config, dso=opened.sender_domain
    )
    acceptance = accept(
        FlexOrderResponse(
            flex_order_message_id=message.message_id,
            result=AcceptedRejected.ACCEPTED,
        ),
        opened,
        config,
        now=now,
    )
    return AcceptedFlexOrder(
        inbound=acceptance.inbound,
        order=UftpFlexOrderRow(
            message_id=message.message_id,
            flex_offer_message_id=offer.message_id,
            conversation_id=message.conversation_id,
            sender_domain=opened.sender_domain,
            order_reference=message.order_reference,
            option_reference=message.option_reference or "",
            congestion_point_id=offer.congestion_point_id,
            period=offer.period,
            isps={str(k): v for k, v in ordered.items()},
            price=str(amount(message.price)),
            currency=message.currency,
            event_id=envelope.envelope_id,
            received_at=now,
        ),
        response=acceptance.response,
        envelope=envelope,
        address=offer.congestion_point,
    )


def order_envelope(
    order_message_id: str,
    offer: UftpFlexOfferRow,
    ordered: dict[int, int],
    config: UftpConfig,
    *,
    dso: str,
) -> CapacityEnvelope:
    """The cap per ordered ISP: the offer's forecast load for it minus the ordered flex."""
    period = date.fromisoformat(offer.period)
    intervals = []
    for number, power in sorted(ordered.items()):
        start = isps.isp_start(period, number, config.zone)
        forecast_w = float(offer.baseline_w.get(str(number), 0))
        intervals.append(
            CapacityInterval(
                start=start,
                end=start + isps.ISP_DURATION,
                cap_w=max(0.0, forecast_w + power),  # power < 0: a reduction
            )
        )
    return CapacityEnvelope(
        envelope_id=f"uftp-{order_message_id}",
        kind=EnvelopeKind.DYNAMIC,
        intervals=tuple(intervals),
        origin=f"uftp:{dso}"[:64],
    )
