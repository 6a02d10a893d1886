"""The demo's seeded history: stored once, on both databases, and good enough for a baseline."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from dacs.aggregator.settlement.config import SettlementConfig
from dacs.aggregator.settlement.flex_source import TelemetryFlexSource
from dacs.aggregator.storage.database import session_factory
from dacs.aggregator.storage.tables import (
    CongestionPointRow,
    EventRow,
    HomeRow,
    TelemetryRow,
)
from dacs.testbed.neighbourhood.history import (
    HISTORY_BOOT_ID,
    UnknownHomeError,
    seed_history,
)
from dacs.testbed.neighbourhood.scenario import Scenario
from dacs.testbed.sim.home_config import HybridHomeConfig
from dacs.testbed.sim.hybrid import simulate_year
from dacs.testbed.sim.weather import WeatherSeries

from .street import FixedClock

SCENARIO = Scenario(homes=3)
WEATHER = WeatherSeries.default(wrap=True)
HOMES = ["h-hist-0", "h-hist-1", "h-hist-2"]


async def _enroll(sessions: async_sessionmaker[AsyncSession], ids: list[str]) -> None:
    async with sessions() as session:
        session.add(
            CongestionPointRow(
                id="tr-hist",
                name="Street",
                rated_capacity_kw=100,
                grid_operator="DSO",
                ean=None,
                created_at=SCENARIO.start,
            )
        )
        await session.flush()
        session.add_all(
            HomeRow(
                id=home_id,
                congestion_point_id="tr-hist",
                ean=None,
                enrolled_at=SCENARIO.start,
                preferences=None,
            )
            for home_id in ids
        )
        await session.commit()


def _homes() -> list[tuple[str, HybridHomeConfig]]:
    return list(zip(HOMES, SCENARIO.home_configs(), strict=True))


async def _stored(sessions: async_sessionmaker[AsyncSession]) -> list[TelemetryRow]:
    async with sessions() as session:
        return list(
            (
                await session.execute(
                    select(TelemetryRow).order_by(TelemetryRow.home_id, TelemetryRow.ts)
                )
            )
            .scalars()
            .all()
        )


async def test_history_is_stored_once_over_the_days_before_the_end(
    engine: AsyncEngine,
) -> None:
    sessions = session_factory(engine)
    await _enroll(sessions, HOMES)
    seeded = await seed_history(
        sessions, homes=_homes(), end=SCENARIO.start, weather=WEATHER, days=2
    )
    per_home = 2 * 86_400 // 300
    assert seeded.rows == 3 * per_home
    assert seeded.start == SCENARIO.start - timedelta(days=2)
    rows = await _stored(sessions)
    assert len(rows) == seeded.rows
    for home_id in HOMES:
        mine = [r for r in rows if r.home_id == home_id]
        assert len(mine) == per_home
        assert mine[0].ts == SCENARIO.start - timedelta(days=2)
        assert mine[-1].ts == SCENARIO.start - timedelta(seconds=300)
        assert all(r.boot_id == HISTORY_BOOT_ID for r in mine)
        assert len({r.seq for r in mine}) == per_home
        assert all(r.limit_source == "none" for r in mine)
        # A frosty January: the house is heated (by the heat pump or, in the
        # coldest hours, by the boiler alone).
        heating = [(r.electric_power_w or 0) + (r.boiler_thermal_w or 0) for r in mine]
        assert np.mean(heating) > 200
        assert all(r.outdoor_temp_c is not None for r in mine)
    setpoints = [c.room_setpoint_c for _, c in _homes()]
    for (home_id, indoor), setpoint in zip(
        seeded.final_indoor_c.items(), setpoints, strict=True
    ):
        assert home_id in HOMES
        assert abs(indoor - setpoint) < 0.5

    # Seeding the same history again adds nothing and duplicates nothing.
    again = await seed_history(
        sessions, homes=_homes(), end=SCENARIO.start, weather=WEATHER, days=2
    )
    assert again.rows == 0
    async with sessions() as session:
        duplicates = (
            await session.execute(
                select(TelemetryRow.home_id, TelemetryRow.boot_id, TelemetryRow.seq)
                .group_by(TelemetryRow.home_id, TelemetryRow.boot_id, TelemetryRow.seq)
                .having(func.count() > 1)
            )
        ).all()
        total = (
            await session.execute(select(func.count()).select_from(TelemetryRow))
        ).scalar_one()
    assert duplicates == []
    assert total == seeded.rows


async def test_unknown_homes_store_nothing(engine: AsyncEngine) -> None:
    sessions = session_factory(engine)
    await _enroll(sessions, HOMES[:2])
    with pytest.raises(UnknownHomeError, match="h-hist-2"):
        await seed_history(
            sessions, homes=_homes(), end=SCENARIO.start, weather=WEATHER, days=1
        )
    assert await _stored(sessions) == []


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"end": datetime(2025, 1, 20, 13, 0)}, "time zone"),  # noqa: DTZ001
        ({"days": 0}, "days"),
        ({"days": float("nan")}, "days"),
        ({"days": 61}, "days"),
        ({"step_s": 90.0}, "step_s"),
        ({"step_s": 7200.0}, "step_s"),
        ({"days": 0.001}, "no step"),
    ],
)
async def test_bad_arguments_are_refused(
    changes: dict[str, object], message: str
) -> None:
    arguments: dict[str, object] = {
        "homes": [],
        "end": SCENARIO.start,
        "weather": WEATHER,
        "days": 1.0,
        "step_s": 300.0,
    } | changes
    # Checked before the database is touched: no sessions needed.
    with pytest.raises(ValueError, match=message):
        await seed_history(None, **arguments)  # type: ignore[arg-type]  # refused first


async def test_repeated_home_is_refused(engine: AsyncEngine) -> None:
    sessions = session_factory(engine)
    await _enroll(sessions, HOMES)
    homes = _homes()
    with pytest.raises(ValueError, match="only once"):
        await seed_history(
            sessions, homes=[*homes, homes[0]], end=SCENARIO.start, weather=WEATHER
        )


async def test_settlement_fits_a_baseline_on_the_seeded_history(
    engine: AsyncEngine,
) -> None:
    """A week of history gives every home its own baseline close to the simulator's truth."""
    sessions = session_factory(engine)
    await _enroll(sessions, HOMES)
    await seed_history(sessions, homes=_homes(), end=SCENARIO.start, weather=WEATHER)
    begin, end = SCENARIO.event_window
    # The evening under a full stop: every interval limited, the heat pumps off.
    async with sessions() as session:
        session.add(
            EventRow(
                id="ev-hist",
                congestion_point_id="tr-hist",
                kind="manual",
                reason="congestion",
                start=begin,
                end=end,
                intervals=[],
                created_at=SCENARIO.start,
                created_by="test",
            )
        )
        steps = int((end - begin).total_seconds() // 60)
        for home_id in HOMES:
            session.add_all(
                TelemetryRow(
                    home_id=home_id,
                    boot_id="live",
                    seq=i,
                    ts=begin + timedelta(minutes=i),
                    electric_power_w=0.0,
                    thermal_power_w=0.0,
                    boiler_active=True,
                    boiler_thermal_w=5000.0,
                    indoor_temp_c=20.0,
                    outdoor_temp_c=WEATHER.at(
                        begin + timedelta(minutes=i)
                    ).outdoor_temp_c,
                    electric_energy_kwh=None,
                    limit_w=0.0,
                    limit_source="aggregator",
                    command_id="c-1",
                    participation="on",
                    comfort_override=False,
                )
                for i in range(steps)
            )
        await session.commit()
    flex = TelemetryFlexSource(
        sessions,
        clock=FixedClock(end + timedelta(hours=1)),
        config=SettlementConfig(history_days=7, min_history_days=3),
    )
    deliveries = await flex.home_deliveries("tr-hist", begin, end)
    assert [d.home_id for d in deliveries] == HOMES
    for delivery, (_, config) in zip(deliveries, _homes(), strict=True):
        assert np.all(np.isfinite(delivery.baseline_kw))
        # The truth: the same home carried on without a limit through the evening.
        free = simulate_year(
            config,
            WEATHER,
            SCENARIO.start - timedelta(days=7),
            60.0,
            duration_s=(end - SCENARIO.start + timedelta(days=7)).total_seconds(),
            record=True,
        )
        assert free.trace is not None
        true_kwh = float(free.trace.hp_electric_w[-steps:].sum()) / 1000 * 60 / 3600
        assert true_kwh > 1.0
        assert delivery.delivered_kwh == pytest.approx(true_kwh, rel=0.15)
        assert delivery.events == frozenset({"ev-hist"})
