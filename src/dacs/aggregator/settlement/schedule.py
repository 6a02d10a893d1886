"""Statements go out by themselves: the running month daily, the last month once final.

Residents see their earnings grow during the month (the integration's
earnings sensor) and get a final statement after the month ends, without an
operator pressing a button. The previous month is issued again, as final,
while any of its stored statements is not final yet; then the running month,
so the running month's statement is the one each home keeps (retained).
"""

from __future__ import annotations

from datetime import datetime, timedelta
import logging

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from dacs.aggregator.clock import Clock
from dacs.aggregator.storage.tables import SettlementStatementRow

from .periods import month_bounds, period_of
from .statements import StatementIssuer

_LOGGER = logging.getLogger(__name__)

# A month with no stored statement is still finalised this long after it ended
# (the aggregator may have been down when it ended).
FINALISE_WITHIN = timedelta(days=7)
# The first round waits a little after start-up: the ingest catches up first,
# and an aggregator restarted in a loop does not issue on every start.
FIRST_ROUND_AFTER_S = 15 * 60.0


class StatementSchedule:
    """Issue statements every ``interval_s`` seconds of the clock."""

    def __init__(
        self,
        issuer: StatementIssuer,
        sessions: async_sessionmaker[AsyncSession],
        *,
        clock: Clock,
        interval_s: float,
    ) -> None:
        """Issue through ``issuer``; ``interval_s`` on ``clock`` between rounds."""
        if interval_s <= 0:
            raise ValueError("the statement interval must be positive")
        self._issuer = issuer
        self._sessions = sessions
        self._clock = clock
        self._interval_s = interval_s
        self.rounds = 0

    async def run(self) -> None:
        """Issue soon after start, then every interval; a failed round is retried next time."""
        await self._clock.sleep(min(FIRST_ROUND_AFTER_S, self._interval_s))
        while True:
            try:
                await self.issue_due()
            except Exception:
                _LOGGER.exception("issuing statements failed; trying again next round")
            await self._clock.sleep(self._interval_s)

    async def issue_due(self) -> list[str]:
        """Issue what is due now; the periods issued, oldest first."""
        now = self._clock.now()
        current = period_of(now)
        previous = period_of(month_bounds(current)[0] - timedelta(seconds=1))
        periods = []
        if await self._needs_final(previous, now):
            periods.append(previous)
        periods.append(current)
        for period in periods:
            issued = await self._issuer.issue(period)
            _LOGGER.info("issued %d statement(s) for %s", len(issued), period)
        self.rounds += 1
        return periods

    async def _needs_final(self, period: str, now: datetime) -> bool:
        async with self._sessions() as session:
            stored, final = (
                await session.execute(
                    select(
                        func.count(),
                        func.count().filter(SettlementStatementRow.final.is_(True)),
                    ).where(SettlementStatementRow.period == period)
                )
            ).one()
        if stored:
            return bool(final < stored)
        ended = month_bounds(period)[1]
        return now - ended < FINALISE_WITHIN
