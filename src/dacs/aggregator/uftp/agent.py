"""The aggregator's UFTP role (AGR): receive DSO messages, route them, store and send.

Transport and routing only: one module per message type (``flex_request``,
``flex_order``, ``flex_settlement``, ``responses``) checks a message and
plans the answers over plain data; the ledger stores an accepted
message together with the responses it causes (the outbox) in one
transaction; then the outbox sends them. A handler raises
:class:`MessageRejectedError` before anything is stored, so a refused
message changes nothing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime
import logging
from pathlib import Path

from shapeshifter_uftp import (
    DPrognosisResponse,
    FlexOfferResponse,
    FlexOfferRevocationResponse,
    FlexOrder,
    FlexRequest,
    FlexSettlement,
    MeteringResponse,
    PayloadMessage,
    TestMessage,
    TestMessageResponse,
)
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from dacs.aggregator.control.fleet import HomeView
from dacs.aggregator.domain.delivery import DeliveredFlexSource
from dacs.aggregator.domain.envelope import CapacityEnvelope
from dacs.aggregator.grid_port import GridPort, OtherLoadForecast
from dacs.aggregator.settlement.config import SettlementConfig
from dacs.aggregator.storage.tables import UftpFlexOrderRow

from .addresses import CongestionPointAddresses
from .config import UftpConfig
from .d_prognosis import prognosis_builder
from .envelope import OpenedMessage, open_envelope
from .errors import (
    DUPLICATE_IDENTIFIER,
    MessageRejectedError,
    TransportRefusedError,
    UftpError,
)
from .flex_order import order_envelope, process_flex_order
from .flex_request import process_flex_request
from .flex_settlement import delivered_w, isp_windows, process_flex_settlement
from .forecast import CongestionPointLoadForecast, PersistenceForecast
from .header import DSO, check_routing, expect
from .home_flex import home_flex
from .keys import load_signing_secret
from .ledger import UftpLedger
from .offers import HomeFlex
from .outbox import Outbox
from .participants import Participants
from .responses import process_response, process_test_message, rejection

_LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class Received:
    """What the endpoint answers: an HTTP status and a short reason."""

    status: int
    reason: str = ""


type Route = Callable[[OpenedMessage], Awaitable[None]]


class UftpAgent:
    """The AGR side of UFTP for one aggregator."""

    def __init__(
        self,
        config: UftpConfig,
        port: GridPort,
        *,
        sessions: async_sessionmaker[AsyncSession],
        settlement: SettlementConfig,
        secret: str,
        participants: Participants,
        delivered: DeliveredFlexSource | None = None,
        forecast: CongestionPointLoadForecast | None = None,
    ) -> None:
        """Wire the agent to the aggregator's grid port and database; start() begins sending."""
        self.config = config
        self.port = port
        self.participants = participants
        self.ledger = UftpLedger(sessions)
        self._addresses = CongestionPointAddresses(config, self.ledger, port)
        self._settlement = settlement
        self._delivered = delivered
        self._forecast = forecast or PersistenceForecast(port)
        self.outbox = Outbox(
            config,
            secret=secret,
            participants=participants,
            sessions=sessions,
            now=port.now,
        )
        self._routes: dict[type[PayloadMessage], Route] = {
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
            self._routes[response] = self._on_response

    @classmethod
    def from_config(
        cls,
        config: UftpConfig,
        port: GridPort,
        *,
        sessions: async_sessionmaker[AsyncSession],
        settlement: SettlementConfig,
        delivered: DeliveredFlexSource | None = None,
        other_load_forecast: OtherLoadForecast | None = None,
    ) -> UftpAgent:
        """Load the signing key and the participants file named in ``config``."""
        if not config.signing_key_file or not config.participants_file:
            raise UftpError("UFTP needs signing_key_file and participants_file")
        return cls(
            config,
            port,
            sessions=sessions,
            settlement=settlement,
            secret=load_signing_secret(Path(config.signing_key_file)),
            participants=Participants.load(Path(config.participants_file)),
            delivered=delivered,
            forecast=PersistenceForecast(port, other_load_forecast),
        )

    # -- lifecycle -------------------------------------------------------------

    async def start(self) -> None:
        """Put accepted orders back in force and resend undelivered messages."""
        await self._restore_envelopes()
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
            check_routing(opened, self.config)
            await self._route_for(message)(opened)
        except MessageRejectedError as refused:
            _LOGGER.warning(
                "UFTP: rejected %s %s from %s: %s",
                type(message).__name__,
                message.message_id,
                opened.sender_domain,
                refused.reason,
            )
            answer = rejection(
                opened, refused.reason, config=self.config, now=self.port.now()
            )
            if answer is not None:
                self.outbox.deliver_transient(answer)
        except Exception:
            # Unexpected: answer 500 so the sender retries; nothing was committed.
            _LOGGER.exception(
                "UFTP: failed to handle %s %s",
                type(message).__name__,
                message.message_id,
            )
            return Received(status=500, reason="internal error")
        return Received(status=200)

    def _route_for(self, message: PayloadMessage) -> Route:
        route = self._routes.get(type(message))
        if route is None:
            raise MessageRejectedError(f"Invalid Message: '{type(message).__name__}'")
        return route

    async def _already_handled(self, opened: OpenedMessage) -> bool:
        """True for a repeat of an accepted message (its response is sent again)."""
        message = opened.message
        row = await self.ledger.inbound(opened.sender_domain, message.message_id)
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

    # -- the message types -----------------------------------------------------

    async def _on_flex_request(self, opened: OpenedMessage) -> None:
        message = expect(opened.message, FlexRequest)
        if await self._already_handled(opened):
            return
        point_id = await self._addresses.point_of(message.congestion_point)
        now = self.port.now()
        accepted = process_flex_request(
            opened,
            point_id=point_id,
            homes=self._home_flex,
            forecast=self._forecast,
            config=self.config,
            now=now,
        )
        if not await self.ledger.store_flex_request(
            accepted.rows, accepted.outgoing, now=now
        ):
            await self._already_handled(opened)
            return
        self.outbox.deliver_stored([o.message_id for o in accepted.outgoing])

    async def _on_flex_order(self, opened: OpenedMessage) -> None:
        message = expect(opened.message, FlexOrder)
        if await self._already_handled(opened):
            return
        now = self.port.now()
        offer = (
            await self.ledger.offer(message.flex_offer_message_id)
            if message.flex_offer_message_id
            else None
        )
        accepted = process_flex_order(opened, offer=offer, config=self.config, now=now)
        order = accepted.order
        prognosis = await self.ledger.store_flex_order(
            accepted.inbound,
            order,
            accepted.response,
            prognosis_builder(
                point_id=order.congestion_point_id,
                address=accepted.address,
                period=date.fromisoformat(order.period),
                recipient=opened.sender_domain,
                forecast=self._forecast,
                config=self.config,
                now=now,
            ),
            now=now,
        )
        if prognosis is None:
            await self._already_handled(opened)
            return
        await self._put_in_force(order.congestion_point_id, accepted.envelope)
        self.outbox.deliver_stored([accepted.response.message_id, prognosis.message_id])

    async def _on_flex_settlement(self, opened: OpenedMessage) -> None:
        message = expect(opened.message, FlexSettlement)
        if await self._already_handled(opened):
            return
        now = self.port.now()
        orders, measured = await _orders_and_deliveries(
            message, opened.sender_domain, self.ledger, self._delivered, self.config
        )
        accepted = process_flex_settlement(
            opened, orders=orders, measured=measured, config=self.config, now=now
        )
        if not await self.ledger.store_flex_settlement(
            accepted.inbound, accepted.settled, accepted.response, now=now
        ):
            await self._already_handled(opened)
            return
        self.outbox.deliver_stored([accepted.response.message_id])

    async def _on_test_message(self, opened: OpenedMessage) -> None:
        self.outbox.deliver_transient(
            process_test_message(opened, config=self.config, now=self.port.now())
        )

    async def _on_response(self, opened: OpenedMessage) -> None:
        process_response(opened)

    # -- D-Prognosis -----------------------------------------------------------

    async def send_d_prognosis(
        self, congestion_point_id: str, period: date, recipient_domain: str
    ) -> str:
        """Send the congestion point's load forecast per ISP of ``period``; returns its MessageID."""
        address = await self._addresses.address_of(congestion_point_id)
        self.participants.find(recipient_domain, DSO)
        now = self.port.now()
        prognosis = await self.ledger.store_d_prognosis(
            congestion_point_id,
            period,
            prognosis_builder(
                point_id=congestion_point_id,
                address=address,
                period=period,
                recipient=recipient_domain,
                forecast=self._forecast,
                config=self.config,
                now=now,
            ),
            now=now,
        )
        self.outbox.deliver_stored([prognosis.message_id])
        return prognosis.message_id

    # -- reads through the port and the ledger --------------------------------

    def _home_flex(self, point_id: str, now: datetime) -> list[HomeFlex]:
        views: list[HomeView] = list(self.port.homes(point_id))
        return home_flex(views, self.port.flex_model(views, now), self._settlement)

    # -- capacity envelopes ----------------------------------------------------

    async def _put_in_force(self, point_id: str, envelope: CapacityEnvelope) -> None:
        try:
            await self.port.put_in_force(point_id, envelope)
        except Exception:
            # The order is stored; start() puts it in force again.
            _LOGGER.exception("UFTP: could not put %s in force", envelope.envelope_id)
        else:
            _LOGGER.info(
                "UFTP: order %s in force on %s (%d ISPs)",
                envelope.envelope_id,
                point_id,
                len(envelope.intervals),
            )

    async def _restore_envelopes(self) -> None:
        """Orders whose cap event is missing (a crash between the two) get it back."""
        for order, offer in await self.ledger.orders_without_event():
            ordered = {int(k): int(v) for k, v in order.isps.items()}
            envelope = order_envelope(
                order.message_id, offer, ordered, self.config, dso=order.sender_domain
            )
            if envelope.end <= self.port.now():
                continue
            await self._put_in_force(order.congestion_point_id, envelope)


async def _orders_and_deliveries(
    message: FlexSettlement,
    sender_domain: str,
    ledger: UftpLedger,
    delivered: DeliveredFlexSource | None,
    config: UftpConfig,
) -> tuple[dict[str, UftpFlexOrderRow | None], dict[str, dict[int, float | None]]]:
    """The orders a FlexSettlement names, and the flex we measured in their ISPs."""
    orders: dict[str, UftpFlexOrderRow | None] = {}
    measured: dict[str, dict[int, float | None]] = {}
    for item in message.flex_order_settlements:
        reference = item.order_reference
        if reference not in orders:
            orders[reference] = await ledger.order(reference, sender_domain)
        order = orders[reference]
        if order is None:
            continue
        # A reference may come twice, with other ISPs: measure every ISP named.
        ours = measured.setdefault(reference, {})
        windows = {
            number: window
            for number, window in isp_windows(order, item, config).items()
            if number not in ours
        }
        if not windows:
            continue
        # One read for the order's span: each read fits the street's baselines
        # on a week of telemetry, too slow to repeat for every ISP.
        span_start = min(start for start, _ in windows.values())
        span_end = max(end for _, end in windows.values())
        intervals = (
            await delivered(order.congestion_point_id, span_start, span_end)
            if delivered is not None
            else None
        )
        ours.update(
            delivered_w(intervals, windows)
            if intervals is not None
            else dict.fromkeys(windows)
        )
    return orders, measured
