"""A tiny GOPACS-style DSO on UFTP, built with shapeshifter-uftp's DSO service and client.

It sends FlexRequests, FlexOrders and FlexSettlements to an aggregator,
records every message it receives (the library verifies each signature with
the aggregator's public key first) and answers each FlexOffer and
D-Prognosis, refusing an offer that stays valid after its last ISP. The library is synchronous: its service
runs uvicorn in a thread, its client blocks on ``requests``; the async methods
here run the client in a worker thread so an event loop (which may serve the
aggregator itself) never blocks.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
import threading
from typing import Any, Self
import uuid
from zoneinfo import ZoneInfo

from shapeshifter_uftp import (
    AcceptedRejected,
    DPrognosisResponse,
    FlexOffer,
    FlexOfferResponse,
    FlexOrder,
    FlexOrderISP,
    FlexRequest,
    FlexRequestISP,
    FlexSettlement,
    PayloadMessage,
    ShapeshifterDsoAgrClient,
    ShapeshifterDsoService,
)
from shapeshifter_uftp.uftp import (
    AvailableRequested,
    ContractSettlement,
    ContractSettlementISP,
    ContractSettlementPeriod,
    FlexOrderSettlement,
    FlexOrderSettlementISP,
)
from xsdata.models.datatype import XmlDate, XmlDuration

from dacs.logs import tame_library_logger
from dacs.testbed.servers.ports import LOOPBACK, find_free_port

tame_library_logger("shapeshifter-uftp")

UFTP_PATH = "/shapeshifter/api/v3/message"
_TIME_ZONE = "Europe/Amsterdam"
_ISP = timedelta(minutes=15)


def offer_problem(offer: FlexOffer) -> str | None:
    """Why a DSO refuses a FlexOffer (None: it is acceptable).

    UFTP §3.5: a FlexOffer must not stay valid after the last ISP it offers.
    Counted in elapsed time from local midnight, as ISPs are.
    """
    zone = ZoneInfo(offer.time_zone)
    midnight = datetime.combine(offer.period.to_date(), time(0), zone)
    last = max(
        (i.start + i.duration - 1 for o in offer.offer_options for i in o.isps),
        default=0,
    )
    end = midnight.astimezone(UTC) + last * _ISP
    expires = datetime.fromisoformat(offer.expiration_date_time)
    if expires > end:
        return (
            f"Expiration DateTime Out Of Bounds: {offer.expiration_date_time} is "
            f"after the end of ISP {last} ({end.isoformat()})"
        )
    return None


@dataclass(frozen=True, kw_only=True)
class RequestedIsp:
    """One ISP of a FlexRequest: the reduction the DSO needs (W, >= 0)."""

    isp: int
    reduction_w: int
    disposition: AvailableRequested = AvailableRequested.REQUESTED


class _RecordingDsoService(ShapeshifterDsoService):  # type: ignore[misc]  # the library ships no type information
    """The library's DSO service; every message that arrives is recorded.

    A FlexOffer and a D-Prognosis are answered (UFTP §4.2.21, §4.2.17: the
    receiver must reply) with what ``answer`` decides.
    """

    def __init__(
        self,
        record: Callable[[PayloadMessage], None],
        answer: Callable[[PayloadMessage], None],
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self._record = record
        self._answer = answer

    def process_d_prognosis(self, message: Any) -> None:
        self._record(message)
        self._answer(message)

    def process_flex_offer(self, message: Any) -> None:
        self._record(message)
        self._answer(message)

    def process_flex_request_response(self, message: Any) -> None:
        self._record(message)

    def process_flex_order_response(self, message: Any) -> None:
        self._record(message)

    def process_flex_offer_revocation(self, message: Any) -> None:
        self._record(message)

    def process_flex_reservation_update_response(self, message: Any) -> None:
        self._record(message)

    def process_flex_settlement_response(self, message: Any) -> None:
        self._record(message)

    def process_dso_portfolio_query_response(self, message: Any) -> None:
        self._record(message)

    def process_dso_portfolio_update_response(self, message: Any) -> None:
        self._record(message)

    def process_metering(self, message: Any) -> None:
        self._record(message)

    def process_test_message_response(self, message: Any) -> None:
        self._record(message)


class GopacsDso:
    """A DSO that asks one aggregator for flexibility over UFTP."""

    def __init__(
        self,
        *,
        domain: str,
        signing_secret: str,
        agr_domain: str,
        agr_public_key: str,
        agr_endpoint: str,
        port: int | None = None,
    ) -> None:
        """Prepare the service on 127.0.0.1 (a free port unless given) and the client."""
        self.domain = domain
        self.agr_domain = agr_domain
        self.port = port or find_free_port()
        self.endpoint = f"http://{LOOPBACK}:{self.port}{UFTP_PATH}"
        self._lock = threading.Lock()
        self._received: list[PayloadMessage] = []
        self.responses_sent: list[PayloadMessage] = []  # our answers to the AGR
        self._service = _RecordingDsoService(
            self._record,
            self._answer,
            sender_domain=domain,
            signing_key=signing_secret,
            key_lookup_function=lambda d, r: (
                agr_public_key if (d, str(r)) == (agr_domain, "AGR") else None
            ),
            endpoint_lookup_function=lambda d, r: (
                agr_endpoint if (d, str(r)) == (agr_domain, "AGR") else None
            ),
            host=LOOPBACK,
            port=self.port,
        )
        self.client = ShapeshifterDsoAgrClient(
            sender_domain=domain,
            signing_key=signing_secret,
            recipient_domain=agr_domain,
            recipient_endpoint=agr_endpoint,
            recipient_signing_key=agr_public_key,
        )

    # -- lifecycle -------------------------------------------------------------

    async def start(self) -> None:
        """Serve the DSO endpoint (uvicorn in a thread)."""
        await asyncio.to_thread(self._service.run_in_thread)
        # uvicorn installed its own handlers just now; the application's apply.
        for name in ("uvicorn", "uvicorn.access", "uvicorn.error"):
            tame_library_logger(name)

    async def stop(self) -> None:
        """Stop uvicorn and the library's worker threads."""
        await asyncio.to_thread(self._stop)

    def _stop(self) -> None:
        self._service.stop()
        self._service.inbound_executor.shutdown(wait=True)
        self._service.outbound_executor.shutdown(wait=True)

    async def __aenter__(self) -> Self:
        """Start."""
        await self.start()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        """Stop."""
        await self.stop()

    # -- what arrived ----------------------------------------------------------

    def _record(self, message: PayloadMessage) -> None:
        with self._lock:
            self._received.append(message)

    def _answer(self, message: PayloadMessage) -> None:
        """Reply to a FlexOffer or D-Prognosis, checking it as a real DSO would."""
        if isinstance(message, FlexOffer):
            reason = offer_problem(message)
            response: PayloadMessage = FlexOfferResponse(
                flex_offer_message_id=message.message_id,
                result=AcceptedRejected.REJECTED
                if reason
                else AcceptedRejected.ACCEPTED,
                rejection_reason=reason,
                conversation_id=message.conversation_id,
            )
            self.client.send_flex_offer_response(response)
        else:
            response = DPrognosisResponse(
                d_prognosis_message_id=message.message_id,
                result=AcceptedRejected.ACCEPTED,
                conversation_id=message.conversation_id,
            )
            self.client.send_d_prognosis_response(response)
        with self._lock:
            self.responses_sent.append(response)

    @property
    def received(self) -> list[PayloadMessage]:
        """Every verified message received so far, in order."""
        with self._lock:
            return list(self._received)

    def of_type[M: PayloadMessage](self, kind: type[M]) -> list[M]:
        """The received messages of one type."""
        return [m for m in self.received if isinstance(m, kind)]

    async def wait_for[M: PayloadMessage](
        self,
        kind: type[M],
        predicate: Callable[[M], bool] = lambda _m: True,
        *,
        timeout_s: float = 10.0,
    ) -> M:
        """The first received message of ``kind`` that satisfies ``predicate``."""
        async with asyncio.timeout(timeout_s):
            while True:
                for message in self.of_type(kind):
                    if predicate(message):
                        return message
                await asyncio.sleep(0.02)

    # -- what it sends ---------------------------------------------------------

    def flex_request(
        self,
        *,
        congestion_point: str,
        period: date,
        isps: Sequence[RequestedIsp],
        expires_at: datetime,
        now: datetime,
        revision: int = 1,
    ) -> FlexRequest:
        """A FlexRequest: each requested ISP asks for at least ``reduction_w`` less load.

        ``now`` is its TimeStamp: on the same clock as ``expires_at``, so the
        request never expires before it was sent (the library would stamp the
        wall clock).
        """
        return FlexRequest(
            time_stamp=now.isoformat(timespec="seconds"),
            isp_duration=XmlDuration("PT15M"),
            time_zone=_TIME_ZONE,
            period=XmlDate.from_date(period),
            congestion_point=congestion_point,
            revision=revision,
            expiration_date_time=expires_at.isoformat(timespec="seconds"),
            isps=[
                FlexRequestISP(
                    disposition=i.disposition,
                    start=i.isp,
                    duration=1,
                    # Negative power: less consumption. Up to twice the need is welcome.
                    max_power=-i.reduction_w,
                    min_power=-2 * i.reduction_w,
                )
                for i in isps
            ],
            message_id=str(uuid.uuid4()),
            conversation_id=str(uuid.uuid4()),
        )

    @staticmethod
    def order_for(offer: FlexOffer, option_reference: str | None = None) -> FlexOrder:
        """A FlexOrder for one option of an offer, its ISP list copied unchanged."""
        option = next(
            o
            for o in offer.offer_options
            if option_reference is None or o.option_reference == option_reference
        )
        return FlexOrder(
            isp_duration=offer.isp_duration,
            time_zone=offer.time_zone,
            period=offer.period,
            congestion_point=offer.congestion_point,
            flex_offer_message_id=offer.message_id,
            option_reference=option.option_reference,
            price=option.price,
            currency=offer.currency,
            order_reference=f"order-{uuid.uuid4().hex[:12]}",
            isps=[
                FlexOrderISP(start=i.start, duration=i.duration, power=i.power)
                for i in option.isps
            ],
            conversation_id=offer.conversation_id,
            message_id=str(uuid.uuid4()),
        )

    @staticmethod
    def settlement_for(
        orders: Sequence[tuple[FlexOrder, dict[int, int]]],
        *,
        period_start: date,
        period_end: date,
        baseline_w: Mapping[int, int] | None = None,
    ) -> FlexSettlement:
        """A FlexSettlement of orders with the flex the DSO saw delivered per ISP (W, >= 0).

        ``baseline_w`` is the load the DSO expected per ISP without the order;
        the actual load it reports is that baseline less what was delivered.
        """
        baseline_w = baseline_w or {}
        settlements = []
        for order, delivered in orders:
            isps = []
            for item in order.isps:
                for number in range(item.start, item.start + item.duration):
                    got = delivered.get(number, 0)
                    baseline = baseline_w.get(number, 0)
                    isps.append(
                        FlexOrderSettlementISP(
                            start=number,
                            baseline_power=baseline,
                            ordered_flex_power=item.power,
                            actual_power=baseline - got,
                            delivered_flex_power=-got,
                            power_deficiency=max(0, -item.power - got),
                        )
                    )
            settlements.append(
                FlexOrderSettlement(
                    order_reference=order.order_reference,
                    period=order.period,
                    congestion_point=order.congestion_point,
                    price=order.price,
                    net_settlement=order.price,
                    isps=isps,
                )
            )
        first = orders[0][0] if orders else None
        return FlexSettlement(
            flex_order_settlements=settlements,
            contract_settlements=[
                ContractSettlement(
                    periods=[
                        ContractSettlementPeriod(
                            period=first.period
                            if first
                            else XmlDate.from_date(period_start),
                            isps=[ContractSettlementISP(start=1, reserved_power=0)],
                        )
                    ]
                )
            ],
            period_start=XmlDate.from_date(period_start),
            period_end=XmlDate.from_date(period_end),
            currency="EUR",
            message_id=str(uuid.uuid4()),
            conversation_id=str(uuid.uuid4()),
        )

    async def send(self, message: PayloadMessage) -> None:
        """Sign and POST one message with the library's client (in a worker thread).

        Raises shapeshifter-uftp's ClientTransportException when the aggregator
        answers anything but HTTP 200.
        """
        senders: dict[type[PayloadMessage], Callable[[Any], None]] = {
            FlexRequest: self.client.send_flex_request,
            FlexOrder: self.client.send_flex_order,
            FlexSettlement: self.client.send_flex_settlement,
        }
        sender = senders.get(type(message))
        if sender is None:
            raise TypeError(f"this DSO does not send {type(message).__name__}")
        await asyncio.to_thread(sender, message)

    async def request_flexibility(
        self,
        *,
        congestion_point: str,
        period: date,
        isps: Sequence[RequestedIsp],
        valid_for: timedelta = timedelta(hours=1),
        now: datetime,
    ) -> FlexRequest:
        """Send a FlexRequest that expires ``valid_for`` after ``now``."""
        request = self.flex_request(
            congestion_point=congestion_point,
            period=period,
            isps=isps,
            expires_at=now + valid_for,
            now=now,
        )
        await self.send(request)
        return request

    async def order_offer(
        self, offer: FlexOffer, option_reference: str | None = None
    ) -> FlexOrder:
        """Order one option of a received offer."""
        order = self.order_for(offer, option_reference)
        await self.send(order)
        return order

    @staticmethod
    def total_price(orders: Sequence[FlexOrder]) -> Decimal:
        """What the DSO owes for these orders."""
        return sum((Decimal(o.price) for o in orders), Decimal(0))
