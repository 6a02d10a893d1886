"""Delivered flexibility from the database: the settlement's :class:`DeliveredFlexSource`."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from dacs.aggregator.clock import Clock
from dacs.aggregator.domain.delivery import IntervalDelivery
from dacs.aggregator.storage.tables import CongestionPointRow, HomeRow

from .config import SettlementConfig
from .delivered import HomeDelivery, congestion_point_intervals, settle_deliveries
from .errors import UnknownCongestionPointError
from .periods import check_range, floor_interval
from .telemetry_source import load_events, load_home_intervals


class TelemetryFlexSource:
    """Delivered flexibility computed from stored telemetry, events and baselines.

    Calling it satisfies :class:`~dacs.aggregator.domain.delivery.DeliveredFlexSource`
    (the grid adapters' view, summed per congestion point);
    :meth:`home_deliveries` gives the per-home detail settlement pays on.
    """

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        clock: Clock,
        config: SettlementConfig | None = None,
    ) -> None:
        """Read through ``sessions``; only intervals that passed on ``clock`` count."""
        self._sessions = sessions
        self._clock = clock
        self.config = config or SettlementConfig()

    async def __call__(
        self, congestion_point_id: str, start: datetime, end: datetime
    ) -> Sequence[IntervalDelivery]:
        """The congestion point's event intervals in ``[start, end)`` that have fully passed."""
        return congestion_point_intervals(
            await self.home_deliveries(congestion_point_id, start, end)
        )

    async def home_deliveries(
        self, congestion_point_id: str, start: datetime, end: datetime
    ) -> list[HomeDelivery]:
        """Each home's settled intervals in ``[start, end)`` (passed intervals only)."""
        check_range(start, end)
        async with self._sessions() as session:
            if await session.get(CongestionPointRow, congestion_point_id) is None:
                raise UnknownCongestionPointError(
                    f"unknown congestion point {congestion_point_id!r}"
                )
            end = min(end, floor_interval(self._clock.now()))
            if end <= start:
                return []
            home_ids = list(
                (
                    await session.execute(
                        select(HomeRow.id)
                        .where(HomeRow.congestion_point_id == congestion_point_id)
                        .order_by(HomeRow.id)
                    )
                )
                .scalars()
                .all()
            )
            since = start - timedelta(days=self.config.history_days + 1)
            events = await load_events(session, congestion_point_id, since, end)
            homes = await load_home_intervals(session, home_ids, since, end)
        # Fitting a street's baselines takes tens of milliseconds: off the event loop.
        return await asyncio.to_thread(
            settle_deliveries, homes, events, start, end, self.config
        )
