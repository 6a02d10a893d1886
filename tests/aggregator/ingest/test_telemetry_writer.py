"""Batched telemetry storage on both backends: duplicates skipped, nothing lost."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from dacs.aggregator.ingest.telemetry_writer import TelemetryWriter
from dacs.aggregator.storage.database import session_factory
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


async def test_failed_write_keeps_the_batch(engine: AsyncEngine) -> None:
    writer = TelemetryWriter(engine)
    writer.add(_telemetry(0, home="x" * 100))  # too long for the column on PostgreSQL
    writer.add(_telemetry(1))
    try:
        await writer.flush()
    except Exception:  # noqa: BLE001 - SQLite has no length limit, PostgreSQL refuses
        assert writer.pending == 2
        assert writer.failures == 1
    else:
        assert await _count(engine) == 2
