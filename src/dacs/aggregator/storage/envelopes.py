"""The envelopes a congestion point was given, kept so they survive a restart."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
import logging
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from dacs.aggregator.domain.envelope import (
    CapacityEnvelope,
    CapacityInterval,
    EnvelopeKind,
)
from dacs.protocol import format_time, parse_time

from .tables import EventRow


def envelope_row(
    congestion_point_id: str, envelope: CapacityEnvelope, *, created_at: datetime
) -> EventRow:
    """The row that stores ``envelope``."""
    return EventRow(
        id=envelope.envelope_id,
        congestion_point_id=congestion_point_id,
        kind=envelope.kind.value,
        reason="emergency" if envelope.kind is EnvelopeKind.EMERGENCY else "congestion",
        start=envelope.start,
        end=envelope.end,
        intervals=[
            {"start": format_time(i.start), "end": format_time(i.end), "cap_w": i.cap_w}
            for i in envelope.intervals
        ],
        created_at=created_at,
        created_by=envelope.origin[:64],
    )


_LOGGER = logging.getLogger(__name__)


def envelope_from_row(row: EventRow) -> CapacityEnvelope:
    """The envelope a row stores."""
    intervals: list[dict[str, Any]] = row.intervals
    return CapacityEnvelope(
        envelope_id=row.id,
        kind=EnvelopeKind(row.kind),
        origin=row.created_by,
        intervals=tuple(
            CapacityInterval(
                start=parse_time(i["start"]),
                end=parse_time(i["end"]),
                cap_w=float(i["cap_w"]),
            )
            for i in intervals
        ),
    )


class EnvelopeLedger:
    """Stores, cancels and reloads envelopes."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        """Use the aggregator's database."""
        self._sessions = sessions

    async def store(
        self, congestion_point_id: str, envelope: CapacityEnvelope, *, now: datetime
    ) -> None:
        """Keep a new envelope; an id that exists already raises the database's error."""
        async with self._sessions() as session:
            session.add(envelope_row(congestion_point_id, envelope, created_at=now))
            await session.commit()

    async def cancel(self, envelope_id: str, *, now: datetime) -> None:
        """Mark an envelope as ended early."""
        async with self._sessions() as session:
            await session.execute(
                update(EventRow)
                .where(EventRow.id == envelope_id)
                .values(cancelled_at=now)
            )
            await session.commit()

    async def in_force(self, now: datetime) -> list[tuple[str, CapacityEnvelope]]:
        """(congestion point, envelope) of every envelope not ended or cancelled."""
        async with self._sessions() as session:
            rows = (
                (
                    await session.execute(
                        select(EventRow).where(
                            EventRow.end > now, EventRow.cancelled_at.is_(None)
                        )
                    )
                )
                .scalars()
                .all()
            )
        return [(row.congestion_point_id, envelope_from_row(row)) for row in rows]

    async def overlapping(
        self, congestion_point_id: str, start: datetime, end: datetime
    ) -> list[CapacityEnvelope]:
        """The point's envelopes in force at some moment from ``start`` to ``end``.

        Ended ones too; one cancelled early ends where it was cancelled.
        """
        async with self._sessions() as session:
            rows = await overlapping_rows(session, congestion_point_id, start, end)
        envelopes = []
        for row in rows:
            try:
                whole = envelope_from_row(row)
            except (ValueError, KeyError, TypeError):
                # One unreadable row must not hide every other cap of the window.
                _LOGGER.exception("event %s is stored unreadably, left out", row.id)
                continue
            envelope = (
                whole if row.cancelled_at is None else _cut_at(whole, row.cancelled_at)
            )
            if envelope is not None:
                envelopes.append(envelope)
        return envelopes


async def overlapping_rows(
    session: AsyncSession, congestion_point_id: str, start: datetime, end: datetime
) -> Sequence[EventRow]:
    """The stored envelopes of a point that overlap ``[start, end)``, cancelled ones too."""
    result = await session.execute(
        select(EventRow).where(
            EventRow.congestion_point_id == congestion_point_id,
            EventRow.start < end,
            EventRow.end > start,
        )
    )
    return result.scalars().all()


def _cut_at(envelope: CapacityEnvelope, moment: datetime) -> CapacityEnvelope | None:
    """``envelope`` as it stood when it was cancelled at ``moment`` (None: before it began)."""
    kept = tuple(
        CapacityInterval(start=i.start, end=min(i.end, moment), cap_w=i.cap_w)
        for i in envelope.intervals
        if i.start < moment
    )
    if not kept:
        return None
    return CapacityEnvelope(
        envelope_id=envelope.envelope_id,
        kind=envelope.kind,
        intervals=kept,
        origin=envelope.origin,
    )
