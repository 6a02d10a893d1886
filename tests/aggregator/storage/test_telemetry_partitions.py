"""Telemetry partitioned by day on a real PostgreSQL: placement, upkeep, retention, migration."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

from alembic import command
import pytest
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import AsyncEngine

from dacs.aggregator.config import ConfigError, DatabaseConfig, load_config
from dacs.aggregator.ingest.telemetry_writer import TelemetryWriter
from dacs.aggregator.partition_upkeep import PartitionUpkeepTask
from dacs.aggregator.storage.database import alembic_config, create_engine, migrate
from dacs.aggregator.storage.telemetry_partitions import (
    maintain_partitions,
    partition_days,
    partition_name,
)
from dacs.protocol import Telemetry

TODAY = datetime.now(UTC).date()


def _at(day: date, hour: int = 17) -> datetime:
    return datetime.combine(day, time(hour), UTC)


def _telemetry(seq: int, ts: datetime, home: str = "h-0001") -> Telemetry:
    return Telemetry(
        home_id=home, seq=seq, boot_id="b1", ts=ts, electric_power_w=1000.0 + seq
    )


# The conftest's migrated engine, on PostgreSQL only: SQLite has no partitions.
on_postgresql = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)


async def _write(engine: AsyncEngine, messages: list[Telemetry]) -> None:
    writer = TelemetryWriter(engine, batch_size=1000)
    for message in messages:
        writer.add(message)
    await writer.flush()


async def _where(engine: AsyncEngine) -> dict[str, int]:
    """Rows per partition, by the partition's name."""
    async with engine.connect() as connection:
        rows = await connection.execute(
            text("SELECT tableoid::regclass::text, count(*) FROM telemetry GROUP BY 1")
        )
        return {name: int(count) for name, count in rows}


async def _days(engine: AsyncEngine) -> list[date]:
    async with engine.connect() as connection:
        return await partition_days(connection)


@on_postgresql
async def test_rows_land_in_their_days_partition(engine: AsyncEngine) -> None:
    yesterday = TODAY - timedelta(days=1)
    await _write(
        engine,
        [_telemetry(1, _at(yesterday, 23)), _telemetry(2, _at(TODAY, 0))]
        + [_telemetry(3 + i, _at(TODAY, 12)) for i in range(3)],
    )
    assert await _where(engine) == {
        partition_name(yesterday): 1,
        partition_name(TODAY): 4,
    }


@on_postgresql
async def test_a_redelivered_message_is_still_stored_once(engine: AsyncEngine) -> None:
    message = _telemetry(1, _at(TODAY))
    await _write(engine, [message, message])
    await _write(engine, [message])
    assert await _where(engine) == {partition_name(TODAY): 1}


@on_postgresql
async def test_a_row_without_its_days_partition_waits_in_the_default_then_moves(
    engine: AsyncEngine,
) -> None:
    old = TODAY - timedelta(days=30)
    assert old not in await _days(engine)
    await _write(
        engine, [_telemetry(i, _at(old) + timedelta(minutes=i)) for i in range(5)]
    )
    assert await _where(engine) == {"telemetry_default": 5}
    upkeep = await maintain_partitions(
        engine, today=TODAY, ahead_days=7, retention_days=400
    )
    assert upkeep.rows_moved == 5
    assert old in upkeep.created
    assert await _where(engine) == {partition_name(old): 5}
    # The new partition takes the next rows of that day directly.
    await _write(engine, [_telemetry(10, _at(old, 3))])
    assert await _where(engine) == {partition_name(old): 6}


@on_postgresql
async def test_upkeep_makes_the_days_ahead_and_is_repeatable(
    engine: AsyncEngine,
) -> None:
    later = TODAY + timedelta(days=20)
    first = await maintain_partitions(
        engine, today=later, ahead_days=3, retention_days=400
    )
    assert first.created == tuple(later + timedelta(days=d) for d in range(-1, 4))
    again = await maintain_partitions(
        engine, today=later, ahead_days=3, retention_days=400
    )
    assert again.created == ()
    assert again.dropped == ()


@on_postgresql
async def test_a_far_future_row_stays_in_the_default_partition(
    engine: AsyncEngine,
) -> None:
    far = TODAY + timedelta(days=3650)  # a home's clock ten years ahead
    await _write(engine, [_telemetry(1, _at(far))])
    upkeep = await maintain_partitions(
        engine, today=TODAY, ahead_days=7, retention_days=400
    )
    assert far not in upkeep.created
    assert await _where(engine) == {"telemetry_default": 1}


@on_postgresql
async def test_retention_drops_only_the_partitions_before_the_window(
    engine: AsyncEngine,
) -> None:
    too_old = TODAY - timedelta(days=11)
    oldest_kept = TODAY - timedelta(days=10)
    recent = TODAY - timedelta(days=2)
    await _write(
        engine,
        [
            _telemetry(1, _at(too_old, 23)),
            _telemetry(2, _at(oldest_kept, 0)),
            _telemetry(3, _at(recent)),
            _telemetry(4, _at(TODAY)),
        ],
    )
    await maintain_partitions(engine, today=TODAY, ahead_days=2, retention_days=400)
    assert {too_old, oldest_kept, recent, TODAY} <= set(await _days(engine))

    upkeep = await maintain_partitions(
        engine, today=TODAY, ahead_days=2, retention_days=10
    )

    assert too_old in upkeep.dropped
    assert all(day < oldest_kept for day in upkeep.dropped)
    days = await _days(engine)
    assert min(days) == oldest_kept
    assert await _where(engine) == {
        partition_name(oldest_kept): 1,
        partition_name(recent): 1,
        partition_name(TODAY): 1,
    }


@on_postgresql
async def test_retention_also_expires_old_rows_in_the_default_partition(
    engine: AsyncEngine,
) -> None:
    # Made before the partitions of that far back exist: into the default.
    await _write(
        engine,
        [
            _telemetry(1, _at(TODAY - timedelta(days=500))),
            _telemetry(2, _at(TODAY - timedelta(days=3))),
        ],
    )
    upkeep = await maintain_partitions(
        engine, today=TODAY, ahead_days=1, retention_days=400
    )
    assert upkeep.rows_expired == 1
    assert upkeep.rows_moved == 1
    assert await _where(engine) == {partition_name(TODAY - timedelta(days=3)): 1}


async def test_the_migration_keeps_every_stored_row(postgres_dsn: str) -> None:
    engine = create_engine(postgres_dsn)
    days = [TODAY - timedelta(days=90), TODAY - timedelta(days=1), TODAY]
    try:
        await migrate(engine, "0001")
        await _write(
            engine,
            [
                _telemetry(i, _at(day) + timedelta(seconds=i))
                for i, day in enumerate(days)
            ]
            + [
                _telemetry(10 + i, _at(TODAY, 1) + timedelta(seconds=i))
                for i in range(3)
            ],
        )
        async with engine.connect() as connection:
            before = (
                await connection.execute(
                    text("SELECT id, home_id, seq, ts FROM telemetry ORDER BY id")
                )
            ).all()
        await migrate(engine)
        async with engine.connect() as connection:
            after = (
                await connection.execute(
                    text("SELECT id, home_id, seq, ts FROM telemetry ORDER BY id")
                )
            ).all()
            kind = await connection.scalar(
                text("SELECT relkind::text FROM pg_class WHERE relname = 'telemetry'")
            )
        assert kind == "p"
        assert after == before
        assert await _where(engine) == {
            partition_name(days[0]): 1,
            partition_name(days[1]): 1,
            partition_name(TODAY): 4,
        }
        # The writer goes on: ids continue, a row stored before is refused.
        await _write(
            engine, [_telemetry(0, _at(days[0])), _telemetry(99, _at(TODAY, 2))]
        )
        async with engine.connect() as connection:
            ids = (await connection.scalars(text("SELECT id FROM telemetry"))).all()
        assert len(ids) == len(before) + 1
        assert max(ids) > max(row.id for row in before)
    finally:
        await engine.dispose()


async def test_sqlite_keeps_a_plain_table_and_upkeep_does_nothing(
    tmp_path: Path,
) -> None:
    engine = create_engine(f"sqlite:///{tmp_path}/a.db")
    try:
        await migrate(engine)
        upkeep = await maintain_partitions(
            engine, today=TODAY, ahead_days=7, retention_days=400
        )
    finally:
        await engine.dispose()
    assert upkeep.created == ()
    assert upkeep.dropped == ()


class _FixedClock:
    def __init__(self, now: datetime) -> None:
        self._now = now

    def now(self) -> datetime:
        return self._now

    async def sleep(self, seconds: float) -> None:
        raise AssertionError("one pass only")


@on_postgresql
async def test_the_service_task_follows_the_configured_retention(
    engine: AsyncEngine,
) -> None:
    later = TODAY + timedelta(days=30)
    task = PartitionUpkeepTask(
        engine,
        DatabaseConfig(telemetry_retention_days=5, telemetry_partitions_ahead_days=1),
        _FixedClock(_at(later)),
    )
    upkeep = await task.run_once()
    assert upkeep.created == tuple(later + timedelta(days=d) for d in (-1, 0, 1))
    # What the migration made (yesterday up to a week ahead) is past the window.
    assert upkeep.dropped == tuple(TODAY + timedelta(days=d) for d in range(-1, 8))
    assert await _days(engine) == list(upkeep.created)


def test_a_retention_below_one_day_is_refused() -> None:
    with pytest.raises(ConfigError, match="telemetry_retention_days"):
        load_config(environ={"DACS_DATABASE_TELEMETRY_RETENTION_DAYS": "0"})
    config = load_config(environ={"DACS_DATABASE_TELEMETRY_RETENTION_DAYS": "731"})
    assert config.database.telemetry_retention_days == 731


def _downgrade_partitions(connection: Connection) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    command.downgrade(config, "0008_telemetry_partitions-1")


async def test_the_migration_goes_back_and_forth_with_every_row(
    postgres_dsn: str,
) -> None:
    engine = create_engine(postgres_dsn)
    try:
        await migrate(engine)
        await _write(
            engine,
            [_telemetry(i, _at(TODAY - timedelta(days=40 * i))) for i in range(5)],
        )
        kinds = []
        for step in ("down", "up"):
            async with engine.begin() as connection:
                if step == "down":
                    await connection.run_sync(_downgrade_partitions)
            if step == "up":
                await migrate(engine)
            async with engine.connect() as connection:
                kinds.append(
                    (
                        await connection.scalar(
                            text(
                                "SELECT relkind::text FROM pg_class WHERE relname = 'telemetry'"
                            )
                        ),
                        await connection.scalar(text("SELECT count(*) FROM telemetry")),
                    )
                )
    finally:
        await engine.dispose()
    assert kinds == [("r", 5), ("p", 5)]
