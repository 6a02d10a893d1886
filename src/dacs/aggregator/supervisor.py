"""Keeps the aggregator's long-running tasks running: restart on a crash, with backoff.

A task is one of the loops the service lives by (the broker link that
ingests, the writers, the control loop, the grid adapters' pollers, the
statement schedule). When one raises, the supervisor logs the traceback,
marks the task down (``/health`` then answers 503), waits and starts it
again. The waits double from ``RestartBackoff.first_s`` up to ``max_s``; a
run that lasted ``healthy_after_s`` starts the doubling over, so a task that
fails once a day comes back at once and one that fails at every start does
not spin. A task that returns has finished its job and is not restarted.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime
import logging
import time
from typing import Any

_LOGGER = logging.getLogger(__name__)

type Work = Callable[[], Coroutine[Any, Any, None]]


@dataclass(frozen=True, kw_only=True)
class RestartBackoff:
    """How long to wait before starting a crashed task again."""

    first_s: float = 1.0
    max_s: float = 60.0
    healthy_after_s: float = 60.0  # a run this long resets the waits

    def __post_init__(self) -> None:
        """Refuse waits that could not work."""
        if not 0 < self.first_s <= self.max_s:
            raise ValueError(
                f"restart backoff needs 0 < first_s <= max_s, not {self.first_s}, {self.max_s}"
            )
        if self.healthy_after_s <= 0:
            raise ValueError("healthy_after_s must be positive")


@dataclass(kw_only=True)
class TaskState:
    """What /health and /metrics say about one supervised task."""

    name: str
    restarts: int = 0
    down_since: datetime | None = None  # set while it waits to be started again

    @property
    def down(self) -> bool:
        """True between a crash and the restart."""
        return self.down_since is not None


class SupervisedTask:
    """One task under supervision; stop() ends it and forgets it."""

    def __init__(self, supervisor: Supervisor, state: TaskState) -> None:
        """Held by the supervisor; made by Supervisor.start()."""
        self._supervisor = supervisor
        self.state = state
        self.task: asyncio.Task[None] | None = None

    async def stop(self) -> None:
        """Cancel the task and wait until it has ended."""
        self._supervisor.forget(self)
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)


class Supervisor:
    """Starts, restarts and stops the service's long-running tasks."""

    def __init__(
        self,
        backoff: RestartBackoff | None = None,
        *,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        """Wall-clock ``now`` for "down since"; ``sleep`` and ``monotonic`` for the waits."""
        self.backoff = backoff or RestartBackoff()
        self._now = now
        self._sleep = sleep
        self._monotonic = monotonic
        self._running: dict[str, SupervisedTask] = {}

    def start(self, name: str, work: Work) -> SupervisedTask:
        """Run ``work()`` as task ``name``, and again whenever it raises."""
        if name in self._running:
            raise ValueError(f"a task named {name!r} is supervised already")
        handle = SupervisedTask(self, TaskState(name=name))
        self._running[name] = handle
        handle.task = asyncio.create_task(
            self._keep_running(handle, work), name=f"dacs-{name}"
        )
        return handle

    def forget(self, handle: SupervisedTask) -> None:
        """No longer report ``handle`` (it is being stopped)."""
        if self._running.get(handle.state.name) is handle:
            del self._running[handle.state.name]

    async def stop(self) -> None:
        """Cancel every task and wait until all have ended."""
        handles = list(self._running.values())
        self._running.clear()
        for handle in handles:
            if handle.task is not None:
                handle.task.cancel()
        await asyncio.gather(
            *(h.task for h in handles if h.task is not None), return_exceptions=True
        )

    @property
    def states(self) -> list[TaskState]:
        """Every supervised task still running or down, by name."""
        return [self._running[name].state for name in sorted(self._running)]

    @property
    def down(self) -> list[TaskState]:
        """The tasks waiting to be started again after a crash."""
        return [state for state in self.states if state.down]

    async def _keep_running(self, handle: SupervisedTask, work: Work) -> None:
        state = handle.state
        delay = self.backoff.first_s
        while True:
            started = self._monotonic()
            try:
                await work()
            except asyncio.CancelledError:
                current = asyncio.current_task()
                if current is not None and current.cancelling():
                    raise  # stopped
                # A cancellation from inside (a library's own) ends the task
                # as surely as an error: treat it as one.
                _LOGGER.exception("task %s was cancelled from within", state.name)
            except Exception:
                _LOGGER.exception("task %s crashed", state.name)
            else:
                _LOGGER.debug("task %s finished", state.name)
                self.forget(handle)
                return
            if self._monotonic() - started >= self.backoff.healthy_after_s:
                delay = self.backoff.first_s
            state.down_since = self._now()
            _LOGGER.warning("starting task %s again in %.1f s", state.name, delay)
            await self._sleep(delay)
            delay = min(delay * 2, self.backoff.max_s)
            state.restarts += 1
            state.down_since = None
