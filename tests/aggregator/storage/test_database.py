"""Migrations and the tables behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import inspect, select
from sqlalchemy.exc import IntegrityError, StatementError
from sqlalchemy.ext.asyncio import AsyncEngine

from dacs.aggregator.storage.database import migrate, normalise_url, session_factory
from dacs.aggregator.storage.tables import CongestionPointRow, HomeRow, TelemetryRow

T0 = datetime(2025, 2, 2, 17, 0, tzinfo=UTC)


async def test_migration_creates_every_table(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        names = await connection.run_sync(
            lambda sync: set(inspect(sync).get_table_names())
        )
    assert {
        "congestion_points",
        "homes",
        "enrollment_codes",
        "telemetry",
        "events",
        "commands",
        "transformer_measurements",
        "alerts",
        "alembic_version",
    } <= names
    await migrate(engine)  # running again is a no-op


async def test_times_come_back_in_utc(engine: AsyncEngine) -> None:
    sessions = session_factory(engine)
    amsterdam = timezone(timedelta(hours=1))
    async with sessions() as session:
        session.add(
            CongestionPointRow(
                id="tr-1",
                name="Dalen-Noord",
                rated_capacity_kw=250,
                grid_operator="Enexis",
                ean=None,
                created_at=datetime(2025, 2, 2, 18, 0, tzinfo=amsterdam),
            )
        )
        await session.commit()
    async with sessions() as session:
        row = (await session.execute(select(CongestionPointRow))).scalar_one()
    assert row.created_at == T0
    assert row.created_at.tzinfo is not None


async def test_naive_times_are_refused(engine: AsyncEngine) -> None:
    async with session_factory(engine)() as session:
        session.add(
            CongestionPointRow(
                id="tr-1",
                name="x",
                rated_capacity_kw=1,
                grid_operator="y",
                ean=None,
                created_at=datetime(2025, 1, 1),  # noqa: DTZ001 - naive on purpose
            )
        )
        with pytest.raises(StatementError, match="naive datetimes"):
            await session.commit()


async def test_duplicate_telemetry_cannot_enter(engine: AsyncEngine) -> None:
    sessions = session_factory(engine)
    async with sessions() as session:
        session.add(
            CongestionPointRow(
                id="tr-1",
                name="x",
                rated_capacity_kw=1,
                grid_operator="y",
                ean=None,
                created_at=T0,
            )
        )
        session.add(
            HomeRow(id="h-0001", congestion_point_id="tr-1", ean=None, enrolled_at=T0)
        )
        await session.commit()

    def row(seq: int) -> TelemetryRow:
        return TelemetryRow(
            home_id="h-0001",
            boot_id="b1",
            seq=seq,
            ts=T0,
            electric_power_w=1000,
            thermal_power_w=None,
            boiler_active=None,
            boiler_thermal_w=None,
            indoor_temp_c=20.0,
            outdoor_temp_c=1.0,
            electric_energy_kwh=None,
            limit_w=None,
            limit_source="none",
            command_id=None,
            participation="on",
            comfort_override=False,
        )

    async with sessions() as session:
        session.add_all([row(0), row(1)])
        await session.commit()
    async with sessions() as session:
        session.add(row(1))
        with pytest.raises(IntegrityError):
            await session.commit()


async def test_unknown_congestion_point_is_refused(engine: AsyncEngine) -> None:
    async with session_factory(engine)() as session:
        session.add(
            HomeRow(
                id="h-0001", congestion_point_id="nowhere", ean=None, enrolled_at=T0
            )
        )
        with pytest.raises(IntegrityError):
            await session.commit()


def test_url_normalisation() -> None:
    assert normalise_url("sqlite:///x.db") == "sqlite+aiosqlite:///x.db"
    assert normalise_url("postgresql://u@h:5/db") == "postgresql+asyncpg://u@h:5/db"
    assert normalise_url("postgres://u@h/db") == "postgresql+asyncpg://u@h/db"
    assert normalise_url("sqlite+aiosqlite:///y.db") == "sqlite+aiosqlite:///y.db"
