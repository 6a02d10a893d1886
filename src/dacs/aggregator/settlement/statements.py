"""Monthly statements: computed from delivered flexibility, stored, sent to the homes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
import logging
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from dacs.aggregator.clock import Clock
from dacs.aggregator.storage.tables import (
    CongestionPointRow,
    HomeRow,
    SettlementStatementRow,
)
from dacs.protocol import Statement

from .errors import BadPeriodError
from .flex_source import TelemetryFlexSource
from .periods import month_bounds
from .remuneration import HomeSettlement, settle_home

_LOGGER = logging.getLogger(__name__)


class StatementPublisher(Protocol):
    """Sends a message to its home (the aggregator's MQTT link)."""

    async def publish(self, message: Any, *, retain: bool = False) -> None:
        """Publish; raises when it cannot."""
        ...


@dataclass(frozen=True, kw_only=True)
class IssuedStatement:
    """A statement as issued: the figures, the message, and whether it went out."""

    congestion_point_id: str
    settlement: HomeSettlement
    statement: Statement
    published: bool


class StatementIssuer:
    """Computes a period's statements for every home, stores and publishes them."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        flex: TelemetryFlexSource,
        *,
        clock: Clock,
        publisher: StatementPublisher | None = None,
    ) -> None:
        """Read and write through ``sessions``; publish through ``publisher`` if given."""
        self._sessions = sessions
        self._flex = flex
        self._clock = clock
        self._publisher = publisher

    async def compute(self, period: str) -> list[tuple[str, HomeSettlement]]:
        """Every home's settlement for ``period`` so far: (congestion point, figures)."""
        start, end = month_bounds(period)
        now = self._clock.now()
        if start >= now:
            raise BadPeriodError(f"period {period} has not started yet")
        async with self._sessions() as session:
            points = (
                (
                    await session.execute(
                        select(CongestionPointRow.id).order_by(CongestionPointRow.id)
                    )
                )
                .scalars()
                .all()
            )
            homes = (
                (await session.execute(select(HomeRow).order_by(HomeRow.id)))
                .scalars()
                .all()
            )
        asks = {h.id: _ask(h.preferences) for h in homes}
        config = self._flex.config
        results: list[tuple[str, HomeSettlement]] = []
        for point_id in points:
            # Every home of the point comes back, those without delivery at zero.
            deliveries = await self._flex.home_deliveries(
                point_id, start, min(end, now)
            )
            results.extend(
                (
                    point_id,
                    settle_home(
                        home_id=delivery.home_id,
                        period=period,
                        delivered_kwh=delivery.delivered_kwh,
                        extra_heat_kwh=delivery.extra_heat_kwh,
                        events=len(delivery.events),
                        ask_eur_per_kwh=asks.get(delivery.home_id),
                        config=config,
                    ),
                )
                for delivery in deliveries
            )
        return results

    async def issue(self, period: str) -> list[IssuedStatement]:
        """Compute, store (replacing an earlier issue) and send the period's statements.

        A statement is final once the month has ended. Sending is retained, so a
        home that is offline now finds its statement when it reconnects; one
        that could not be sent is stored with no ``published_at`` and goes out
        when the period is issued again.
        """
        computed = await self.compute(period)
        now = self._clock.now()
        final = now >= month_bounds(period)[1]
        issued = []
        async with self._sessions() as session:
            for point_id, settlement in computed:
                message = Statement(
                    home_id=settlement.home_id,
                    issued_at=now,
                    period=period,
                    delivered_kwh=settlement.delivered_kwh,
                    earnings_eur=settlement.earnings_eur,
                    events=settlement.events,
                    gas_compensation_eur=settlement.gas_compensation_eur,
                    final=final,
                )
                published = await self._publish(message)
                await session.merge(
                    SettlementStatementRow(
                        home_id=settlement.home_id,
                        period=period,
                        congestion_point_id=point_id,
                        issued_at=now,
                        delivered_kwh=settlement.delivered_kwh,
                        price_eur_per_kwh=settlement.price_eur_per_kwh,
                        earnings_eur=settlement.earnings_eur,
                        extra_gas_m3=settlement.extra_gas_m3,
                        gas_compensation_eur=settlement.gas_compensation_eur,
                        events=settlement.events,
                        final=final,
                        published_at=now if published else None,
                    )
                )
                issued.append(
                    IssuedStatement(
                        congestion_point_id=point_id,
                        settlement=settlement,
                        statement=message,
                        published=published,
                    )
                )
            await session.commit()
        return issued

    async def stored(
        self, period: str, congestion_point_id: str | None = None
    ) -> Sequence[SettlementStatementRow]:
        """The period's statements as last issued."""
        month_bounds(period)  # validates
        query = select(SettlementStatementRow).where(
            SettlementStatementRow.period == period
        )
        if congestion_point_id is not None:
            query = query.where(
                SettlementStatementRow.congestion_point_id == congestion_point_id
            )
        async with self._sessions() as session:
            return (
                (await session.execute(query.order_by(SettlementStatementRow.home_id)))
                .scalars()
                .all()
            )

    async def _publish(self, message: Statement) -> bool:
        if self._publisher is None:
            return False
        try:
            # The statement topic is retained (docs/protocol.md, section 2).
            await self._publisher.publish(message, retain=True)
        except Exception:  # any transport failure: stored, sent on the next issue
            _LOGGER.warning(
                "could not send the statement to %s", message.home_id, exc_info=True
            )
            return False
        return True


def _ask(preferences: dict[str, Any] | None) -> float | None:
    """The resident's ask per kWh from stored preferences (None when unknown)."""
    if not preferences:
        return None
    value = preferences.get("min_compensation_eur_per_kwh")
    return (
        float(value)
        if isinstance(value, int | float) and not isinstance(value, bool)
        else None
    )
