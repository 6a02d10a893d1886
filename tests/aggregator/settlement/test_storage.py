"""Settlement on stored data, on SQLite and PostgreSQL: deliveries, statements, CSV."""

from __future__ import annotations

import csv
from datetime import UTC, datetime, timedelta
import io
from typing import Any

import pytest
from sqlalchemy import inspect, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from dacs.aggregator.settlement.config import SettlementConfig
from dacs.aggregator.settlement.errors import (
    BadPeriodError,
    BadRangeError,
    UnknownCongestionPointError,
)
from dacs.aggregator.settlement.export import STATEMENT_COLUMNS, statements_csv
from dacs.aggregator.settlement.flex_source import TelemetryFlexSource
from dacs.aggregator.settlement.statements import StatementIssuer
from dacs.aggregator.settlement.telemetry_source import load_home_intervals
from dacs.aggregator.storage.database import session_factory
from dacs.aggregator.storage.tables import (
    EventRow,
    SettlementStatementRow,
    TelemetryRow,
)
from dacs.protocol import Statement

from .street import EVENT_END, EVENT_START, FixedClock, seed_street

CONFIG = SettlementConfig(history_days=4, min_history_days=3, tariff_eur_per_kwh=0.20)
AFTER = datetime(2025, 1, 21, 8, 0, tzinfo=UTC)


class Recorder:
    """A publisher that keeps what it was asked to send; can be made to fail."""

    def __init__(self, *, fail: bool = False) -> None:
        self.sent: list[tuple[Any, bool]] = []
        self.fail = fail

    async def publish(self, message: Any, *, retain: bool = False) -> None:
        if self.fail:
            raise ConnectionError("not connected to the central broker")
        self.sent.append((message, retain))


async def test_migration_adds_the_statements_table(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        names = await connection.run_sync(lambda c: set(inspect(c).get_table_names()))
    assert "settlement_statements" in names


async def test_interval_averages_in_the_database(engine: AsyncEngine) -> None:
    sessions = session_factory(engine)
    await seed_street(sessions, homes={"h-a": None})
    async with sessions() as session:
        [home] = await load_home_intervals(
            session, ["h-a"], EVENT_START - timedelta(hours=1), EVENT_END
        )
        rows = (
            (
                await session.execute(
                    select(TelemetryRow).where(
                        TelemetryRow.home_id == "h-a",
                        TelemetryRow.ts >= EVENT_START,
                        TelemetryRow.ts < EVENT_START + timedelta(minutes=15),
                    )
                )
            )
            .scalars()
            .all()
        )
    assert len(home.starts) == 12  # one hour before and two of the event
    assert home.starts[0] == (EVENT_START - timedelta(hours=1)).timestamp()
    assert not home.limited[:4].any()
    assert home.limited[4:].all()
    first_event = 4
    mean_kw = sum(r.electric_power_w or 0 for r in rows) / len(rows) / 1000
    assert home.electric_kw[first_event] == pytest.approx(mean_kw)


async def test_deliveries_and_statements(engine: AsyncEngine) -> None:
    sessions = session_factory(engine)
    truth = await seed_street(sessions, homes={"h-a": 0.35, "h-b": None})
    clock = FixedClock(AFTER)
    flex = TelemetryFlexSource(sessions, clock=clock, config=CONFIG)
    homes = await flex.home_deliveries("tr-1", EVENT_START - timedelta(hours=2), AFTER)
    assert [h.home_id for h in homes] == ["h-a", "h-b"]
    for home, real in zip(homes, truth, strict=True):
        assert len(home.starts) == 8
        assert home.limited.all()
        assert home.delivered_kwh == pytest.approx(real.true_delivered_kwh, rel=0.2)
        assert home.events == {"ev-1"}
    point = await flex("tr-1", EVENT_START, EVENT_END)
    assert len(point) == 8
    assert all(i.homes_reporting == 2 for i in point)
    assert sum(i.delivered_kwh for i in point) == pytest.approx(
        sum(h.delivered_kwh for h in homes)
    )
    # Intervals that have not passed yet are not reported.
    clock.moment = EVENT_START + timedelta(minutes=40)
    assert len(await flex("tr-1", EVENT_START, EVENT_END)) == 2
    clock.moment = AFTER

    recorder = Recorder()
    issuer = StatementIssuer(sessions, flex, clock=clock, publisher=recorder)
    issued = await issuer.issue("2025-01")
    assert [s.settlement.home_id for s in issued] == ["h-a", "h-b"]
    a, b = (s.settlement for s in issued)
    assert a.price_eur_per_kwh == 0.35  # the resident's ask beats the tariff
    assert b.price_eur_per_kwh == 0.20  # no ask: the tariff
    assert a.earnings_eur == pytest.approx(a.delivered_kwh * 0.35, abs=1e-4)
    assert a.gas_compensation_eur > 0
    assert a.extra_gas_m3 == pytest.approx(truth[0].extra_gas_m3, rel=0.25)
    assert [m.final for m, _ in recorder.sent] == [False, False]
    assert all(retain for _, retain in recorder.sent)
    message = recorder.sent[0][0]
    assert isinstance(message, Statement)
    assert (message.period, message.events) == ("2025-01", 1)

    stored = await issuer.stored("2025-01")
    assert [r.home_id for r in stored] == ["h-a", "h-b"]
    assert all(r.published_at == AFTER for r in stored)
    lines = list(csv.reader(io.StringIO(statements_csv(stored))))
    assert tuple(lines[0]) == STATEMENT_COLUMNS
    assert lines[1][:3] == ["2025-01", "h-a", "tr-1"]
    assert float(lines[1][5]) == pytest.approx(a.earnings_eur, abs=0.005)

    # After the month: issued again, final, replacing the earlier rows.
    clock.moment = datetime(2025, 2, 1, 6, 0, tzinfo=UTC)
    again = await issuer.issue("2025-01")
    assert all(s.statement.final for s in again)
    assert again[0].settlement.delivered_kwh == pytest.approx(a.delivered_kwh)
    async with sessions() as session:
        rows = (await session.execute(select(SettlementStatementRow))).scalars().all()
    assert len(rows) == 2
    assert all(r.final for r in rows)


async def test_unsent_statements_are_stored_unpublished(engine: AsyncEngine) -> None:
    sessions = session_factory(engine)
    await seed_street(sessions, homes={"h-a": None})
    clock = FixedClock(AFTER)
    issuer = StatementIssuer(
        sessions,
        TelemetryFlexSource(sessions, clock=clock, config=CONFIG),
        clock=clock,
        publisher=Recorder(fail=True),
    )
    [issued] = await issuer.issue("2025-01")
    assert not issued.published
    [row] = await issuer.stored("2025-01")
    assert row.published_at is None
    assert row.delivered_kwh > 0  # nothing lost


async def test_cancelled_event_ends_early(engine: AsyncEngine) -> None:
    sessions = session_factory(engine)
    await seed_street(sessions, homes={"h-a": None})
    async with sessions() as session:
        await session.execute(
            update(EventRow).values(cancelled_at=EVENT_START + timedelta(hours=1))
        )
        await session.commit()
    flex = TelemetryFlexSource(sessions, clock=FixedClock(AFTER), config=CONFIG)
    assert len(await flex("tr-1", EVENT_START, EVENT_END)) == 4


async def test_bad_requests(engine: AsyncEngine) -> None:
    sessions = session_factory(engine)
    clock = FixedClock(AFTER)
    flex = TelemetryFlexSource(sessions, clock=clock, config=CONFIG)
    with pytest.raises(UnknownCongestionPointError, match="tr-nope"):
        await flex("tr-nope", EVENT_START, EVENT_END)
    with pytest.raises(BadRangeError):
        await flex("tr-1", EVENT_END, EVENT_START)
    issuer = StatementIssuer(sessions, flex, clock=clock)
    with pytest.raises(BadPeriodError, match="not started"):
        await issuer.issue("2025-02")
    with pytest.raises(BadPeriodError, match="YYYY-MM"):
        await issuer.stored("2025-1")
    assert await issuer.issue("2025-01") == []  # no homes yet: nothing to send
