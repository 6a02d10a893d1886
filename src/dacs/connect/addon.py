"""The add-on's long-running service: enroll, bridge, announce, report.

1. Serve the status page at once, so the resident sees what happens.
2. Prepare the home broker from the stored enrollment (if any) and restart
   it when its files changed.
3. Enroll when the options hold a code this home has not used yet: retry
   temporary failures with back-off, stop on permanent ones until a new code
   is entered (the Supervisor restarts the add-on when options change).
4. With an enrollment: bridge, then announce the broker to Home Assistant.
5. Follow a broker move from the aggregator: store the new broker, write
   the bridge anew, restart the home broker (``broker_follow.py``).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
import logging
from pathlib import Path
import random
from typing import Any

from aiohttp import web

from dacs.broker import BrokerAuthError
from dacs.protocol import BrokerMove, EnrollmentResponse

from .bridge import HomeBrokerSettings
from .broker_control import BrokerController
from .broker_follow import BrokerMoveRefusedError, moved_enrollment
from .discovery import DiscoveryInfo, SupervisorDiscovery
from .enrollment import EnrollmentClient, enroll_and_store, pending_code
from .enrollment_store import (
    ENROLLMENT_FILE,
    StoredEnrollment,
    load_enrollment,
    save_enrollment,
)
from .errors import (
    BrokerControlError,
    DiscoveryError,
    DiscoveryRejectedError,
    EnrollmentError,
    EnrollmentRateLimitedError,
    EnrollmentStoreError,
    OptionsError,
)
from .local_broker import PreparedBroker, prepare_home_broker
from .options import ConnectOptions, load_options
from .status import EnrollmentPhase, EnrollmentProblem, StatusBoard
from .status_page import create_app
from .uplink import UplinkMonitor

_LOGGER = logging.getLogger(__name__)

DEFAULT_STATUS_PORT = 8099


@dataclass(frozen=True, kw_only=True)
class RetryPolicy:
    """Exponential back-off with jitter between attempts."""

    first_delay_s: float = 5.0
    max_delay_s: float = 300.0
    factor: float = 2.0
    # +- this fraction, so homes that failed together do not retry together.
    jitter: float = 0.2
    max_attempts: int | None = None  # None: until it works or stops

    def delay_s(self, attempt: int) -> float:
        """The pause after failed attempt number ``attempt`` (0 is the first)."""
        base = min(self.max_delay_s, self.first_delay_s * self.factor**attempt)
        return base * random.uniform(1 - self.jitter, 1 + self.jitter)


@dataclass(frozen=True, kw_only=True)
class SupervisorSettings:
    """How to reach the Supervisor's API from inside the add-on."""

    url: str
    token: str = field(repr=False)


@dataclass(frozen=True, kw_only=True)
class AddonSettings:
    """Everything the service needs that is not an option of the resident."""

    data_dir: Path
    options_file: Path
    broker: HomeBrokerSettings
    # Where this service reaches the home broker it manages.
    broker_host: str = "127.0.0.1"
    status_host: str = "0.0.0.0"  # noqa: S104 - ingress reaches the container from outside
    status_port: int = DEFAULT_STATUS_PORT
    aggregator_ca_file: Path | None = None
    enrollment_timeout_s: float = 15.0
    enrollment_retry: RetryPolicy = RetryPolicy()
    supervisor: SupervisorSettings | None = None
    discovery_retry: RetryPolicy = RetryPolicy(max_attempts=10)
    addon_hostname: str

    @property
    def enrollment_file(self) -> Path:
        """Where the enrollment is kept."""
        return self.data_dir / ENROLLMENT_FILE


class AddonRuntime:
    """Runs until ``stop`` is set; see the module docstring for the steps."""

    def __init__(
        self,
        settings: AddonSettings,
        controller: BrokerController,
        *,
        board: StatusBoard | None = None,
    ) -> None:
        """Prepare the service; run() does the work."""
        self.settings = settings
        self.board = board or StatusBoard()
        self._controller = controller
        self._monitor: UplinkMonitor | None = None
        self._runner: web.AppRunner | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        # One move at a time: a second waits for the first's restart.
        self._moving = asyncio.Lock()

    @property
    def status_addresses(self) -> list[tuple[str, int]]:
        """Where the status page listens (useful with port 0)."""
        if self._runner is None:
            return []
        return [(str(a[0]), int(a[1])) for a in self._runner.addresses]

    async def run(self, stop: asyncio.Event) -> None:
        """Serve until ``stop`` is set; an unexpected failure ends the run."""
        await self._start_status_page()
        work = asyncio.create_task(self._run(stop))
        stopped = asyncio.create_task(stop.wait())
        self._tasks |= {work, stopped}
        try:
            # A stop must not wait for an enrollment request to time out.
            done, _ = await asyncio.wait(
                {work, stopped}, return_when=asyncio.FIRST_COMPLETED
            )
            if work in done:
                work.result()  # raises what went wrong
                await stopped
        finally:
            for task in self._tasks:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            if self._monitor is not None:
                await asyncio.to_thread(self._monitor.stop)
            if self._runner is not None:
                await self._runner.cleanup()

    async def _run(self, stop: asyncio.Event) -> None:
        stored = self._load_stored()
        prepared = await self._prepare_broker(stored.response if stored else None)
        if prepared is None:
            return
        self._start_monitor(prepared)
        if stored is not None:
            self._enrolled(stored, prepared)
        try:
            options = load_options(self.settings.options_file)
        except OptionsError as err:
            self._problem("invalid_options", f"invalid options: {err}", temporary=False)
            return
        logging.getLogger("dacs").setLevel(options.log_level.logging_level)
        code = pending_code(options, stored)
        if code is None:
            if stored is None:
                self.board.set_phase(EnrollmentPhase.NOT_ENROLLED)
                _LOGGER.info("not enrolled: waiting for an enrollment code")
            return
        fresh = await self._enroll(options, code, stop)
        if fresh is None:
            return
        prepared = await self._prepare_broker(fresh.response)
        if prepared is not None:
            self._enrolled(fresh, prepared)

    async def _start_status_page(self) -> None:
        self._runner = web.AppRunner(create_app(self.board), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(
            self._runner, self.settings.status_host, self.settings.status_port
        )
        await site.start()
        _LOGGER.info("status page on %s", self.status_addresses)

    def _load_stored(self) -> StoredEnrollment | None:
        try:
            return load_enrollment(self.settings.enrollment_file)
        except EnrollmentStoreError as err:
            self._problem(
                "damaged_enrollment",
                f"ignoring the stored enrollment: {err}",
                temporary=False,
            )
            return None

    async def _prepare_broker(
        self, enrollment: EnrollmentResponse | None
    ) -> PreparedBroker | None:
        try:
            prepared = await asyncio.to_thread(
                prepare_home_broker,
                self.settings.data_dir,
                self.settings.broker,
                enrollment,
            )
            if prepared.changed:
                await self._controller.restart()
        except (OSError, ValueError, BrokerAuthError, BrokerControlError) as err:
            self._problem(
                "broker_setup", f"cannot set up the home broker: {err}", temporary=False
            )
            return None
        return prepared

    def _start_monitor(self, prepared: PreparedBroker) -> None:
        login = prepared.credentials.service
        self._monitor = UplinkMonitor(
            self.board,
            host=self.settings.broker_host,
            port=self.settings.broker.listen_port,
            username=login.username,
            password=login.password,
            on_broker_move=self._broker_moved,
        )
        self._monitor.start()

    def _enrolled(self, stored: StoredEnrollment, prepared: PreparedBroker) -> None:
        response = stored.response
        self.board.set_enrolled(response.home_id, stored.enrolled_at)
        if self._monitor is not None:
            self._monitor.watch_home(response.home_id)
        info = DiscoveryInfo(
            host=self.settings.addon_hostname,
            port=self.settings.broker.listen_port,
            username=prepared.credentials.integration.username,
            password=prepared.credentials.integration.password,
            home_id=response.home_id,
            topic_prefix=response.topic_prefix,
        )
        task = asyncio.create_task(self._announce(info))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _broker_moved(self, move: BrokerMove) -> None:
        task = asyncio.create_task(self._follow_move(move))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _follow_move(self, move: BrokerMove) -> None:
        """Store the move's broker, write the bridge to it and restart the home broker."""
        async with self._moving:
            stored = self._load_stored()
            if stored is None:
                _LOGGER.warning("broker move %s ignored: not enrolled", move.move_id)
                return
            try:
                moved = moved_enrollment(stored, move)
            except BrokerMoveRefusedError as err:
                self._problem("broker_move", f"refused: {err}", temporary=False)
                return
            if moved is None:
                return  # on that broker already (a retained move heard again)
            mqtt = moved.response.mqtt
            _LOGGER.info(
                "moving the bridge to broker %s at %s:%d (%s)",
                mqtt.broker_id,
                mqtt.host,
                mqtt.port,
                move.move_id,
            )
            try:
                # Written before the bridge: a restart between the two
                # still finds the new broker.
                await asyncio.to_thread(
                    save_enrollment, self.settings.enrollment_file, moved
                )
            except EnrollmentStoreError as err:
                self._problem(
                    "storage", f"broker move not kept: {err}", temporary=False
                )
                return
            if await self._prepare_broker(moved.response) is not None:
                _LOGGER.info("bridge moved to broker %s", mqtt.broker_id)

    async def _enroll(
        self, options: ConnectOptions, code: str, stop: asyncio.Event
    ) -> StoredEnrollment | None:
        if options.aggregator_url is None:
            self._problem(
                "invalid_options",
                "an enrollment code is set but aggregator_url is empty: enter the "
                "address your energy service provider gave you",
                temporary=False,
            )
            return None
        attempt = 0
        async with EnrollmentClient(
            options.aggregator_url,
            ca_file=self.settings.aggregator_ca_file,
            timeout_s=self.settings.enrollment_timeout_s,
        ) as client:
            while not stop.is_set():
                self.board.set_phase(EnrollmentPhase.ENROLLING)
                try:
                    stored = await enroll_and_store(
                        client,
                        code=code,
                        aggregator_url=options.aggregator_url,
                        store_path=self.settings.enrollment_file,
                    )
                except EnrollmentError as err:
                    delay = self._enrollment_failed(err, attempt)
                    if delay is None or await _stopped_within(stop, delay):
                        return None
                    attempt += 1
                    continue
                except EnrollmentStoreError as err:
                    self._problem(
                        "storage",
                        f"enrolled, but cannot keep the result: {err}",
                        temporary=False,
                    )
                    return None
                self.board.set_enrollment_problem(None)
                return stored
        return None

    def _enrollment_failed(self, err: EnrollmentError, attempt: int) -> float | None:
        """Record the failure; the pause before the next attempt, or None to stop."""
        policy = self.settings.enrollment_retry
        out_of_attempts = (
            policy.max_attempts is not None and attempt + 1 >= policy.max_attempts
        )
        if not err.temporary or out_of_attempts:
            self._problem(err.kind, f"enrollment failed: {err}", temporary=False)
            return None
        delay = policy.delay_s(attempt)
        if (
            isinstance(err, EnrollmentRateLimitedError)
            and err.retry_after_s is not None
        ):
            delay = max(delay, err.retry_after_s)
        self._problem(
            err.kind, f"enrollment failed: {err}", temporary=True, retry_in_s=delay
        )
        return delay

    def _problem(
        self,
        kind: str,
        message: str,
        *,
        temporary: bool,
        retry_in_s: float | None = None,
    ) -> None:
        """Log a problem and show it on the status page."""
        if retry_in_s is None:
            _LOGGER.error("%s", message)
        else:
            _LOGGER.warning("%s; trying again in %.0f s", message, retry_in_s)
        now = datetime.now(UTC)
        self.board.set_enrollment_problem(
            EnrollmentProblem(
                at=now,
                kind=kind,
                message=message,
                temporary=temporary,
                next_attempt_at=(
                    now + timedelta(seconds=retry_in_s)
                    if retry_in_s is not None
                    else None
                ),
            )
        )
        if self.board.snapshot.home_id is None:
            self.board.set_phase(
                EnrollmentPhase.RETRY_WAIT if temporary else EnrollmentPhase.FAILED
            )

    async def _announce(self, info: DiscoveryInfo) -> None:
        supervisor = self.settings.supervisor
        if supervisor is None:
            self.board.set_discovery("skipped: no Supervisor")
            _LOGGER.info("no Supervisor: not announcing the broker to Home Assistant")
            return
        attempt = 0
        async with SupervisorDiscovery(
            supervisor.token, supervisor_url=supervisor.url
        ) as client:
            while True:
                try:
                    uuid = await client.announce(info)
                except DiscoveryError as err:
                    delay = self._discovery_failed(err, attempt)
                    if delay is None:
                        return
                    await asyncio.sleep(delay)
                    attempt += 1
                    continue
                _LOGGER.info("announced the broker to Home Assistant (%s)", uuid)
                self.board.set_discovery(f"announced ({uuid})")
                return

    def _discovery_failed(self, err: DiscoveryError, attempt: int) -> float | None:
        """Record the failure; the pause before the next attempt, or None to stop."""
        policy = self.settings.discovery_retry
        out_of_attempts = (
            policy.max_attempts is not None and attempt + 1 >= policy.max_attempts
        )
        if isinstance(err, DiscoveryRejectedError) or out_of_attempts:
            _LOGGER.error("announcing the broker to Home Assistant failed: %s", err)
            self.board.set_discovery(f"failed: {err}")
            return None
        delay = policy.delay_s(attempt)
        _LOGGER.warning(
            "announcing the broker to Home Assistant failed, trying again in %.0f s: %s",
            delay,
            err,
        )
        self.board.set_discovery(f"retrying: {err}")
        return delay


async def _stopped_within(stop: asyncio.Event, delay_s: float) -> bool:
    """Wait up to ``delay_s``; True when ``stop`` was set meanwhile."""
    try:
        async with asyncio.timeout(delay_s):
            await stop.wait()
    except TimeoutError:
        return False
    return True
