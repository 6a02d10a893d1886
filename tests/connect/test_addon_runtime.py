"""The add-on's service end to end: enroll, bridge, announce, report."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
import json
from pathlib import Path
import time
from typing import Any

import aiohttp
import pytest

from dacs.connect import (
    AddonRuntime,
    AddonSettings,
    CommandBrokerController,
    RetryPolicy,
    SupervisorSettings,
)
from dacs.connect.errors import BrokerControlError
from dacs.connect.local_broker import config_path
from dacs.protocol import Command, CommandReason, PowerInterval, encode
from dacs.testbed.servers import MosquittoBroker
from tests.broker.support import AGGREGATOR_PASSWORD, AGGREGATOR_USER, MqttProbe, Pki

from .conftest import (
    CODE,
    HOME_ID,
    SUPERVISOR_TOKEN,
    Answer,
    FakeServer,
    enrollment_body,
    error_body,
)
from .homes import central_broker, loopback_settings

QUICK_RETRY = RetryPolicy(first_delay_s=0.05, max_delay_s=0.2, max_attempts=None)


@dataclass
class HarnessController:
    """Restarts a test Mosquitto on the configuration the service wrote."""

    data_dir: Path
    restarts: int = 0
    broker: MosquittoBroker = field(init=False)

    def __post_init__(self) -> None:
        self.broker = MosquittoBroker(
            workdir=self.data_dir / "harness", allow_anonymous=False
        )

    async def restart(self) -> None:
        self.restarts += 1
        self.broker.extra_config = config_path(self.data_dir).read_text()
        await asyncio.to_thread(self.broker.stop)
        await asyncio.to_thread(self.broker.start)


@dataclass
class RunningService:
    service: AddonRuntime
    stop: asyncio.Event
    task: asyncio.Task[None]

    @property
    def url(self) -> str:
        host, port = self.service.status_addresses[0]
        return f"http://{host}:{port}"

    async def status(self) -> dict[str, Any]:
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"{self.url}/api/status") as answer,
        ):
            assert answer.status == 200
            result: dict[str, Any] = await answer.json()
            return result

    async def wait_for(
        self, condition: Callable[[dict[str, Any]], bool], within_s: float = 30
    ) -> dict[str, Any]:
        deadline = time.monotonic() + within_s
        while True:
            if self.task.done():
                self.task.result()  # raises what the service died of
            status = await self.status() if self.service.status_addresses else {}
            if status and condition(status):
                return status
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"status never matched; last: {json.dumps(status)}"
                )
            await asyncio.sleep(0.1)

    async def close(self) -> None:
        self.stop.set()
        await self.task


def _settings(
    data_dir: Path, pki: Pki, supervisor: FakeServer | None, options: dict[str, Any]
) -> AddonSettings:
    options_file = data_dir / "options.json"
    data_dir.mkdir(parents=True, exist_ok=True)
    options_file.write_text(json.dumps(options))
    return AddonSettings(
        data_dir=data_dir,
        options_file=options_file,
        broker=loopback_settings(data_dir),
        status_host="127.0.0.1",
        status_port=0,
        aggregator_ca_file=pki.ca_file,
        enrollment_retry=QUICK_RETRY,
        supervisor=(
            SupervisorSettings(url=supervisor.url, token=SUPERVISOR_TOKEN)
            if supervisor
            else None
        ),
        discovery_retry=RetryPolicy(first_delay_s=0.05, max_attempts=3),
        addon_hostname="local-dacs-connect",
    )


@pytest.fixture
async def run_service() -> AsyncIterator[Callable[..., RunningService]]:
    running: list[RunningService] = []

    def start(settings: AddonSettings, controller: Any) -> RunningService:
        service = AddonRuntime(settings, controller)
        stop = asyncio.Event()
        handle = RunningService(service, stop, asyncio.create_task(service.run(stop)))
        running.append(handle)
        return handle

    yield start
    for handle in running:
        if not handle.task.done():
            await handle.close()


async def test_enrolls_bridges_announces_and_reports(
    tmp_path: Path,
    pki: Pki,
    fake_aggregator: FakeServer,
    fake_supervisor: FakeServer,
    run_service: Callable[..., RunningService],
) -> None:
    central = await asyncio.to_thread(central_broker, tmp_path / "central", pki)
    controller = HarnessController(tmp_path / "data")
    aggregator = MqttProbe(
        central.plain_port, username=AGGREGATOR_USER, password=AGGREGATOR_PASSWORD
    )
    try:
        fake_aggregator.default = Answer(
            201, enrollment_body(port=central.tls_port, ca_certificate=pki.ca_pem)
        )
        # Two temporary failures first: the service retries through them.
        fake_aggregator.answers.extend(
            [
                Answer(503, error_body("internal", "database down")),
                Answer(
                    429, error_body("rate_limited", "slow down"), {"Retry-After": "0"}
                ),
            ]
        )
        options = {
            "aggregator_url": fake_aggregator.url,
            "enrollment_code": CODE,
            "log_level": "debug",
        }
        settings = _settings(tmp_path / "data", pki, fake_supervisor, options)
        running = run_service(settings, controller)
        status = await running.wait_for(
            lambda s: (
                s["uplink"]["state"] == "up" and s["discovery"].startswith("announced")
            )
        )
        assert status["enrolled"] is True
        assert status["home_id"] == HOME_ID
        assert status["phase"] == "enrolled"
        assert status["healthy"] is True
        assert status["last_enrollment_error"] is None  # cleared by the success
        assert len(fake_aggregator.requests) == 3
        # Broker files first (no bridge), then again with the bridge.
        assert controller.restarts == 2
        _, discovery = fake_supervisor.requests[-1]
        credentials = json.loads(
            (tmp_path / "data" / "local-credentials.json").read_text()
        )
        assert discovery == {
            "service": "dacs_hw",
            "config": {
                "host": "local-dacs-connect",
                "port": settings.broker.listen_port,
                "username": "homeassistant",
                "password": credentials["integration"]["password"],
                "home_id": HOME_ID,
                "topic_prefix": f"dacs/v1/{HOME_ID}",
            },
        }
        # A command from the aggregator shows on the status page.
        now = datetime.now(UTC).replace(microsecond=0)
        command = Command(
            home_id=HOME_ID,
            command_id="cmd-42",
            issued_at=now,
            expires_at=now + timedelta(hours=1),
            reason=CommandReason.CONGESTION,
            envelope=(PowerInterval(start=now, duration_s=900, max_power_w=1500.0),),
        )
        assert not (await asyncio.to_thread(aggregator.connect)).is_failure
        await asyncio.to_thread(
            aggregator.publish,
            f"dacs/v1/{HOME_ID}/command",
            encode(command),
            retain=True,
        )
        status = await running.wait_for(lambda s: s["last_command"] is not None)
        assert status["last_command"]["command_id"] == "cmd-42"
        assert status["last_command"]["reason"] == "congestion"
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"{running.url}/") as page,
        ):
            html = await page.text()
        assert f"enrolled as <strong>{HOME_ID}</strong>" in html
        assert "cmd-42" in html
        await running.close()

        # The add-on restarts: the stored enrollment is reused, nothing restarts.
        again = run_service(settings, controller)
        await again.wait_for(
            lambda s: (
                s["uplink"]["state"] == "up" and s["discovery"].startswith("announced")
            )
        )
        assert len(fake_aggregator.requests) == 3
        assert controller.restarts == 2
        await again.close()
    finally:
        await asyncio.to_thread(aggregator.close)
        await asyncio.to_thread(controller.broker.cleanup)
        await asyncio.to_thread(central.broker.cleanup)


async def test_a_permanent_failure_stops_retrying(
    tmp_path: Path,
    pki: Pki,
    fake_aggregator: FakeServer,
    run_service: Callable[..., RunningService],
) -> None:
    controller = HarnessController(tmp_path / "data")
    fake_aggregator.default = Answer(
        410, error_body("code_expired", "expired yesterday")
    )
    options = {"aggregator_url": fake_aggregator.url, "enrollment_code": CODE}
    running = run_service(_settings(tmp_path / "data", pki, None, options), controller)
    try:
        status = await running.wait_for(lambda s: s["phase"] == "failed")
        problem = status["last_enrollment_error"]
        assert problem["kind"] == "code_expired"
        assert problem["temporary"] is False
        assert "expired yesterday" in problem["message"]
        await asyncio.sleep(0.5)
        assert len(fake_aggregator.requests) == 1
        status = await running.wait_for(lambda s: s["healthy"])
        assert status["enrolled"] is False
        assert status["uplink"]["state"] == "not_configured"
        assert status["discovery"] == "pending"
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"{running.url}/") as page,
        ):
            assert "expired yesterday" in await page.text()
    finally:
        await running.close()
        await asyncio.to_thread(controller.broker.cleanup)


async def test_waiting_for_a_code_or_valid_options(
    tmp_path: Path, pki: Pki, run_service: Callable[..., RunningService]
) -> None:
    controller = HarnessController(tmp_path / "data")
    waiting = run_service(
        _settings(tmp_path / "data", pki, None, {"log_level": "info"}), controller
    )
    try:
        status = await waiting.wait_for(
            lambda s: s["phase"] == "not_enrolled" and s["healthy"]
        )
        assert status["last_enrollment_error"] is None
        await waiting.close()
        invalid = run_service(
            _settings(
                tmp_path / "data", pki, None, {"aggregator_url": "http://plain.example"}
            ),
            controller,
        )
        status = await invalid.wait_for(lambda s: s["phase"] == "failed")
        assert status["last_enrollment_error"]["kind"] == "invalid_options"
        assert "https://" in status["last_enrollment_error"]["message"]
        await invalid.close()
    finally:
        await asyncio.to_thread(controller.broker.cleanup)


async def test_command_broker_controller(tmp_path: Path) -> None:
    marker = tmp_path / "restarted"
    await CommandBrokerController(["touch", str(marker)]).restart()
    assert marker.exists()
    with pytest.raises(BrokerControlError, match="exit code 1"):
        await CommandBrokerController(["false"]).restart()
    with pytest.raises(BrokerControlError, match="cannot run"):
        await CommandBrokerController([str(tmp_path / "no-such-tool")]).restart()
    with pytest.raises(BrokerControlError, match="did not finish"):
        await CommandBrokerController(["sleep", "5"], timeout_s=0.2).restart()


async def test_stops_at_once_during_a_slow_enrollment(
    tmp_path: Path,
    pki: Pki,
    fake_aggregator: FakeServer,
    run_service: Callable[..., RunningService],
) -> None:
    controller = HarnessController(tmp_path / "data")
    fake_aggregator.default = Answer(201, enrollment_body(), delay_s=2.5)
    options = {"aggregator_url": fake_aggregator.url, "enrollment_code": CODE}
    running = run_service(_settings(tmp_path / "data", pki, None, options), controller)
    try:
        await running.wait_for(lambda s: s["phase"] == "enrolling")
        started = time.monotonic()
        await running.close()
        assert time.monotonic() - started < 1.5
        assert not (tmp_path / "data" / "enrollment.json").exists()
    finally:
        await asyncio.to_thread(controller.broker.cleanup)
