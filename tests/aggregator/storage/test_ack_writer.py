"""Acks reach the commands table in batches: by size, by age, on stop, after a failure."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import event, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from dacs.aggregator.storage.ack_writer import AckWriter
from dacs.aggregator.storage.database import create_engine, migrate
from dacs.aggregator.storage.tables import CommandRow
from dacs.protocol import Ack, AckReason, AckResult

NOW = datetime(2025, 2, 2, 17, 0, tzinfo=UTC)


async def _commands(engine: AsyncEngine, count: int) -> None:
    async with engine.begin() as connection:
        await connection.execute(
            insert(CommandRow),
            [
                {
                    "command_id": f"c-{i}",
                    "home_id": f"h-{i}",
                    "event_id": None,
                    "issued_at": NOW,
                    "expires_at": NOW + timedelta(hours=1),
                    "reason": "congestion",
                    "envelope": [],
                }
                for i in range(count)
            ],
        )


def _ack(
    i: int,
    *,
    home_id: str | None = None,
    reason: AckReason = AckReason.OK,
    seconds: int = 0,
) -> Ack:
    return Ack(
        home_id=home_id or f"h-{i}",
        command_id=f"c-{i}",
        ts=NOW + timedelta(seconds=seconds),
        result=AckResult.REJECTED if reason is AckReason.PAUSED else AckResult.ACCEPTED,
        reason_code=reason,
    )


async def _answers(engine: AsyncEngine) -> dict[str, tuple[str | None, str | None]]:
    async with engine.connect() as connection:
        rows = await connection.execute(
            select(CommandRow.command_id, CommandRow.ack_result, CommandRow.ack_reason)
        )
        return {command_id: (result, reason) for command_id, result, reason in rows}


async def _eventually(condition: Callable[[], bool], within_s: float) -> None:
    async with asyncio.timeout(within_s):
        while not condition():  # noqa: ASYNC110 - polling the writer's counter
            await asyncio.sleep(0.02)


async def test_a_full_batch_is_written_at_once(engine: AsyncEngine) -> None:
    await _commands(engine, 3)
    writer = AckWriter(engine, batch_size=3, flush_s=60)  # age can never trigger
    task = asyncio.create_task(writer.run())
    try:
        statements: list[str] = []
        event.listen(
            engine.sync_engine,
            "before_cursor_execute",
            lambda *args: statements.append(args[2]),
        )
        for i in range(3):
            writer.add(_ack(i))
        await _eventually(lambda: writer.written == 3, 5)
        # One UPDATE statement (executemany) for the batch, not one per ack.
        assert sum(s.lstrip().upper().startswith("UPDATE") for s in statements) == 1
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert await _answers(engine) == {f"c-{i}": ("accepted", "ok") for i in range(3)}


async def test_a_small_batch_is_written_when_it_is_old_enough(
    engine: AsyncEngine,
) -> None:
    await _commands(engine, 1)
    writer = AckWriter(engine, batch_size=1000, flush_s=0.3)
    task = asyncio.create_task(writer.run())
    try:
        writer.add(_ack(0))
        await asyncio.sleep(0.1)
        assert writer.pending == 1  # not yet: younger than flush_s
        await _eventually(lambda: writer.written == 1, 5)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert (await _answers(engine))["c-0"] == ("accepted", "ok")


async def test_stop_writes_what_is_buffered(engine: AsyncEngine) -> None:
    await _commands(engine, 2)
    writer = AckWriter(engine, batch_size=1000, flush_s=60)
    task = asyncio.create_task(writer.run())
    await asyncio.sleep(0)  # the writer waits for its batch
    writer.add(_ack(0))
    writer.add(_ack(1))
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert writer.pending == 0
    assert await _answers(engine) == {
        "c-0": ("accepted", "ok"),
        "c-1": ("accepted", "ok"),
    }


async def test_later_answer_wins_and_homes_answer_only_for_themselves(
    engine: AsyncEngine,
) -> None:
    await _commands(engine, 2)
    writer = AckWriter(engine)
    writer.add(_ack(0))
    writer.add(_ack(0, reason=AckReason.CANCELLED, seconds=60))
    writer.add(_ack(1, home_id="h-0"))  # h-0 may not answer for h-1's command
    assert await writer.flush() == 3
    assert await _answers(engine) == {
        "c-0": ("accepted", "cancelled"),
        "c-1": (None, None),
    }


async def test_a_failed_write_keeps_the_batch(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'late.db'}")  # no tables yet
    try:
        writer = AckWriter(engine)
        writer.add(_ack(0))
        with pytest.raises(Exception, match="commands"):
            await writer.flush()
        assert writer.pending == 1
        assert writer.failures == 1
        await migrate(engine)
        await _commands(engine, 1)
        assert await writer.flush() == 1
        assert (await _answers(engine))["c-0"] == ("accepted", "ok")
    finally:
        await engine.dispose()


def test_batch_settings_are_checked(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'x.db'}")
    with pytest.raises(ValueError, match="batch_size"):
        AckWriter(engine, batch_size=0)
    with pytest.raises(ValueError, match="flush_s"):
        AckWriter(engine, flush_s=0)
