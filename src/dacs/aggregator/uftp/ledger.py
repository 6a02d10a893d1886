"""What the UFTP agent has received, offered and been ordered, in the aggregator's database.

Every SQL statement the agent runs is here. An accepted message is stored
with the responses it causes (the outbox) in one transaction; a store
method returns False when the same message was stored meanwhile (a racing
repeat), and the agent then answers as it did the first time.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from dacs.aggregator.storage.tables import (
    CongestionPointRow,
    EventRow,
    UftpFlexOfferRow,
    UftpFlexOrderRow,
    UftpInboundRow,
    UftpOutboxRow,
)

from .d_prognosis import PrognosisBuilder
from .errors import OfferAlreadyOrderedError
from .outbox import Outbox, Outgoing


def prognosis_reference(point_id: str, period: str) -> str:
    """The outbox reference under which a congestion point's D-Prognoses are counted."""
    return f"d-prognosis/{point_id}/{period}"


class UftpLedger:
    """Reads and writes the uftp_* tables (and looks up congestion points and events)."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        """Use the aggregator's sessions."""
        self._sessions = sessions

    # -- reads -------------------------------------------------------------------

    async def inbound(
        self, sender_domain: str, message_id: str
    ) -> UftpInboundRow | None:
        """The record of an accepted message, None when it is new."""
        async with self._sessions() as session:
            return await session.get(UftpInboundRow, (sender_domain, message_id))

    async def congestion_point_with_ean(self, ean: str) -> str | None:
        """The id of the congestion point with this EAN, if any."""
        async with self._sessions() as session:
            point_id: str | None = await session.scalar(
                select(CongestionPointRow.id).where(CongestionPointRow.ean == ean)
            )
        return point_id

    async def ean_of(self, point_id: str) -> str | None:
        """The EAN of a congestion point, if it has one."""
        async with self._sessions() as session:
            return await session.scalar(
                select(CongestionPointRow.ean).where(CongestionPointRow.id == point_id)
            )

    async def offer(self, message_id: str) -> UftpFlexOfferRow | None:
        """The FlexOffer we sent with this MessageID."""
        async with self._sessions() as session:
            return await session.get(UftpFlexOfferRow, message_id)

    async def order(
        self, order_reference: str, sender_domain: str
    ) -> UftpFlexOrderRow | None:
        """The FlexOrder a DSO placed under ``order_reference``."""
        async with self._sessions() as session:
            order: UftpFlexOrderRow | None = await session.scalar(
                select(UftpFlexOrderRow).where(
                    UftpFlexOrderRow.order_reference == order_reference,
                    UftpFlexOrderRow.sender_domain == sender_domain,
                )
            )
        return order

    async def orders_without_event(
        self,
    ) -> Sequence[tuple[UftpFlexOrderRow, UftpFlexOfferRow]]:
        """Orders whose cap event is missing (a crash between storing and putting it in force)."""
        async with self._sessions() as session:
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
        return [(order, offer) for order, offer in rows]

    # -- writes ------------------------------------------------------------------

    async def store_flex_request(
        self,
        rows: Sequence[Any],
        outgoing: Sequence[Outgoing],
        *,
        now: datetime,
    ) -> bool:
        """Store an accepted FlexRequest's rows and its responses."""
        async with self._sessions() as session:
            for row in rows:
                session.add(row)
            for item in outgoing:
                Outbox.store(session, item, reference=None, now=now)
            return await _commit(session)

    async def store_flex_order(
        self,
        inbound: UftpInboundRow,
        order: UftpFlexOrderRow,
        response: Outgoing,
        prognosis: PrognosisBuilder,
        *,
        now: datetime,
    ) -> Outgoing | None:
        """Store an accepted FlexOrder, mark its offer ordered, add the new D-Prognosis.

        Returns the D-Prognosis, None for a racing repeat. Raises
        OfferAlreadyOrderedError when another order took the offer first.
        """
        async with self._sessions() as session:
            session.add(inbound)
            session.add(order)
            stored_offer = await session.get(
                UftpFlexOfferRow, order.flex_offer_message_id
            )
            if stored_offer is None or stored_offer.order_message_id is not None:
                raise OfferAlreadyOrderedError
            stored_offer.order_message_id = order.message_id
            Outbox.store(session, response, reference=None, now=now)
            await session.flush()
            sent = await _add_prognosis(
                session,
                order.congestion_point_id,
                date.fromisoformat(order.period),
                prognosis,
                now=now,
            )
            if not await _commit(session):
                return None
        return sent

    async def store_d_prognosis(
        self,
        point_id: str,
        period: date,
        prognosis: PrognosisBuilder,
        *,
        now: datetime,
    ) -> Outgoing:
        """Store the next D-Prognosis of a congestion point and period in the outbox."""
        async with self._sessions() as session:
            sent = await _add_prognosis(session, point_id, period, prognosis, now=now)
            await session.commit()
        return sent

    async def store_flex_settlement(
        self,
        inbound: UftpInboundRow,
        settled: Sequence[tuple[str, dict[str, Any]]],
        response: Outgoing,
        *,
        now: datetime,
    ) -> bool:
        """Store an accepted FlexSettlement: its record per order and the response."""
        async with self._sessions() as session:
            session.add(inbound)
            for order_id, settlement in settled:
                stored = await session.get(UftpFlexOrderRow, order_id)
                if stored is not None:
                    stored.settlement = settlement
                    stored.settled_at = now
            Outbox.store(session, response, reference=None, now=now)
            return await _commit(session)


async def _add_prognosis(
    session: AsyncSession,
    point_id: str,
    period: date,
    prognosis: PrognosisBuilder,
    *,
    now: datetime,
) -> Outgoing:
    """Build the D-Prognosis from what is ordered so far and put it in the outbox."""
    reference = prognosis_reference(point_id, period.isoformat())
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
            .where(UftpOutboxRow.reference == reference)
        )
        or 0
    ) + 1
    sent = prognosis(ordered, revision)
    Outbox.store(session, sent, reference=reference, now=now)
    return sent


async def _commit(session: AsyncSession) -> bool:
    """Commit; False when the same message was stored meanwhile (a racing repeat)."""
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()
        return False
    return True
