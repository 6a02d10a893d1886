"""Transformer measurements, kept: the grid operator's own view of the evening, after the fact."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from .tables import TransformerMeasurementRow


class MeasurementLedger:
    """Stores each measurement once and reads them back per congestion point."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        """Use the aggregator's database."""
        self._sessions = sessions

    async def record(
        self, congestion_point_id: str, at: datetime, load_w: float
    ) -> bool:
        """Keep one measurement; False when one at that moment is stored already.

        A meter that sends the same reading twice (a retry after a lost
        answer) must not weigh twice in an ISP's mean.
        """
        async with self._sessions() as session, session.begin():
            known = await session.scalar(
                select(TransformerMeasurementRow.id).where(
                    TransformerMeasurementRow.congestion_point_id
                    == congestion_point_id,
                    TransformerMeasurementRow.ts == at,
                )
            )
            if known is not None:
                return False
            session.add(
                TransformerMeasurementRow(
                    congestion_point_id=congestion_point_id,
                    ts=at,
                    load_kw=load_w / 1000,
                )
            )
        return True

    async def between(
        self, congestion_point_id: str, start: datetime, end: datetime
    ) -> list[tuple[datetime, float]]:
        """(time, load W) of the measurements from ``start`` to ``end``, oldest first."""
        async with self._sessions() as session:
            rows = (
                await session.execute(
                    select(
                        TransformerMeasurementRow.ts, TransformerMeasurementRow.load_kw
                    )
                    .where(
                        TransformerMeasurementRow.congestion_point_id
                        == congestion_point_id,
                        TransformerMeasurementRow.ts >= start,
                        TransformerMeasurementRow.ts < end,
                    )
                    .order_by(TransformerMeasurementRow.ts)
                )
            ).all()
        return [(ts, load_kw * 1000) for ts, load_kw in rows]
