"""FlexRequest -> FlexRequestResponse and, when the homes can give any, a FlexOffer."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
import logging
from typing import Any
from zoneinfo import ZoneInfo

from shapeshifter_uftp import (
    AcceptedRejected,
    FlexOffer,
    FlexOfferOption,
    FlexOfferOptionISP,
    FlexRequest,
    FlexRequestResponse,
)
from shapeshifter_uftp.uftp import AvailableRequested
from xsdata.models.datatype import XmlDuration

from dacs.aggregator.domain.ean import is_ean18
from dacs.aggregator.storage.tables import (
    UftpFlexOfferRow,
    UftpFlexRequestRow,
    UftpInboundRow,
)

from . import isp as isps
from .config import UftpConfig
from .envelope import OpenedMessage
from .errors import (
    EXPIRATION_OUT_OF_BOUNDS,
    INVALID_CONGESTION_POINT,
    ISP_CONFLICT,
    ISPS_OUT_OF_BOUNDS,
    PERIOD_OUT_OF_BOUNDS,
    MessageRejectedError,
)
from .forecast import CongestionPointLoadForecast
from .header import (
    CURRENCY,
    accept,
    check_flex_header,
    expect,
    format_time,
    outgoing,
    parse_time,
    stamp,
)
from .offers import HomeFlex, IspNeed, OptionPlan, plan_options
from .outbox import Outgoing

_LOGGER = logging.getLogger(__name__)

# What the homes behind a congestion point can give, at a moment.
type HomeFlexSource = Callable[[str, datetime], Sequence[HomeFlex]]


@dataclass(frozen=True, kw_only=True)
class AcceptedFlexRequest:
    """What an accepted FlexRequest stores, and what it sends in this order."""

    inbound: UftpInboundRow
    request: UftpFlexRequestRow
    offer: UftpFlexOfferRow | None  # None when there is nothing to offer
    outgoing: tuple[Outgoing, ...]  # the FlexRequestResponse, then the FlexOffer

    @property
    def rows(
        self,
    ) -> tuple[UftpInboundRow | UftpFlexRequestRow | UftpFlexOfferRow, ...]:
        """The rows to add, in the order they are added."""
        return (self.inbound, self.request, *([self.offer] if self.offer else []))


def process_flex_request(
    opened: OpenedMessage,
    *,
    point_id: str | None,
    homes: HomeFlexSource,
    forecast: CongestionPointLoadForecast,
    config: UftpConfig,
    now: datetime,
) -> AcceptedFlexRequest:
    """Check a FlexRequest and plan the FlexOffer for it.

    ``point_id`` is the congestion point the request's address names, None
    when the aggregator does not serve it. Raises MessageRejectedError.
    """
    message = expect(opened.message, FlexRequest)
    check_flex_header(message, config)
    check_congestion_point(message.congestion_point)
    if point_id is None:
        raise MessageRejectedError(INVALID_CONGESTION_POINT)
    expires_at = parse_time(message.expiration_date_time)
    if expires_at <= now:
        raise MessageRejectedError(
            f"{EXPIRATION_OUT_OF_BOUNDS}: the request expired at "
            f"{format_time(expires_at)}, before it arrived"
        )
    period = message.period.to_date()
    zone = config.zone
    requested = _expand_request(message, period, zone)
    needs = [
        IspNeed(isp=number, reduction_w=max(0, -item.max_power))
        for number, item in sorted(requested.items())
        if item.disposition == AvailableRequested.REQUESTED
        and isps.isp_start(period, number, zone) + isps.ISP_DURATION > now
    ]
    if (
        requested
        and not needs
        and any(
            item.disposition == AvailableRequested.REQUESTED
            for item in requested.values()
        )
    ):
        raise MessageRejectedError(PERIOD_OUT_OF_BOUNDS)
    plans = plan_options(
        [n for n in needs if n.reduction_w > 0],
        homes(point_id, now),
        margin_eur_per_kwh=config.margin_eur_per_kwh,
        fractions=config.fractions,
    )
    acceptance = accept(
        FlexRequestResponse(
            flex_request_message_id=message.message_id,
            result=AcceptedRejected.ACCEPTED,
        ),
        opened,
        config,
        now=now,
    )
    sent = [acceptance.response]
    offer_row: UftpFlexOfferRow | None = None
    if plans:
        offer, offer_row = _offer(
            message, point_id, plans, forecast=forecast, config=config, now=now
        )
        sent.append(outgoing(offer, opened.sender_domain))
    else:
        _LOGGER.info(
            "UFTP: no flexibility to offer on %s for FlexRequest %s",
            point_id,
            message.message_id,
        )
    return AcceptedFlexRequest(
        inbound=acceptance.inbound,
        request=UftpFlexRequestRow(
            message_id=message.message_id,
            conversation_id=message.conversation_id,
            sender_domain=opened.sender_domain,
            congestion_point=message.congestion_point,
            congestion_point_id=point_id,
            period=period.isoformat(),
            revision=message.revision,
            expires_at=expires_at,
            isps=[
                {
                    "isp": number,
                    "disposition": str(item.disposition or ""),
                    "min_power": item.min_power,
                    "max_power": item.max_power,
                }
                for number, item in sorted(requested.items())
            ],
            received_at=now,
        ),
        offer=offer_row,
        outgoing=tuple(sent),
    )


def _offer(
    request: FlexRequest,
    point_id: str,
    plans: Sequence[OptionPlan],
    *,
    forecast: CongestionPointLoadForecast,
    config: UftpConfig,
    now: datetime,
) -> tuple[FlexOffer, UftpFlexOfferRow]:
    """The FlexOffer of ``plans``, and its row with the baseline it is measured against."""
    period = request.period.to_date()
    zone = config.zone
    offered = sorted({i.isp for plan in plans for i in plan.isps})
    # An offer cannot be ordered once its last ISP has ended (UFTP 3.5): the
    # validity is capped there.
    last_isp_end = isps.isp_start(period, offered[-1], zone) + isps.ISP_DURATION
    expires_at = min(
        now + timedelta(minutes=config.offer_validity_minutes), last_isp_end
    )
    baseline = {
        str(number): round(
            forecast(point_id, isps.isp_start(period, number, zone), now)
        )
        for number in offered
    }
    options = [
        FlexOfferOption(
            option_reference=plan.reference,
            price=plan.price_eur,
            isps=[
                FlexOfferOptionISP(start=i.isp, duration=1, power=-i.reduction_w)
                for i in plan.isps
            ],
        )
        for plan in plans
    ]
    offer = stamp(
        FlexOffer(
            isp_duration=XmlDuration(config.isp_duration),
            time_zone=config.time_zone,
            period=request.period,
            congestion_point=request.congestion_point,
            expiration_date_time=format_time(expires_at),
            flex_request_message_id=request.message_id,
            currency=CURRENCY,
            offer_options=options,
        ),
        config,
        now=now,
        recipient=request.sender_domain or "",
        conversation_id=request.conversation_id,
    )
    row = UftpFlexOfferRow(
        message_id=offer.message_id,
        flex_request_message_id=request.message_id,
        conversation_id=offer.conversation_id,
        recipient_domain=request.sender_domain or "",
        congestion_point=request.congestion_point,
        congestion_point_id=point_id,
        period=period.isoformat(),
        expires_at=expires_at,
        options=[
            {
                "reference": plan.reference,
                "price": str(plan.price_eur),
                "isps": {str(i.isp): -i.reduction_w for i in plan.isps},
            }
            for plan in plans
        ],
        baseline_w=baseline,
        created_at=now,
    )
    return offer, row


def check_congestion_point(address: str) -> None:
    """Reject an ``ean.`` address whose EAN18 has a wrong GS1 check digit."""
    if address.startswith("ean.") and not is_ean18(address.removeprefix("ean.")):
        raise MessageRejectedError(
            f"{INVALID_CONGESTION_POINT}: {address} is not an EAN18 "
            "with a valid check digit"
        )


def _expand_request(
    message: FlexRequest, period: date, zone: ZoneInfo
) -> dict[int, Any]:
    """ISP number -> the FlexRequestISP that covers it; rejects overlaps and strays."""
    requested: dict[int, Any] = {}
    count = isps.isp_count(period, zone)
    for item in message.isps:
        if item.duration < 1:
            raise MessageRejectedError(ISP_CONFLICT)
        for number in range(item.start, item.start + item.duration):
            if not 1 <= number <= count:
                raise MessageRejectedError(ISPS_OUT_OF_BOUNDS)
            if number in requested:
                raise MessageRejectedError(ISP_CONFLICT)
            requested[number] = item
    return requested
