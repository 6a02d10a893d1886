"""The real service under its supervisor: a crashed loop is restarted, shown and stopped."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
import time
from typing import Any

from aiohttp.test_utils import TestClient, TestServer
import aiomqtt
from sqlalchemy import func, select

from dacs.aggregator.api.app_keys import SERVICE
from dacs.aggregator.app import create_app
from dacs.aggregator.clock import SystemClock
from dacs.aggregator.config import (
    AggregatorConfig,
    ApiConfig,
    ControlConfig,
    DatabaseConfig,
    MqttConfig,
)
from dacs.aggregator.registry.provisioning import OpenBrokerProvisioner
from dacs.aggregator.service import AggregatorService
from dacs.aggregator.storage.tables import TelemetryRow
from dacs.aggregator.supervisor import RestartBackoff, Supervisor
from dacs.protocol import encode
from dacs.testbed.servers import MosquittoBroker
from tests.aggregator.mqtt.test_link import _telemetry
from tests.aggregator.test_supervisor import GatedSleep

SCRAPER = {"Authorization": "Bearer scrape-token"}
# The service's loops and, with the default settlement settings, the statements'.
SUPERVISED = {
    "broker-link",
    "telemetry-writer",
    "ack-writer",
    "receipts",
    "control-loop",
    "statement-schedule",
}
# On PostgreSQL also the telemetry partitions' upkeep.
PARTITIONS = "telemetry-partitions"


def _config(database_url: str, broker: MosquittoBroker) -> AggregatorConfig:
    return AggregatorConfig(
        database=DatabaseConfig(url=database_url, telemetry_flush_s=0.1),
        mqtt=MqttConfig(host="127.0.0.1", port=broker.port),
        api=ApiConfig(operator_tokens=("op-token",), metrics_tokens=("scrape-token",)),
        control=ControlConfig(cycle_s=0.2),
    )


async def _until(condition: Callable[[], object], within_s: float = 10.0) -> None:
    async with asyncio.timeout(within_s):
        while not condition():  # noqa: ASYNC110 - polling live state
            await asyncio.sleep(0.02)


@asynccontextmanager
async def _app(
    database_url: str,
    broker: MosquittoBroker,
    supervisor: Supervisor,
    fault: Callable[[AggregatorService], None],
) -> AsyncIterator[TestClient[Any, Any]]:
    """The app on a real broker and database, with the test's supervisor and fault."""
    service = AggregatorService(
        _config(database_url, broker),
        clock=SystemClock(),
        provisioner=OpenBrokerProvisioner(),
        supervisor=supervisor,
    )
    fault(service)
    app = create_app(service.config, service=service)
    async with TestClient(TestServer(app, host="127.0.0.1")) as test_client:
        yield test_client


def _writer_crashes_once(service: AggregatorService) -> None:
    real_run = service.writer.run
    calls = 0

    async def run() -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("injected: the writer's first run fails")
        await real_run()

    service.writer.run = run  # type: ignore[method-assign]  # fault injection


async def test_a_crashed_writer_is_degraded_then_restarted_and_loses_nothing(
    mosquitto: MosquittoBroker, database_url: str
) -> None:
    gated = GatedSleep()
    async with _app(
        database_url, mosquitto, Supervisor(sleep=gated), _writer_crashes_once
    ) as client:
        await _writer_down_and_back(client, gated)


async def _writer_down_and_back(
    client: TestClient[Any, Any], gated: GatedSleep
) -> None:
    service: AggregatorService = client.server.app[SERVICE]
    assert await service.link.wait_connected(10)
    await _until(lambda: service.supervisor.down)
    health = await client.get("/health")
    assert health.status == 503
    body = await health.json()
    assert body["status"] == "degraded"
    assert body["broker_connected"] is True
    [down] = body["tasks_down"]
    assert down["task"] == "telemetry-writer"
    assert down["restarts"] == 0
    assert datetime.fromisoformat(down["since"]) <= datetime.now(UTC)
    metrics = await (await client.get("/metrics", headers=SCRAPER)).text()
    assert 'dacs_task_up{task="telemetry-writer"} 0' in metrics
    assert "dacs_tasks_down 1" in metrics

    # Telemetry that arrives while the writer is down waits in its buffer.
    await service.registry.add_congestion_point(
        point_id="tr-1", name="Street", rated_capacity_kw=100, grid_operator="DSO"
    )
    [code] = await service.registry.create_codes("tr-1", count=1)
    home_id = (await service.registry.enroll(code.code)).home_id
    await service.reload()
    async with aiomqtt.Client(
        "127.0.0.1", service.config.mqtt.port, identifier=home_id
    ) as home:
        await home.publish(
            f"dacs/v1/{home_id}/telemetry", encode(_telemetry(home_id, 1)), qos=1
        )
    await _until(lambda: service.counters.telemetry_received == 1)
    await asyncio.sleep(0.3)  # three flush intervals: nobody writes
    assert service.counters.telemetry_written == 0

    gated.gate.set()  # the backoff ends: the writer starts again
    await _until(lambda: service.counters.telemetry_written == 1)
    async with service.sessions() as session:
        stored = await session.scalar(select(func.count()).select_from(TelemetryRow))
    assert stored == 1
    health = await client.get("/health")
    assert health.status == 200
    assert await health.json() == {
        "status": "ok",
        "broker_connected": True,
        "tasks_down": [],
    }
    metrics = await (await client.get("/metrics", headers=SCRAPER)).text()
    assert 'dacs_task_restarts_total{task="telemetry-writer"} 1' in metrics
    assert 'dacs_task_restarts_total{task="control-loop"} 0' in metrics
    assert 'dacs_task_up{task="telemetry-writer"} 1' in metrics
    assert "dacs_tasks_down 0" in metrics
    on_postgresql = service.engine.dialect.name == "postgresql"
    assert {s.name for s in service.supervisor.states} == SUPERVISED | (
        {PARTITIONS} if on_postgresql else set()
    )


def _control_loop_always_crashes(service: AggregatorService) -> None:
    async def crash() -> None:
        raise RuntimeError("injected: the control loop cannot start")

    service._control_loop = crash  # type: ignore[method-assign]


async def test_a_crash_loop_backs_off_and_shutdown_still_ends_everything(
    mosquitto: MosquittoBroker, database_url: str
) -> None:
    waits: list[float] = []

    async def recorded_sleep(seconds: float) -> None:
        waits.append(seconds)
        await asyncio.sleep(seconds)

    supervisor = Supervisor(
        RestartBackoff(first_s=0.05, max_s=0.4), sleep=recorded_sleep
    )
    async with _app(
        database_url, mosquitto, supervisor, _control_loop_always_crashes
    ) as client:
        service: AggregatorService = client.server.app[SERVICE]
        assert await service.link.wait_connected(10)
        await _until(lambda: len(waits) >= 5)
        assert waits[:5] == [0.05, 0.1, 0.2, 0.4, 0.4]
        health = await client.get("/health")
        assert health.status == 503
        assert [t["task"] for t in (await health.json())["tasks_down"]] == [
            "control-loop"
        ]
        assert service.supervisor.down[0].restarts >= 4
        # The other loops run on: the broker link is untouched.
        assert service.link.connected
        await _stops_everything_fast(client)


async def _stops_everything_fast(client: TestClient[Any, Any]) -> None:
    service: AggregatorService = client.server.app[SERVICE]

    tasks = [t for t in asyncio.all_tasks() if t.get_name().startswith("dacs-")]
    assert {t.get_name() for t in tasks} >= {f"dacs-{n}" for n in SUPERVISED}
    started = time.monotonic()
    await client.server.close()
    assert time.monotonic() - started < 5
    assert all(t.done() for t in tasks)
    assert service.supervisor.states == []
