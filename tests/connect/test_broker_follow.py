"""The add-on follows a broker move: bridge rewritten, home broker restarted, nothing lost.

Two real central brokers (TLS, ACL, passwords as deployed), the add-on's
service with a real home broker, and the Home Assistant side publishing
telemetry through the home broker the whole time. The aggregator moves the
home from the first broker to the second; every message reaches one of them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
import json
from pathlib import Path
import time

import pytest

from dacs.connect import AddonRuntime
from dacs.connect.broker_follow import BrokerMoveRefusedError, moved_enrollment
from dacs.connect.enrollment_store import StoredEnrollment, load_enrollment
from dacs.connect.local_broker import config_path
from dacs.home import BrokerSettings
from dacs.home.mqtt_link import MqttLink
from dacs.protocol import (
    BrokerAddress,
    BrokerMove,
    Channel,
    Telemetry,
    decode,
    decode_enrollment_response,
    encode,
)
from tests.broker.support import AGGREGATOR_PASSWORD, AGGREGATOR_USER, MqttProbe, Pki

from .conftest import CODE, HOME_ID, Answer, FakeServer, enrollment_body
from .homes import central_broker
from .test_addon_runtime import HarnessController, RunningService, _settings
from .test_outage import _telemetry

INTERVAL_S = 0.05


async def _until(condition: Callable[[], bool], within_s: float, what: str) -> None:
    deadline = time.monotonic() + within_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {within_s} s")
        await asyncio.sleep(0.1)


def _move(port: int, ca_pem: str, move_id: str = "mv-1") -> BrokerMove:
    return BrokerMove(
        home_id=HOME_ID,
        move_id=move_id,
        issued_at=datetime.now(UTC).replace(microsecond=0),
        broker=BrokerAddress(
            broker_id="b2",
            host="127.0.0.1",
            port=port,
            tls=True,
            ca_certificate=ca_pem,
        ),
    )


async def test_the_addon_moves_its_bridge_and_loses_no_telemetry(
    tmp_path: Path, pki: Pki, fake_aggregator: FakeServer
) -> None:
    first = await asyncio.to_thread(central_broker, tmp_path / "b1", pki)
    second = await asyncio.to_thread(central_broker, tmp_path / "b2", pki)
    controller = HarnessController(tmp_path / "data")
    aggregators = [
        MqttProbe(
            central.plain_port,
            username=AGGREGATOR_USER,
            password=AGGREGATOR_PASSWORD,
            client_id=f"aggregator-{index}",
            clean_session=False,
        )
        for index, central in enumerate((first, second))
    ]
    integration: MqttLink | None = None
    running: RunningService | None = None
    link_task: asyncio.Task[None] | None = None
    try:
        fake_aggregator.default = Answer(
            201, enrollment_body(port=first.tls_port, ca_certificate=pki.ca_pem)
        )
        options = {"aggregator_url": fake_aggregator.url, "enrollment_code": CODE}
        settings = _settings(tmp_path / "data", pki, None, options)
        service = AddonRuntime(settings, controller)
        stop = asyncio.Event()
        running = RunningService(service, stop, asyncio.create_task(service.run(stop)))
        await running.wait_for(lambda s: s["uplink"]["state"] == "up")
        for probe in aggregators:
            assert not (await asyncio.to_thread(probe.connect)).is_failure
            await asyncio.to_thread(probe.subscribe, f"dacs/v1/{HOME_ID}/telemetry")
        restarts_before = controller.restarts

        # Home Assistant's side: the home's own link, with its outbox.
        login = json.loads((tmp_path / "data" / "local-credentials.json").read_text())
        integration = MqttLink(
            BrokerSettings(
                host="127.0.0.1",
                port=settings.broker.listen_port,
                username=login["integration"]["username"],
                password=login["integration"]["password"],
                client_id="integration",
            ),
            subscriptions=[],
            on_message=lambda _name, _payload: asyncio.sleep(0),
            reconnect_max_s=1.0,
        )
        link_task = asyncio.create_task(integration.run())
        assert await integration.wait_connected(10)
        sent = 0
        publishing = True

        async def publish() -> None:
            nonlocal sent
            assert integration is not None
            while publishing:
                integration.publish(
                    f"dacs/v1/{HOME_ID}/telemetry", _telemetry(sent), qos=1
                )
                sent += 1
                await asyncio.sleep(INTERVAL_S)

        flow = asyncio.create_task(publish())
        await asyncio.sleep(1.0)
        move = _move(second.tls_port, pki.ca_pem)
        await asyncio.to_thread(
            aggregators[0].publish,
            f"dacs/v1/{HOME_ID}/command",
            encode(move),
            retain=True,
        )

        def moved() -> bool:
            stored = load_enrollment(settings.enrollment_file)
            return stored is not None and stored.response.mqtt.port == second.tls_port

        await _until(moved, 30, "the enrollment names the second broker")
        status = await running.wait_for(
            lambda s: (
                s["uplink"]["state"] == "up" and controller.restarts > restarts_before
            )
        )
        assert status["last_command"]["kind"] == "broker_move"
        assert (
            f"address 127.0.0.1:{second.tls_port}"
            in config_path(tmp_path / "data").read_text()
        )
        stored = load_enrollment(settings.enrollment_file)
        assert stored is not None
        assert stored.response.mqtt.broker_id == "b2"
        assert stored.response.home_id == HOME_ID  # the same account and topics
        await asyncio.sleep(1.0)
        publishing = False
        await flow
        moved_at_restarts = controller.restarts

        seen: dict[int, set[int]] = {0: set(), 1: set()}

        def drain() -> None:
            for index, probe in enumerate(aggregators):
                for message in probe.collect(0.2):
                    decoded = decode(message.payload, channel=Channel.TELEMETRY)
                    assert isinstance(decoded, Telemetry)
                    seen[index].add(decoded.seq)

        deadline = time.monotonic() + 30
        while seen[0] | seen[1] < set(range(sent)) and time.monotonic() < deadline:
            await asyncio.to_thread(drain)
        lost = set(range(sent)) - (seen[0] | seen[1])
        assert not lost, f"{len(lost)} of {sent} lost: {sorted(lost)[:20]}"
        # Before the move over the first broker, after it over the second.
        assert seen[0]
        assert seen[1]
        assert max(seen[1]) == sent - 1
        # The retained move, heard again after the restart, changes nothing.
        await asyncio.sleep(1.0)
        assert controller.restarts == moved_at_restarts
        await running.close()
    finally:
        if running is not None and not running.task.done():
            await running.close()
        if link_task is not None:
            link_task.cancel()
            await asyncio.gather(link_task, return_exceptions=True)
        for probe in aggregators:
            await asyncio.to_thread(probe.close)
        await asyncio.to_thread(controller.broker.cleanup)
        await asyncio.to_thread(first.broker.cleanup)
        await asyncio.to_thread(second.broker.cleanup)


def test_a_move_is_followed_once_and_only_for_this_home(pki: Pki) -> None:
    stored = StoredEnrollment(
        response=decode_enrollment_response(
            json.dumps(enrollment_body(port=8883, ca_certificate=pki.ca_pem))
        ),
        aggregator_url="https://aggregator.example",
        code_sha256="0" * 64,
        enrolled_at=datetime.now(UTC),
    )
    move = _move(9883, pki.ca_pem)
    moved = moved_enrollment(stored, move)
    assert moved is not None
    assert (moved.response.mqtt.port, moved.response.mqtt.broker_id) == (9883, "b2")
    assert moved.response.mqtt.password == stored.response.mqtt.password
    assert moved.code_sha256 == stored.code_sha256
    # Already there (the retained move heard again): nothing to do.
    assert moved_enrollment(moved, move) is None
    other = BrokerMove(
        home_id="h-0002",
        move_id="mv-other",
        issued_at=move.issued_at,
        broker=move.broker,
    )
    with pytest.raises(BrokerMoveRefusedError, match="for home h-0002, this is h-0001"):
        moved_enrollment(stored, other)
