"""The aggregator's UFTP role (AGR): answer DSO messages, offer flexibility, dispatch orders.

One handler per message type. Every handler validates first and raises
:class:`MessageRejectedError` before it touches the database, so a refused message
changes nothing; an accepted one is stored together with the responses it
causes (the outbox) in one transaction, then the responses are sent.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
import logging
from pathlib import Path
import re
from typing import TYPE_CHECKING, Any
import uuid

from shapeshifter_uftp import (
    AcceptedRejected,
    DPrognosis,
    DPrognosisISP,
    DPrognosisResponse,
    FlexOffer,
    FlexOfferOption,
    FlexOfferOptionISP,
    FlexOfferResponse,
    FlexOfferRevocationResponse,
    FlexOrder,
    FlexOrderResponse,
    FlexRequest,
    FlexRequestResponse,
    FlexSettlement,
    FlexSettlementResponse,
    MeteringResponse,
    PayloadMessage,
    PayloadMessageResponse,
    TestMessage,
    TestMessageResponse,
)
from shapeshifter_uftp.uftp import (
    AcceptedDisputed,
    AvailableRequested,
    FlexOrderSettlementStatus,
    origin_map,
    request_response_map,
)
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from xsdata.models.datatype import XmlDate, XmlDuration

from dacs.aggregator.domain.delivery import DeliveredFlexSource
from dacs.aggregator.domain.envelope import (
    CapacityEnvelope,
    CapacityInterval,
    EnvelopeKind,
)
from dacs.aggregator.settlement.remuneration import cost_eur_per_kwh
from dacs.aggregator.storage.tables import (
    CongestionPointRow,
    EventRow,
    UftpFlexOfferRow,
    UftpFlexOrderRow,
    UftpFlexRequestRow,
    UftpInboundRow,
    UftpOutboxRow,
)
from dacs.protocol import Telemetry

from . import isp as isps
from .config import UftpConfig
from .envelope import OpenedMessage, open_envelope, to_xml
from .errors import MessageRejectedError, TransportRefusedError, UftpError
from .forecast import LoadForecast, OtherLoadForecast, PersistenceForecast
from .keys import load_signing_secret
from .offers import HomeFlex, IspNeed, OptionPlan, plan_options
from .outbox import Outbox, Outgoing
from .participants import Participants

if TYPE_CHECKING:
    from dacs.aggregator.service import AggregatorService

_LOGGER = logging.getLogger(__name__)
_DSO = "DSO"
_CURRENCY = "EUR"
_DEFAULT_MAX_CURTAILMENT_MINUTES = 120
_EAN18 = re.compile(r"ean\.(\d{18})$")

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


@dataclass(frozen=True, kw_only=True)
class Received:
    """What the endpoint answers: an HTTP status and a short reason."""

    status: int
    reason: str = ""


type Handler = Callable[[OpenedMessage], Awaitable[None]]


class UftpAgent:
    """The AGR side of UFTP for one aggregator."""

    def __init__(
        self,
        config: UftpConfig,
        service: AggregatorService,
        *,
        secret: str,
        participants: Participants,
        delivered: DeliveredFlexSource | None = None,
        forecast: LoadForecast | None = None,
    ) -> None:
        """Wire the agent to the aggregator; start() begins sending."""
        self.config = config
        self.service = service
        self.participants = participants
        self._delivered = delivered
        self._forecast = forecast or PersistenceForecast(
            service.fleet, service.controls
        )
        self.outbox = Outbox(
            config,
            secret=secret,
            participants=participants,
            sessions=service.sessions,
            now=service.clock.now,
        )
        self._handlers: dict[type[PayloadMessage], Handler] = {
            FlexRequest: self._on_flex_request,
            FlexOrder: self._on_flex_order,
            FlexSettlement: self._on_flex_settlement,
            TestMessage: self._on_test_message,
        }
        for response in (
            FlexOfferResponse,
            DPrognosisResponse,
            FlexOfferRevocationResponse,
            MeteringResponse,
            TestMessageResponse,
        ):
            self._handlers[response] = self._on_response

    @classmethod
    def from_config(
        cls,
        config: UftpConfig,
        service: AggregatorService,
        *,
        delivered: DeliveredFlexSource | None = None,
        other_load_forecast: OtherLoadForecast | None = None,
    ) -> UftpAgent:
        """Load the signing key and the participants file named in ``config``."""
        if not config.signing_key_file or not config.participants_file:
            raise UftpError("UFTP needs signing_key_file and participants_file")
        return cls(
            config,
            service,
            secret=load_signing_secret(Path(config.signing_key_file)),
            participants=Participants.load(Path(config.participants_file)),
            delivered=delivered,
            forecast=PersistenceForecast(
                service.fleet, service.controls, other_load_forecast
            ),
        )

    # -- lifecycle -------------------------------------------------------------

    async def start(self) -> None:
        """Put accepted orders back in force and resend undelivered messages."""
        await self._restore_events()
        await self.outbox.start()

    async def stop(self) -> None:
        """Stop sending; undelivered messages stay in the outbox."""
        await self.outbox.stop()

    # -- inbound ---------------------------------------------------------------

    async def receive(self, body: bytes) -> Received:
        """Handle one POSTed SignedMessage; never raises."""
        try:
            opened = open_envelope(body, self.participants)
        except TransportRefusedError as err:
            _LOGGER.warning("UFTP: refused a message: %s", err)
            return Received(status=err.status, reason=err.reason)
        message = opened.message
        try:
            self._check_routing(opened)
            await self._handler_for(message)(opened)
        except MessageRejectedError as rejection:
            _LOGGER.warning(
                "UFTP: rejected %s %s from %s: %s",
                type(message).__name__,
                message.message_id,
                opened.sender_domain,
                rejection.reason,
            )
            self._reject(opened, rejection.reason)
        except Exception:
            # Unexpected: answer 500 so the sender retries; nothing was committed.
            _LOGGER.exception(
                "UFTP: failed to handle %s %s",
                type(message).__name__,
                message.message_id,
            )
            return Received(status=500, reason="internal error")
        return Received(status=200)

    def _handler_for(self, message: PayloadMessage) -> Handler:
        handler = self._handlers.get(type(message))
        if handler is None:
            raise MessageRejectedError(f"Invalid Message: '{type(message).__name__}'")
        return handler

    def _check_routing(self, opened: OpenedMessage) -> None:
        message = opened.message
        if message.sender_domain != opened.sender_domain:
            raise MessageRejectedError(INVALID_SENDER)
        expected_role = origin_map.get(type(message))
        if type(message) not in (TestMessage, TestMessageResponse) and (
            expected_role != _DSO or opened.sender_role != _DSO
        ):
            raise MessageRejectedError(INVALID_SENDER)
        if (message.recipient_domain or "").lower() != self.config.domain.lower():
            raise MessageRejectedError(UNKNOWN_RECIPIENT)

    def _check_flex_header(self, message: Any) -> None:
        if str(message.isp_duration) != self.config.isp_duration:
            raise MessageRejectedError(ISP_DURATION_REJECTED)
        if message.time_zone != self.config.time_zone:
            raise MessageRejectedError(TIME_ZONE_REJECTED)

    async def _already_handled(self, opened: OpenedMessage) -> bool:
        """True for a repeat of an accepted message (its response is sent again)."""
        message = opened.message
        async with self.service.sessions() as session:
            row = await session.get(
                UftpInboundRow, (opened.sender_domain, message.message_id)
            )
        if row is None:
            return False
        if row.digest != opened.digest:
            raise MessageRejectedError(DUPLICATE_IDENTIFIER)
        _LOGGER.info(
            "UFTP: %s %s seen before; answering as then",
            row.message_type,
            message.message_id,
        )
        if row.response_message_id is not None:
            await self.outbox.resend(row.response_message_id)
        return True

    def _inbound_row(
        self, opened: OpenedMessage, response_message_id: str | None
    ) -> UftpInboundRow:
        return UftpInboundRow(
            sender_domain=opened.sender_domain,
            message_id=opened.message.message_id,
            message_type=type(opened.message).__name__,
            digest=opened.digest,
            received_at=self.service.clock.now(),
            response_message_id=response_message_id,
        )

    async def _commit(self, session: AsyncSession, opened: OpenedMessage) -> bool:
        """Commit; False when the same message was stored meanwhile (a racing repeat)."""
        try:
            await session.commit()
        except IntegrityError:
            await session.rollback()
            await self._already_handled(opened)
            return False
        return True

    # -- FlexRequest -> FlexRequestResponse + FlexOffer -------------------------

    async def _on_flex_request(self, opened: OpenedMessage) -> None:
        message = _expect(opened.message, FlexRequest)
        if await self._already_handled(opened):
            return
        self._check_flex_header(message)
        point_id = await self._congestion_point_id(message.congestion_point)
        now = self.service.clock.now()
        expires_at = _parse_time(message.expiration_date_time)
        if expires_at <= now:
            raise MessageRejectedError(EXPIRATION_OUT_OF_BOUNDS)
        period = message.period.to_date()
        zone = self.config.zone
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
            self._home_flex(point_id, now),
            margin_eur_per_kwh=self.config.margin_eur_per_kwh,
            fractions=self.config.fractions,
        )
        response = self._stamp(
            FlexRequestResponse(
                flex_request_message_id=message.message_id,
                result=AcceptedRejected.ACCEPTED,
            ),
            recipient=opened.sender_domain,
            conversation_id=message.conversation_id,
        )
        outgoing = [self._outgoing(response, opened.sender_domain)]
        offer_row: UftpFlexOfferRow | None = None
        if plans:
            offer, offer_row = self._offer(message, point_id, plans, now)
            outgoing.append(self._outgoing(offer, opened.sender_domain))
        else:
            _LOGGER.info(
                "UFTP: no flexibility to offer on %s for FlexRequest %s",
                point_id,
                message.message_id,
            )
        async with self.service.sessions() as session:
            session.add(self._inbound_row(opened, response.message_id))
            session.add(
                UftpFlexRequestRow(
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
                )
            )
            if offer_row is not None:
                session.add(offer_row)
            for item in outgoing:
                Outbox.store(session, item, reference=None, now=now)
            if not await self._commit(session, opened):
                return
        self.outbox.deliver_stored([o.message_id for o in outgoing])

    def _offer(
        self,
        request: FlexRequest,
        point_id: str,
        plans: Sequence[OptionPlan],
        now: datetime,
    ) -> tuple[FlexOffer, UftpFlexOfferRow]:
        period = request.period.to_date()
        zone = self.config.zone
        expires_at = now + timedelta(minutes=self.config.offer_validity_minutes)
        offered = sorted({i.isp for plan in plans for i in plan.isps})
        baseline = {
            str(number): round(
                self._forecast(point_id, isps.isp_start(period, number, zone), now)
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
        offer = self._stamp(
            FlexOffer(
                isp_duration=XmlDuration(self.config.isp_duration),
                time_zone=self.config.time_zone,
                period=request.period,
                congestion_point=request.congestion_point,
                expiration_date_time=_format_time(expires_at),
                flex_request_message_id=request.message_id,
                currency=_CURRENCY,
                offer_options=options,
            ),
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

    def _home_flex(self, point_id: str, now: datetime) -> list[HomeFlex]:
        """Available homes: baseline minus floor, their ask, how many ISPs they may cover."""
        fleet = self.service.fleet
        views = fleet.of(point_id)
        model = fleet.flex_model(views, now)
        homes = []
        for index, view in enumerate(views):
            if not model.available[index]:
                continue
            minutes = (
                view.preferences.max_curtailment_minutes
                if view.preferences is not None
                else _DEFAULT_MAX_CURTAILMENT_MINUTES
            )
            homes.append(
                HomeFlex(
                    home_id=view.home_id,
                    reducible_w=max(
                        0.0, float(model.baseline_w[index] - model.floor_w[index])
                    ),
                    # Offer at what the home costs us: its price plus the gas.
                    ask_eur_per_kwh=cost_eur_per_kwh(
                        float(model.ask_eur_per_kwh[index]),
                        _cop(view.telemetry),
                        self.service.config.settlement,
                    ),
                    max_isps=max(0, int(minutes)) // 15,
                )
            )
        return homes

    async def _congestion_point_id(self, address: str) -> str:
        mapped = self.config.congestion_point_map.get(address)
        if mapped is None:
            match = _EAN18.fullmatch(address)
            if match is not None:
                async with self.service.sessions() as session:
                    mapped = await session.scalar(
                        select(CongestionPointRow.id).where(
                            CongestionPointRow.ean == match.group(1)
                        )
                    )
        if mapped is None or mapped not in self.service.controls:
            raise MessageRejectedError(INVALID_CONGESTION_POINT)
        return mapped

    # -- FlexOrder -> FlexOrderResponse, a cap event, a D-Prognosis -------------

    async def _on_flex_order(self, opened: OpenedMessage) -> None:
        message = _expect(opened.message, FlexOrder)
        if await self._already_handled(opened):
            return
        self._check_flex_header(message)
        now = self.service.clock.now()
        async with self.service.sessions() as session:
            offer = (
                await session.get(UftpFlexOfferRow, message.flex_offer_message_id)
                if message.flex_offer_message_id
                else None
            )
        if offer is None or offer.recipient_domain != opened.sender_domain:
            raise MessageRejectedError(UNKNOWN_REFERENCE)
        if offer.order_message_id is not None:
            raise MessageRejectedError(
                f"{UNKNOWN_REFERENCE}: the FlexOffer was ordered already"
            )
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
        if _decimal(message.price) != _decimal(option["price"]) or (
            message.currency != _CURRENCY
        ):
            raise MessageRejectedError(
                "Invalid Message: Price does not match the FlexOffer"
            )
        event = _order_event(
            message.message_id, offer, ordered, self.config, dso=opened.sender_domain
        )
        response = self._stamp(
            FlexOrderResponse(
                flex_order_message_id=message.message_id,
                result=AcceptedRejected.ACCEPTED,
            ),
            recipient=opened.sender_domain,
            conversation_id=message.conversation_id,
        )
        async with self.service.sessions() as session:
            session.add(self._inbound_row(opened, response.message_id))
            session.add(
                UftpFlexOrderRow(
                    message_id=message.message_id,
                    flex_offer_message_id=offer.message_id,
                    conversation_id=message.conversation_id,
                    sender_domain=opened.sender_domain,
                    order_reference=message.order_reference,
                    option_reference=message.option_reference or "",
                    congestion_point_id=offer.congestion_point_id,
                    period=offer.period,
                    isps={str(k): v for k, v in ordered.items()},
                    price=str(_decimal(message.price)),
                    currency=message.currency,
                    event_id=event.envelope_id,
                    received_at=now,
                )
            )
            stored_offer = await session.get(UftpFlexOfferRow, offer.message_id)
            if stored_offer is None or stored_offer.order_message_id is not None:
                raise MessageRejectedError(
                    f"{UNKNOWN_REFERENCE}: the FlexOffer was ordered already"
                )
            stored_offer.order_message_id = message.message_id
            Outbox.store(
                session,
                self._outgoing(response, opened.sender_domain),
                reference=None,
                now=now,
            )
            await session.flush()
            prognosis = await self._prognosis(
                session,
                point_id=offer.congestion_point_id,
                address=offer.congestion_point,
                period=date.fromisoformat(offer.period),
                recipient=opened.sender_domain,
                now=now,
            )
            Outbox.store(
                session,
                self._outgoing(prognosis, opened.sender_domain),
                reference=_prognosis_reference(offer.congestion_point_id, offer.period),
                now=now,
            )
            if not await self._commit(session, opened):
                return
        await self._put_in_force(offer.congestion_point_id, event, opened.sender_domain)
        self.outbox.deliver_stored([response.message_id, prognosis.message_id])

    async def _put_in_force(
        self, point_id: str, event: CapacityEnvelope, dso: str
    ) -> None:
        try:
            await self.service.put_in_force(point_id, event)
        except Exception:
            # The order is stored; start() puts it in force again.
            _LOGGER.exception("UFTP: could not put %s in force", event.envelope_id)
        else:
            _LOGGER.info(
                "UFTP: order %s in force on %s (%d ISPs)",
                event.envelope_id,
                point_id,
                len(event.intervals),
            )

    async def _restore_events(self) -> None:
        """Orders whose cap event is missing (a crash between the two) get it back."""
        async with self.service.sessions() as session:
            rows = (
                await session.execute(
                    select(UftpFlexOrderRow, UftpFlexOfferRow)
                    .join(
                        UftpFlexOfferRow,
                        UftpFlexOfferRow.message_id
                        == UftpFlexOrderRow.flex_offer_message_id,
                    )
                    .where(
                        UftpFlexOrderRow.event_id.not_in(select(EventRow.id)),
                    )
                )
            ).all()
        for order, offer in rows:
            ordered = {int(k): int(v) for k, v in order.isps.items()}
            event = _order_event(
                order.message_id, offer, ordered, self.config, dso=order.sender_domain
            )
            if event.end <= self.service.clock.now():
                continue
            await self._put_in_force(
                order.congestion_point_id, event, order.sender_domain
            )

    # -- D-Prognosis -----------------------------------------------------------

    async def send_d_prognosis(
        self, congestion_point_id: str, period: date, recipient_domain: str
    ) -> str:
        """Send the congestion point's load forecast per ISP of ``period``; returns its MessageID."""
        address = await self._address_of(congestion_point_id)
        self.participants.find(recipient_domain, _DSO)
        now = self.service.clock.now()
        async with self.service.sessions() as session:
            prognosis = await self._prognosis(
                session,
                point_id=congestion_point_id,
                address=address,
                period=period,
                recipient=recipient_domain,
                now=now,
            )
            Outbox.store(
                session,
                self._outgoing(prognosis, recipient_domain),
                reference=_prognosis_reference(congestion_point_id, period.isoformat()),
                now=now,
            )
            await session.commit()
        self.outbox.deliver_stored([prognosis.message_id])
        return str(prognosis.message_id)

    async def _prognosis(
        self,
        session: AsyncSession,
        *,
        point_id: str,
        address: str,
        period: date,
        recipient: str,
        now: datetime,
    ) -> DPrognosis:
        """Forecast load per ISP minus the flexibility ordered for it."""
        zone = self.config.zone
        ordered: dict[int, int] = {}
        for row in (
            await session.execute(
                select(UftpFlexOrderRow.isps).where(
                    UftpFlexOrderRow.congestion_point_id == point_id,
                    UftpFlexOrderRow.period == period.isoformat(),
                )
            )
        ).scalars():
            for key, power in row.items():
                ordered[int(key)] = ordered.get(int(key), 0) + int(power)
        revision = (
            await session.scalar(
                select(func.count())
                .select_from(UftpOutboxRow)
                .where(
                    UftpOutboxRow.reference
                    == _prognosis_reference(point_id, period.isoformat())
                )
            )
            or 0
        ) + 1
        points = [
            DPrognosisISP(
                start=number,
                duration=1,
                power=max(
                    0,
                    round(
                        self._forecast(
                            point_id, isps.isp_start(period, number, zone), now
                        )
                    )
                    + ordered.get(number, 0),
                ),
            )
            for number in range(1, isps.isp_count(period, zone) + 1)
        ]
        return self._stamp(
            DPrognosis(
                isp_duration=XmlDuration(self.config.isp_duration),
                time_zone=self.config.time_zone,
                period=XmlDate.from_date(period),
                congestion_point=address,
                revision=revision,
                isps=points,
            ),
            recipient=recipient,
            conversation_id=None,
        )

    async def _address_of(self, point_id: str) -> str:
        for address, mapped in self.config.congestion_point_map.items():
            if mapped == point_id:
                return address
        async with self.service.sessions() as session:
            ean = await session.scalar(
                select(CongestionPointRow.ean).where(CongestionPointRow.id == point_id)
            )
        if not ean:
            raise UftpError(
                f"congestion point {point_id!r} has no EAN and no UFTP address mapping"
            )
        return f"ean.{ean}"

    # -- FlexSettlement -> FlexSettlementResponse ------------------------------

    async def _on_flex_settlement(self, opened: OpenedMessage) -> None:
        message = _expect(opened.message, FlexSettlement)
        if await self._already_handled(opened):
            return
        now = self.service.clock.now()
        statuses: list[FlexOrderSettlementStatus] = []
        settled: list[tuple[str, dict[str, Any]]] = []
        async with self.service.sessions() as session:
            for item in message.flex_order_settlements:
                order = await session.scalar(
                    select(UftpFlexOrderRow).where(
                        UftpFlexOrderRow.order_reference == item.order_reference,
                        UftpFlexOrderRow.sender_domain == opened.sender_domain,
                    )
                )
                if order is None:
                    statuses.append(
                        FlexOrderSettlementStatus(
                            order_reference=item.order_reference,
                            disposition=AcceptedDisputed.DISPUTED,
                            dispute_reason="Unknown order reference",
                        )
                    )
                    continue
                dispute, ours = await self._check_delivery(order, item)
                statuses.append(
                    FlexOrderSettlementStatus(
                        order_reference=item.order_reference,
                        disposition=AcceptedDisputed.DISPUTED
                        if dispute
                        else AcceptedDisputed.ACCEPTED,
                        dispute_reason=dispute,
                    )
                )
                settled.append(
                    (
                        order.message_id,
                        {
                            "settlement_message_id": message.message_id,
                            "disposition": "Disputed" if dispute else "Accepted",
                            "dispute_reason": dispute,
                            "delivered_w": ours,
                            "price": str(item.price),
                            "net_settlement": str(item.net_settlement),
                        },
                    )
                )
        response = self._stamp(
            FlexSettlementResponse(
                flex_settlement_message_id=message.message_id,
                result=AcceptedRejected.ACCEPTED,
                flex_order_settlement_statuses=statuses,
            ),
            recipient=opened.sender_domain,
            conversation_id=message.conversation_id,
        )
        async with self.service.sessions() as session:
            session.add(self._inbound_row(opened, response.message_id))
            for order_id, settlement in settled:
                stored = await session.get(UftpFlexOrderRow, order_id)
                if stored is not None:
                    stored.settlement = settlement
                    stored.settled_at = now
            Outbox.store(
                session,
                self._outgoing(response, opened.sender_domain),
                reference=None,
                now=now,
            )
            if not await self._commit(session, opened):
                return
        self.outbox.deliver_stored([response.message_id])

    async def _check_delivery(
        self, order: UftpFlexOrderRow, item: Any
    ) -> tuple[str | None, dict[str, int]]:
        """Compare the DSO's delivered flex per ISP with ours; a dispute reason or None."""
        zone = self.config.zone
        period = date.fromisoformat(order.period)
        theirs = isps.expand(
            (i.start, i.duration, abs(i.delivered_flex_power)) for i in item.isps
        )
        ours: dict[str, int] = {}
        problems: list[str] = []
        for number, delivered_w in sorted(theirs.items()):
            try:
                start = isps.isp_start(period, number, zone)
            except ValueError:
                problems.append(f"ISP {number} does not exist")
                continue
            measured = await self._delivered_w(
                order.congestion_point_id, start, start + isps.ISP_DURATION
            )
            if measured is None:
                problems.append(f"no delivery data for ISP {number}")
                continue
            ours[str(number)] = round(measured)
            ordered_w = abs(int(order.isps.get(str(number), 0)))
            tolerance = max(
                self.config.settlement_tolerance_w,
                self.config.settlement_tolerance_fraction * ordered_w,
            )
            if abs(measured - delivered_w) > tolerance:
                problems.append(
                    f"ISP {number}: we measured {measured:.0f} W, not {delivered_w} W"
                )
        return ("; ".join(problems)[:500] or None), ours

    async def _delivered_w(
        self, point_id: str, start: datetime, end: datetime
    ) -> float | None:
        if self._delivered is None:
            return None
        intervals = [
            i
            for i in await self._delivered(point_id, start, end)
            if i.start < end and i.end > start
        ]
        if not intervals:
            return None
        seconds = sum((i.end - i.start).total_seconds() for i in intervals)
        return (
            sum(i.delivered_kw * (i.end - i.start).total_seconds() for i in intervals)
            / seconds
            * 1000
        )

    # -- other messages --------------------------------------------------------

    async def _on_test_message(self, opened: OpenedMessage) -> None:
        response = self._stamp(
            TestMessageResponse(),
            recipient=opened.sender_domain,
            conversation_id=opened.message.conversation_id,
        )
        self.outbox.deliver_transient(
            self._outgoing(response, opened.sender_domain, role=opened.sender_role)
        )

    async def _on_response(self, opened: OpenedMessage) -> None:
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
            _LOGGER.info(
                "UFTP: %s from %s", type(message).__name__, opened.sender_domain
            )

    def _reject(self, opened: OpenedMessage, reason: str) -> None:
        """Send the protocol's rejection for a verified message (not stored)."""
        message = opened.message
        response_type = request_response_map.get(type(message))
        if response_type is None or response_type is TestMessageResponse:
            return  # responses are never answered
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
        response = self._stamp(
            response_type(**fields),
            recipient=opened.sender_domain,
            conversation_id=message.conversation_id,
        )
        self.outbox.deliver_transient(
            self._outgoing(response, opened.sender_domain, role=opened.sender_role)
        )

    # -- helpers ---------------------------------------------------------------

    def _stamp[M: PayloadMessage](
        self, message: M, *, recipient: str, conversation_id: str | None
    ) -> M:
        """Fill the header every UFTP message carries."""
        message.version = self.config.version
        message.sender_domain = self.config.domain
        message.recipient_domain = recipient
        message.time_stamp = _format_time(self.service.clock.now())
        message.message_id = str(uuid.uuid4())
        message.conversation_id = conversation_id or str(uuid.uuid4())
        return message

    @staticmethod
    def _outgoing(
        message: PayloadMessage, recipient: str, *, role: str = _DSO
    ) -> Outgoing:
        return Outgoing(
            message_id=message.message_id or "",
            message_type=type(message).__name__,
            recipient_domain=recipient,
            recipient_role=role,
            payload=to_xml(message),
        )


def _order_event(
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


def _expand_request(message: FlexRequest, period: date, zone: Any) -> dict[int, Any]:
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


def _expect[M: PayloadMessage](message: PayloadMessage, kind: type[M]) -> M:
    if not isinstance(message, kind):
        raise TypeError(f"expected {kind.__name__}, got {type(message).__name__}")
    return message


def _reference_field(message_type: type[PayloadMessage]) -> str:
    """The response's field that names the request (FlexOrder -> flex_order_message_id)."""
    name = re.sub(r"(.)([A-Z][a-z])", r"\1_\2", message_type.__name__).lower()
    return f"{name}_message_id"


def _prognosis_reference(point_id: str, period: str) -> str:
    return f"d-prognosis/{point_id}/{period}"


def _parse_time(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except (TypeError, ValueError) as err:
        raise MessageRejectedError(f"Invalid Message: bad time {text!r}") from err
    if moment.tzinfo is None:
        raise MessageRejectedError(f"Invalid Message: time {text!r} has no offset")
    return moment


def _format_time(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


def _decimal(value: object) -> Decimal:
    try:
        return Decimal(str(value)).quantize(Decimal("0.0001"))
    except InvalidOperation as err:
        raise MessageRejectedError(f"Invalid Message: bad amount {value!r}") from err


def _cop(telemetry: Telemetry | None) -> float | None:
    """The heat pump's present COP, when its telemetry has heat and power."""
    if telemetry is None:
        return None
    heat, power = telemetry.thermal_power_w, telemetry.electric_power_w
    if heat is None or power is None or power < 100:
        return None
    return heat / power
