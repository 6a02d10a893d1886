"""Alerts raised and cleared, kept for operators."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from dacs.aggregator.control.alerts import Alert

from .tables import AlertRow

_MESSAGE_CHARS = 500  # the column's width


class AlertLedger:
    """Stores new alerts and marks cleared ones."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        """Use the aggregator's database."""
        self._sessions = sessions

    async def record(
        self,
        congestion_point_id: str,
        *,
        raised: Sequence[Alert],
        cleared: Sequence[Alert],
        now: datetime,
    ) -> None:
        """Store what a cycle raised and clear what it no longer sees, in one transaction."""
        async with self._sessions() as session:
            session.add_all(
                AlertRow(
                    kind=a.kind.value,
                    home_id=a.home_id,
                    congestion_point_id=a.congestion_point_id,
                    message=a.message[:_MESSAGE_CHARS],
                    raised_at=a.raised_at,
                )
                for a in raised
            )
            for alert in cleared:
                await session.execute(
                    update(AlertRow)
                    .where(
                        AlertRow.kind == alert.kind.value,
                        AlertRow.raised_at == alert.raised_at,
                        AlertRow.congestion_point_id == congestion_point_id,
                        AlertRow.cleared_at.is_(None),
                    )
                    .values(cleared_at=now)
                )
            await session.commit()

    async def raised_since(
        self, congestion_point_id: str, since: datetime
    ) -> dict[str, int]:
        """How many alerts of each kind were raised at a point since ``since``."""
        async with self._sessions() as session:
            rows = await session.execute(
                select(AlertRow.kind, func.count())
                .where(
                    AlertRow.congestion_point_id == congestion_point_id,
                    AlertRow.raised_at >= since,
                )
                .group_by(AlertRow.kind)
            )
            return {kind: int(count) for kind, count in rows.tuples().all()}
