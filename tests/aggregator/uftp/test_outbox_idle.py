"""Waiting for the outbox to be idle never spins on deliveries that already finished."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from dacs.aggregator.uftp.config import UftpConfig
from dacs.aggregator.uftp.outbox import Outbox


@pytest.mark.timeout(10)
async def test_idle_returns_when_the_last_delivery_just_finished() -> None:
    outbox = Outbox(
        UftpConfig(),
        secret="",
        participants=None,  # type: ignore[arg-type]  # not used by idle()
        sessions=None,  # type: ignore[arg-type]
        now=lambda: datetime.now(UTC),
    )

    async def delivered() -> None:
        return None

    outbox._spawn(delivered())
    # The delivery finishes; the callback that forgets it is only queued.
    await asyncio.sleep(0)
    assert [task.done() for task in outbox._tasks] == [True]
    async with asyncio.timeout(5):
        await outbox.idle()
    await asyncio.sleep(0)
    assert not outbox._tasks
