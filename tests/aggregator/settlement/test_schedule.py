"""Statements go out on their own: the running month, and the last one until final."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from dacs.aggregator.settlement.config import SettlementConfig
from dacs.aggregator.settlement.flex_source import TelemetryFlexSource
from dacs.aggregator.settlement.schedule import StatementSchedule
from dacs.aggregator.settlement.statements import StatementIssuer
from dacs.aggregator.storage.database import session_factory
from dacs.aggregator.storage.tables import SettlementStatementRow
from dacs.protocol import Statement

from .street import FixedClock, seed_street

CONFIG = SettlementConfig(history_days=4, min_history_days=3)


class Recorder:
    def __init__(self) -> None:
        self.sent: list[Statement] = []

    async def publish(self, message: Any, *, retain: bool = False) -> None:
        assert retain
        self.sent.append(message)


async def test_last_month_is_finalised_then_the_running_month_issued(
    engine: AsyncEngine,
) -> None:
    sessions = session_factory(engine)
    await seed_street(sessions, homes={"h-a": 0.3, "h-b": None})
    clock = FixedClock(datetime(2025, 1, 25, 12, 0, tzinfo=UTC))
    recorder = Recorder()
    issuer = StatementIssuer(
        sessions,
        TelemetryFlexSource(sessions, clock=clock, config=CONFIG),
        clock=clock,
        publisher=recorder,
    )
    schedule = StatementSchedule(issuer, sessions, clock=clock, interval_s=3600)
    # Mid-January: December has no statement and ended long ago; January runs.
    assert await schedule.issue_due() == ["2025-01"]
    assert {(s.period, s.final) for s in recorder.sent} == {("2025-01", False)}
    january = next(s for s in recorder.sent if s.home_id == "h-a")
    assert january.delivered_kwh > 0
    # The 1st of February: January's statements are stored but not final.
    clock.moment = datetime(2025, 2, 1, 6, 0, tzinfo=UTC)
    recorder.sent.clear()
    assert await schedule.issue_due() == ["2025-01", "2025-02"]
    # The running month goes out last, so it is what each home keeps.
    assert [s.period for s in recorder.sent][-2:] == ["2025-02", "2025-02"]
    final = [s for s in recorder.sent if s.period == "2025-01" and s.home_id == "h-a"]
    assert final[0].final
    assert final[0].delivered_kwh == pytest.approx(january.delivered_kwh)
    # Once January is final it is not issued again.
    recorder.sent.clear()
    assert await schedule.issue_due() == ["2025-02"]
    async with sessions() as session:
        rows = (await session.execute(select(SettlementStatementRow))).scalars().all()
    assert {(r.period, r.final) for r in rows} == {
        ("2025-01", True),
        ("2025-02", False),
    }


class FailingIssuer:
    def __init__(self) -> None:
        self.calls = 0

    async def issue(self, period: str) -> list[Any]:
        self.calls += 1
        if self.calls == 1:
            raise ConnectionError("database away")
        return []


class InstantClock(FixedClock):
    def __init__(self, now: datetime) -> None:
        super().__init__(now)
        self.slept: list[float] = []

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        await asyncio.sleep(0)


async def test_a_failed_round_is_retried_next_round(engine: AsyncEngine) -> None:
    sessions = session_factory(engine)
    clock = InstantClock(datetime(2025, 3, 20, 12, 0, tzinfo=UTC))
    issuer = FailingIssuer()
    schedule = StatementSchedule(
        issuer,  # type: ignore[arg-type]  # only issue() is used
        sessions,
        clock=clock,
        interval_s=86400,
    )
    task = asyncio.create_task(schedule.run())
    async with asyncio.timeout(5):
        while schedule.rounds < 2:  # noqa: ASYNC110 - the schedule has no event
            await asyncio.sleep(0)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert issuer.calls >= 2
    assert clock.slept[0] == 15 * 60  # the first round waits for the ingest
    assert clock.slept[1] == 86400


def test_a_non_positive_interval_is_refused(engine: AsyncEngine) -> None:
    with pytest.raises(ValueError, match="positive"):
        StatementSchedule(
            None,  # type: ignore[arg-type]  # refused before use
            session_factory(engine),
            clock=FixedClock(datetime(2025, 1, 1, tzinfo=UTC)),
            interval_s=0,
        )
    with pytest.raises(ValueError, match="statement_interval_h"):
        SettlementConfig(statement_interval_h=-1)
