"""When the VEN polls: on a timer, at once when the VTN's MQTT notifier says so.

The timer polls every ``poll_interval_s`` and is the safety net. When the VTN
offers an MQTT notifier (OpenADR 3.1) and ``mqtt_notifier`` is on, a message
on a program's event topic wakes a poll at once; a burst of messages while a
poll runs queues one more poll, not one each. Finding the notifier is retried
with a growing delay while the VTN is down; a binding the VEN cannot use is
not retried. Polls never overlap.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime
import logging

from dacs.aggregator.grid_port import GridPort
from dacs.aggregator.supervisor import SupervisedTask, Supervisor

from . import notifier
from .client import NOTIFIERS, VtnClient
from .config import OpenAdrConfig
from .errors import (
    NotifierError,
    VtnAuthError,
    VtnCapabilityError,
    VtnError,
    VtnUnavailableError,
)
from .monitoring import OnceWarnings, OpenAdrCounters, Reachability, VtnStatus

_LOGGER = logging.getLogger(__name__)


class PollLoop:
    """Runs one poll at a time: on the timer, on a notification, or when asked."""

    def __init__(
        self,
        config: OpenAdrConfig,
        port: GridPort,
        client: VtnClient,
        *,
        poll: Callable[[], Awaitable[None]],
        counters: OpenAdrCounters,
        warnings: OnceWarnings,
        status: VtnStatus,
        supervisor: Supervisor,
    ) -> None:
        """``poll`` is one poll's work; it raises VtnError when the VTN fails it."""
        self._status = status
        self._supervisor = supervisor
        self._config = config
        self._port = port
        self._client = client
        self._poll = poll
        self._counters = counters
        self._warnings = warnings
        self.last_error: str | None = None
        self.last_success: datetime | None = None
        self._tasks: list[SupervisedTask] = []
        self._wake = asyncio.Event()
        self._polling = asyncio.Lock()

    # -- lifecycle -------------------------------------------------------------

    async def start(self) -> None:
        """Poll now and then every ``poll_interval_s``; listen to the MQTT notifier."""
        start = self._supervisor.start
        self._tasks = [start("openadr-poll", self._run)]
        if self._config.mqtt_notifier:
            self._tasks += [
                start("openadr-notifier", self._listen),
                start("openadr-wakeups", self._wakeups),
            ]

    async def stop(self) -> None:
        """Stop polling; a request in flight is abandoned, not waited for."""
        tasks, self._tasks = self._tasks, []
        await asyncio.gather(*(task.stop() for task in tasks))

    async def _run(self) -> None:
        while True:
            try:
                await self.poll()
            except Exception:
                self._counters.failed_polls += 1
                _LOGGER.exception("OpenADR poll failed; trying again next poll")
            await self._port.sleep(self._config.poll_interval_s)

    # -- MQTT notifier -------------------------------------------------------------

    async def _listen(self) -> None:
        """Find the VTN's MQTT notifier, then listen to it until stopped."""
        delay = notifier.FIRST_RETRY_S
        while True:
            try:
                broker = notifier.mqtt_notifier(
                    await self._client.notifiers(), client_id=self._config.client_id
                )
                if broker is None:
                    self._status.without(
                        _LOGGER,
                        NOTIFIERS,
                        f"no MQTT binding at GET /notifiers: polling every "
                        f"{self._config.poll_interval_s:.0f} s only",
                    )
                    return
                topics = notifier.subscription_topics(
                    [
                        await self._client.event_topics(program_id)
                        for program_id in (
                            *self._config.program_ids,
                            *self._config.capacity_program_ids,
                        )
                    ]
                )
                break
            except NotifierError as err:
                self._notifier_failed(err)
                return  # the VTN's binding will not change by retrying
            except VtnCapabilityError as err:
                self._status.without(_LOGGER, err.capability, str(err))
                return
            except VtnError as err:  # VTN down now: ask again later
                self._notifier_failed(err)
            await asyncio.sleep(delay)
            delay = min(delay * 2, notifier.MAX_RETRY_S)
        await notifier.listen(
            broker,
            topics,
            self._notified,
            password=self._client.access_token,
            on_error=self._notifier_failed,
        )

    def _notified(self, payload: bytes) -> None:
        self._counters.notifications += 1
        _LOGGER.debug("OpenADR notification: %s", notifier.describe(payload))
        self._wake.set()  # one flag: a burst while a poll runs queues one poll

    async def _wakeups(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            try:
                await self.poll()
            except Exception:
                self._counters.failed_polls += 1
                _LOGGER.exception("OpenADR poll after a notification failed")

    def _notifier_failed(self, err: Exception) -> None:
        self._counters.notifier_errors += 1
        self._warnings.warn(
            _LOGGER,
            f"notifier:{type(err).__name__}:{err}",
            "OpenADR MQTT notifier unusable (%s), polling every %.0f s goes on: %s",
            type(err).__name__,
            self._config.poll_interval_s,
            err,
        )

    # -- polling -------------------------------------------------------------------

    async def poll(self) -> bool:
        """One poll; False (with ``last_error``) when the VTN could not be used.

        Polls never overlap (the timer's and an operator's or a test's), so an
        event is never applied by two of them at once.
        """
        async with self._polling:
            return await self._poll_once()

    async def _poll_once(self) -> bool:
        self._counters.polls += 1
        try:
            await self._poll()
        except VtnError as err:
            self._counters.failed_polls += 1
            self._status.reachability = _reachability(err)
            self.last_error = str(err)
            _LOGGER.warning(
                "OpenADR poll failed (%s), trying again in %.0f s: %s",
                type(err).__name__,
                self._config.poll_interval_s,
                err,
            )
            return False
        self.last_error = None
        self.last_success = self._port.now()
        self._status.reachability = Reachability.CONNECTED
        return True


def _reachability(err: VtnError) -> Reachability:
    if isinstance(err, VtnUnavailableError):
        return Reachability.UNREACHABLE
    if isinstance(err, VtnAuthError):
        return Reachability.CREDENTIALS_REFUSED
    return Reachability.ANSWERS_REFUSED
