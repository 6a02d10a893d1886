"""Batched telemetry storage on both backends: duplicates skipped, nothing lost."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from dacs.aggregator.ingest.telemetry_writer import TelemetryWriter
from dacs.aggregator.storage.database import create_engine, session_factory
from dacs.aggregator.storage.tables import TelemetryRow
from dacs.protocol import LimitSource, Participation, Telemetry

T0 = datetime(2025, 2, 2, 17, 0, tzinfo=UTC)


def _telemetry(seq: int, home: str = "h-0001") -> Telemetry:
    return Telemetry(
        home_id=home,
        seq=seq,
        boot_id="b1",
        ts=T0 + timedelta(seconds=10 * seq),
        electric_power_w=1000.0 + seq,
        thermal_power_w=3000.0,
        boiler_active=False,
        boiler_thermal_w=0.0,
        indoor_temp_c=20.0,
        outdoor_temp_c=1.0,
        flow_temp_c=40.0,
        electric_energy_kwh=12.5,
        limit_w=None,
        limit_source=LimitSource.NONE,
        command_id=None,
        participation=Participation.ON,
        comfort_override=False,
        device_fault=0,
    )


async def _count(engine: AsyncEngine) -> int:
    async with session_factory(engine)() as session:
        return int(
            (
                await session.execute(select(func.count()).select_from(TelemetryRow))
            ).scalar_one()
        )


async def test_batches_and_duplicates(engine: AsyncEngine) -> None:
    writer = TelemetryWriter(engine, batch_size=50)
    for seq in range(120):
        writer.add(_telemetry(seq))
    for seq in range(100, 130):  # 20 redelivered, 10 new
        writer.add(_telemetry(seq))
    await writer.flush()
    assert await _count(engine) == 130
    assert writer.written == 150  # handed over; the database skipped 20
    async with session_factory(engine)() as session:
        row = (
            await session.execute(select(TelemetryRow).where(TelemetryRow.seq == 7))
        ).scalar_one()
    assert row.electric_power_w == 1007.0
    assert row.ts == T0 + timedelta(seconds=70)


async def test_background_flush_by_age_and_on_stop(engine: AsyncEngine) -> None:
    writer = TelemetryWriter(engine, batch_size=10_000, flush_s=0.1)
    task = asyncio.create_task(writer.run())
    writer.add(_telemetry(0))
    for _ in range(50):
        await asyncio.sleep(0.05)
        if await _count(engine) == 1:
            break
    assert await _count(engine) == 1
    writer.add(_telemetry(1))
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert await _count(engine) == 2  # flushed on the way out


async def test_a_row_the_database_refuses_is_kept_aside_and_the_rest_written(
    engine: AsyncEngine,
) -> None:
    """One bad row must not hold back every row after it (it was retried forever)."""
    postgres = engine.dialect.name == "postgresql"
    bad = [replace(_telemetry(3), home_id=None)]  # type: ignore[arg-type]  # hostile on purpose
    if postgres:  # what only PostgreSQL refuses: a NUL byte, a too long id
        bad += [
            replace(_telemetry(5), boot_id="b\x00"),
            replace(_telemetry(7), home_id="x" * 100),
        ]
    bad_seqs = {row.seq for row in bad}
    writer = TelemetryWriter(engine, batch_size=100)
    for seq in range(40):
        writer.add(next((row for row in bad if row.seq == seq), _telemetry(seq)))
    assert await writer.flush() == 40
    assert writer.pending == 0
    assert writer.dead_lettered == len(bad)
    assert [row[2] for row in writer.dead_letters] == sorted(bad_seqs)  # seq column
    async with session_factory(engine)() as session:
        seqs = (await session.execute(select(TelemetryRow.seq))).scalars().all()
    assert sorted(seqs) == [seq for seq in range(40) if seq not in bad_seqs]
    # The writer goes on: the next batch is written as usual.
    writer.add(_telemetry(40))
    assert await writer.flush() == 1
    assert await _count(engine) == 41 - len(bad)


async def _rename_telemetry(engine: AsyncEngine, old: str, new: str) -> None:
    async with engine.begin() as connection:
        await connection.execute(text(f"ALTER TABLE {old} RENAME TO {new}"))


async def test_a_batch_refused_whole_is_written_whole_later(
    engine: AsyncEngine,
) -> None:
    writer = TelemetryWriter(engine, batch_size=10)
    for seq in range(5):
        writer.add(_telemetry(seq))
    await writer.flush()
    await _rename_telemetry(engine, "telemetry", "telemetry_away")
    for seq in range(3, 12):  # two already stored, seven new
        writer.add(_telemetry(seq))
    with pytest.raises(Exception, match="telemetry"):
        await writer.flush()
    assert writer.pending == 9
    assert writer.failures == 1
    writer.add(_telemetry(12))
    await _rename_telemetry(engine, "telemetry_away", "telemetry")
    assert await writer.flush() == 10
    assert writer.pending == 0
    assert await _count(engine) == 13  # nothing lost, nothing twice
    async with session_factory(engine)() as session:
        seqs = (await session.execute(select(TelemetryRow.seq))).scalars().all()
    assert sorted(seqs) == list(range(13))


# A server-side disconnect exists on PostgreSQL only.
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_written_after_the_database_dropped_the_connection(
    engine: AsyncEngine,
) -> None:
    assert engine.dialect.name == "postgresql"
    writer = TelemetryWriter(engine)
    writer.add(_telemetry(0))
    await writer.flush()  # the pooled session now has its staging table
    async with engine.connect() as connection:
        own = (await connection.execute(text("SELECT pg_backend_pid()"))).scalar_one()
    outsider = create_engine(engine.url.render_as_string(hide_password=False))
    try:
        async with outsider.connect() as connection:
            await connection.execute(
                text("SELECT pg_terminate_backend(:pid)"), {"pid": own}
            )
    finally:
        await outsider.dispose()
    writer.add(_telemetry(1))
    writer.add(_telemetry(0))  # redelivered
    await writer.flush()  # a fresh session: the staging table is made again
    assert await _count(engine) == 2


async def test_stopping_mid_write_loses_nothing(
    engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer = TelemetryWriter(engine, batch_size=10, flush_s=60)
    real_write = writer._write
    writing = asyncio.Event()

    async def stuck_once(batch: list[tuple[object, ...]]) -> None:
        monkeypatch.setattr(writer, "_write", real_write)
        writing.set()
        await asyncio.sleep(60)  # a database that does not answer

    monkeypatch.setattr(writer, "_write", stuck_once)
    task = asyncio.create_task(writer.run())
    for seq in range(10):
        writer.add(_telemetry(seq))
    await asyncio.wait_for(writing.wait(), 5)
    writer.add(_telemetry(10))
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert writer.pending == 0
    assert writer.failures == 0  # a cancel is not a database failure
    assert await _count(engine) == 11


def _reporting(engine: AsyncEngine) -> tuple[TelemetryWriter, list[int]]:
    """A writer, and the seqs it reports stored."""
    stored: list[int] = []
    writer = TelemetryWriter(
        engine, batch_size=100, on_stored=lambda rows: stored.extend(r[2] for r in rows)
    )
    return writer, stored


async def test_only_committed_rows_are_reported_stored(engine: AsyncEngine) -> None:
    """What the writer reports is what a receipt may promise: committed, copies too."""
    writer, stored = _reporting(engine)
    for seq in range(5):
        writer.add(_telemetry(seq))
    await writer.flush()
    assert stored == [0, 1, 2, 3, 4]
    await _rename_telemetry(engine, "telemetry", "telemetry_away")
    writer.add(_telemetry(5))
    with pytest.raises(Exception, match="telemetry"):
        await writer.flush()
    assert stored == [0, 1, 2, 3, 4]  # not committed: not reported
    await _rename_telemetry(engine, "telemetry_away", "telemetry")
    writer.add(_telemetry(2))  # a resend of a stored row is in the database too
    await writer.flush()
    assert sorted(stored) == [0, 1, 2, 2, 3, 4, 5]
    assert await _count(engine) == 6


async def test_a_refused_row_is_never_reported_stored(engine: AsyncEngine) -> None:
    writer, stored = _reporting(engine)
    for seq in range(8):
        writer.add(
            replace(_telemetry(seq), home_id=None)  # type: ignore[arg-type]  # hostile on purpose
            if seq == 3
            else _telemetry(seq)
        )
    await writer.flush()
    assert sorted(stored) == [0, 1, 2, 4, 5, 6, 7]
    assert writer.dead_lettered == 1
