"""The supervisor on real asyncio tasks: restart, backoff, reset, finish, stop."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
import logging
import time

import pytest

from dacs.aggregator.supervisor import RestartBackoff, Supervisor

CRASHED_AT = datetime(2026, 1, 14, 16, 0, tzinfo=UTC)


class GatedSleep:
    """A backoff sleep the test ends when it wants to; records each wait asked for."""

    def __init__(self) -> None:
        self.waits: list[float] = []
        self.gate = asyncio.Event()

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        await self.gate.wait()
        self.gate.clear()


class Crashes:
    """Work that raises ``times`` times and then runs until cancelled."""

    def __init__(self, times: int) -> None:
        self.times = times
        self.starts = 0
        self.running = asyncio.Event()

    async def __call__(self) -> None:
        self.starts += 1
        if self.starts <= self.times:
            raise RuntimeError(f"crash {self.starts}")
        self.running.set()
        await asyncio.Event().wait()


async def _until(condition: Callable[[], object], within_s: float = 5.0) -> None:
    async with asyncio.timeout(within_s):
        while not condition():  # noqa: ASYNC110 - polling the supervisor's state
            await asyncio.sleep(0.005)


async def _forever() -> None:
    await asyncio.Event().wait()


async def test_a_crashed_task_is_logged_down_restarted_and_counted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    sleep = GatedSleep()
    supervisor = Supervisor(
        RestartBackoff(first_s=2.0, max_s=60.0), sleep=sleep, now=lambda: CRASHED_AT
    )
    work = Crashes(times=1)
    with caplog.at_level(logging.ERROR, logger="dacs.aggregator.supervisor"):
        supervisor.start("telemetry-writer", work)
        await _until(lambda: sleep.waits)
    # Down while it waits to start again, with the traceback in the log.
    [state] = supervisor.down
    assert (state.name, state.down_since, state.restarts) == (
        "telemetry-writer",
        CRASHED_AT,
        0,
    )
    crash = next(r for r in caplog.records if "telemetry-writer" in r.getMessage())
    assert crash.exc_info is not None
    assert "crash 1" in str(crash.exc_info[1])
    sleep.gate.set()
    await asyncio.wait_for(work.running.wait(), 5)
    assert supervisor.down == []
    assert [(s.name, s.restarts) for s in supervisor.states] == [
        ("telemetry-writer", 1)
    ]
    assert sleep.waits == [2.0]
    await supervisor.stop()


async def test_a_task_that_keeps_crashing_backs_off_to_the_cap() -> None:
    sleep = GatedSleep()
    supervisor = Supervisor(RestartBackoff(first_s=1.0, max_s=8.0), sleep=sleep)
    work = Crashes(times=6)
    supervisor.start("control-loop", work)
    for crash in range(1, 7):
        await _until(lambda n=crash: len(sleep.waits) == n)
        assert supervisor.down[0].restarts == crash - 1
        sleep.gate.set()
    await asyncio.wait_for(work.running.wait(), 5)
    assert sleep.waits == [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    assert supervisor.states[0].restarts == 6
    await supervisor.stop()


async def test_a_run_that_lasted_resets_the_backoff() -> None:
    clock = [0.0]
    sleep = GatedSleep()
    supervisor = Supervisor(
        RestartBackoff(first_s=1.0, max_s=60.0, healthy_after_s=300.0),
        sleep=sleep,
        monotonic=lambda: clock[0],
    )
    crash = asyncio.Event()

    async def work() -> None:
        await crash.wait()
        crash.clear()
        raise RuntimeError("lost the database")

    supervisor.start("ack-writer", work)
    for ran_s in (10.0, 10.0, 10.0, 301.0, 10.0):
        await asyncio.sleep(0)
        clock[0] += ran_s
        waits = len(sleep.waits)
        crash.set()
        await _until(lambda w=waits: len(sleep.waits) == w + 1)
        sleep.gate.set()
    # Doubling, then a run of 301 s (longer than healthy_after_s) starts over.
    assert sleep.waits == [1.0, 2.0, 4.0, 1.0, 2.0]
    await supervisor.stop()


async def test_a_task_that_returns_has_finished() -> None:
    supervisor = Supervisor(sleep=GatedSleep())
    done = asyncio.Event()

    async def work() -> None:
        done.set()

    handle = supervisor.start("openadr-notifier", work)
    await asyncio.wait_for(done.wait(), 5)
    assert handle.task is not None
    await asyncio.wait_for(handle.task, 5)
    assert supervisor.states == []
    assert supervisor.down == []


async def test_a_cancellation_from_within_counts_as_a_crash() -> None:
    sleep = GatedSleep()
    supervisor = Supervisor(sleep=sleep)
    starts = 0

    async def work() -> None:
        nonlocal starts
        starts += 1
        if starts == 1:
            raise asyncio.CancelledError  # as a library's leaked cancellation would
        await asyncio.Event().wait()

    supervisor.start("broker-link", work)
    await _until(lambda: sleep.waits)
    assert [s.name for s in supervisor.down] == ["broker-link"]
    sleep.gate.set()
    await _until(lambda: starts == 2)
    await supervisor.stop()


async def test_stop_cancels_running_and_waiting_tasks_at_once() -> None:
    supervisor = Supervisor(RestartBackoff(first_s=3600.0, max_s=3600.0))
    cleaned_up = asyncio.Event()

    async def running() -> None:
        try:
            await asyncio.Event().wait()
        finally:
            cleaned_up.set()

    async def crashing() -> None:
        raise RuntimeError("down for an hour")

    handles = [
        supervisor.start("control-loop", running),
        supervisor.start("statement-schedule", crashing),
    ]
    await _until(lambda: supervisor.down)
    started = time.monotonic()
    await supervisor.stop()
    assert time.monotonic() - started < 1
    assert all(h.task is not None and h.task.cancelled() for h in handles)
    assert cleaned_up.is_set()
    assert supervisor.states == []


async def test_one_task_stops_alone_and_names_are_unique() -> None:
    supervisor = Supervisor()
    first = supervisor.start("openadr-poll", _forever)
    other = supervisor.start("control-loop", _forever)
    with pytest.raises(ValueError, match="openadr-poll"):
        supervisor.start("openadr-poll", _forever)
    await first.stop()
    assert [s.name for s in supervisor.states] == ["control-loop"]
    assert other.task is not None
    assert not other.task.done()
    await supervisor.stop()


@pytest.mark.parametrize(
    ("first_s", "max_s", "healthy_after_s"),
    [(0.0, 1.0, 1.0), (2.0, 1.0, 1.0), (1.0, 1.0, 0.0)],
)
def test_backoff_that_could_not_work_is_refused(
    first_s: float, max_s: float, healthy_after_s: float
) -> None:
    with pytest.raises(ValueError, match=r"first_s|healthy_after_s"):
        RestartBackoff(first_s=first_s, max_s=max_s, healthy_after_s=healthy_after_s)
