"""Several central brokers, two real Mosquitto: assignment, ingest, routing and moves."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
import json
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
import aiomqtt
import pytest
from sqlalchemy import select

from dacs.aggregator.api.enrollment import (
    BROKER_ADDRESSES,
    ENROLLMENT_LIMITER,
    REGISTRY,
    enroll,
)
from dacs.aggregator.api.ratelimit import RateLimiter
from dacs.aggregator.app import create_app
from dacs.aggregator.broker_endpoints import home_addresses
from dacs.aggregator.clock import SystemClock
from dacs.aggregator.config import (
    AggregatorConfig,
    ApiConfig,
    ClusterConfig,
    ControlConfig,
    DatabaseConfig,
    EnrollmentConfig,
    MqttConfig,
)
from dacs.aggregator.domain.broker_assignment import broker_for_point
from dacs.aggregator.mqtt.link import ingest_filter
from dacs.aggregator.registry.provisioning import OpenBrokerProvisioner
from dacs.aggregator.registry.registry import Registry
from dacs.aggregator.service import AggregatorService
from dacs.aggregator.storage.tables import HomeRow, TelemetryRow
from dacs.home import HomeController
from dacs.protocol import BrokerMove, Channel, decode, decode_enrollment_response, topic
from dacs.testbed.servers import MosquittoBroker

from .conftest import homes_on_broker

BROKERS = ("b1", "b2")


def _points_on_each_broker() -> dict[str, str]:
    """A congestion point id per broker, as the rendezvous hash assigns them."""
    found: dict[str, str] = {}
    for index in range(1, 100):
        point = f"tr-{index}"
        found.setdefault(broker_for_point(point, BROKERS), point)
        if len(found) == len(BROKERS):
            return found
    raise AssertionError("no point found for every broker")


@pytest.fixture
def two_brokers() -> Any:
    with MosquittoBroker() as first, MosquittoBroker() as second:
        yield {"b1": first, "b2": second}


def _config(
    tmp_path: Path, brokers: dict[str, MosquittoBroker], client_id: str
) -> AggregatorConfig:
    entries = tuple(f"{name}=127.0.0.1:{b.port}" for name, b in brokers.items())
    return AggregatorConfig(
        database=DatabaseConfig(
            url=f"sqlite:///{tmp_path / 'agg.db'}", telemetry_flush_s=0.2
        ),
        mqtt=MqttConfig(client_id=client_id, brokers=entries, receipt_interval_s=0.5),
        # Homes are told the same brokers (here the same addresses, no TLS).
        enrollment=EnrollmentConfig(brokers=entries, broker_tls=False),
        control=ControlConfig(cycle_s=0.5),
    )


@pytest.fixture
async def service(
    tmp_path: Path, two_brokers: dict[str, MosquittoBroker]
) -> AsyncIterator[AggregatorService]:
    service = AggregatorService(
        _config(tmp_path, two_brokers, "agg-1"),
        clock=SystemClock(),
        provisioner=OpenBrokerProvisioner(),
    )
    await service.start()
    assert await service.link.wait_connected(10)
    yield service
    await service.stop()


async def _enroll_over_http(service: AggregatorService, code: str) -> dict[str, Any]:
    app = web.Application()
    app[REGISTRY] = service.registry
    enrollment = service.config.enrollment
    app[BROKER_ADDRESSES] = home_addresses(
        enrollment.endpoints, tls=False, ca_certificate_file=None
    )
    app[ENROLLMENT_LIMITER] = RateLimiter()
    app.router.add_post("/api/v1/enrollments", enroll)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        answer = await client.post("/api/v1/enrollments", json={"code": code})
        assert answer.status == 201, await answer.text()
        body: dict[str, Any] = await answer.json()
        return body


async def _until(condition: Callable[[], bool], within_s: float, what: str) -> None:
    try:
        async with asyncio.timeout(within_s):
            while not condition():  # noqa: ASYNC110 - polling live state
                await asyncio.sleep(0.1)
    except TimeoutError:
        raise AssertionError(f"{what} within {within_s} s") from None


async def _enroll_street(
    service: AggregatorService, point: str, homes: int
) -> list[dict[str, Any]]:
    await service.registry.add_congestion_point(
        point_id=point, name=point, rated_capacity_kw=100, grid_operator="DSO"
    )
    codes = await service.registry.create_codes(point, count=homes)
    answers = [await _enroll_over_http(service, code.code) for code in codes]
    await service.reload()
    return answers


async def test_homes_get_their_points_broker_and_are_heard_on_it(
    service: AggregatorService, two_brokers: dict[str, MosquittoBroker]
) -> None:
    points = _points_on_each_broker()
    answers = {
        broker: await _enroll_street(service, point, 2)
        for broker, point in points.items()
    }
    for broker, street in answers.items():
        for body in street:
            # The answer names the broker and its address; it decodes strictly.
            assert body["mqtt"]["broker_id"] == broker
            assert body["mqtt"]["port"] == two_brokers[broker].port
            decoded = decode_enrollment_response(json.dumps(body))
            assert decoded.mqtt.broker_id == broker
    async with service.sessions() as session:
        stored = {
            row.id: row.broker_id
            for row in (await session.execute(select(HomeRow))).scalars()
        }
    assert stored == {
        body["home_id"]: broker for broker, street in answers.items() for body in street
    }
    # Each home runs on its own broker only; the aggregator hears all of them.
    async with (
        homes_on_broker(
            two_brokers["b1"].port, [b["home_id"] for b in answers["b1"]]
        ) as first,
        homes_on_broker(
            two_brokers["b2"].port, [b["home_id"] for b in answers["b2"]]
        ) as second,
    ):
        await _until(
            lambda: all(
                view.telemetry is not None for view in service.fleet.homes.values()
            ),
            20,
            "telemetry from every home on both brokers",
        )
        # Receipts go back over the home's own broker: the homes forget.
        await _until(
            lambda: all(
                home.unreceipted.receipts_seen for _, _, home in first + second
            ),
            20,
            "a receipt at every home",
        )
    assert service.counters.unknown_homes == 0


async def test_ingest_is_shared_between_instances(
    tmp_path: Path,
    service: AggregatorService,
    two_brokers: dict[str, MosquittoBroker],
) -> None:
    assert ingest_filter(Channel.TELEMETRY, "dacs").startswith("$share/dacs/")
    other = AggregatorService(
        _config(tmp_path, two_brokers, "agg-2"),
        clock=SystemClock(),
        provisioner=OpenBrokerProvisioner(),
    )
    await other.start()
    try:
        assert await other.link.wait_connected(10)
        points = _points_on_each_broker()
        homes = {b: await _enroll_street(service, p, 1) for b, p in points.items()}
        await other.reload()
        sent = 0
        for broker, street in homes.items():
            home_id = street[0]["home_id"]
            async with aiomqtt.Client(
                "127.0.0.1", two_brokers[broker].port, identifier=home_id
            ) as client:
                for seq in range(1, 41):
                    await client.publish(
                        topic(home_id, Channel.TELEMETRY),
                        _telemetry(home_id, seq),
                        qos=1,
                    )
                    sent += 1

        def received() -> int:
            return (
                service.counters.telemetry_received + other.counters.telemetry_received
            )

        await _until(lambda: received() >= sent, 20, "every message at one instance")
        await asyncio.sleep(1.0)  # a copy to both instances would show by now
        # Each message went to one instance of the group, and both took part.
        assert received() == sent
        assert service.counters.telemetry_received > 0
        assert other.counters.telemetry_received > 0
    finally:
        await other.stop()


def _telemetry(home_id: str, seq: int) -> bytes:
    return json.dumps(
        {
            "v": 1,
            "type": "telemetry",
            "home_id": home_id,
            "seq": seq,
            "boot_id": "boot-several-brokers",
            "ts": "2026-12-08T00:00:00Z",
            "electric_power_w": 900.0,
            "thermal_power_w": 3000.0,
            "boiler_active": False,
            "boiler_thermal_w": None,
            "indoor_temp_c": 20.0,
            "outdoor_temp_c": 4.0,
            "flow_temp_c": 35.0,
            "electric_energy_kwh": None,
            "limit_w": None,
            "limit_source": "none",
            "command_id": None,
            "participation": "on",
            "comfort_override": False,
            "device_fault": None,
        }
    ).encode()


async def test_a_moved_home_follows_to_the_other_broker_and_loses_nothing(
    service: AggregatorService, two_brokers: dict[str, MosquittoBroker]
) -> None:
    point = _points_on_each_broker()["b1"]
    (body,) = await _enroll_street(service, point, 1)
    home_id = body["home_id"]
    async with homes_on_broker(
        two_brokers["b1"].port,
        [home_id],
        follow_broker_moves=True,
        telemetry_interval_s=0.2,
    ) as street:
        home: HomeController = street[0][2]
        assert home.link is not None
        await _until(lambda: home.unreceipted.receipts_seen, 20, "a first receipt")
        outcome = await service.broker_mover.move(
            home_id, "b2", now=service.clock.now()
        )
        assert (outcome.left, outcome.joined, outcome.moved) == ("b1", "b2", True)
        await _until(
            lambda: (
                home.link is not None
                and home.link.settings.port == two_brokers["b2"].port
                and home.link.connected
            ),
            20,
            "the home connected to b2",
        )
        before = service.fleet.homes[home_id].telemetry
        assert before is not None

        def heard_over_b2() -> bool:
            latest = service.fleet.homes[home_id].telemetry
            return (
                home.unreceipted.held == 0
                and latest is not None
                and latest.seq > before.seq + 3
            )

        await _until(heard_over_b2, 30, "telemetry over b2, every message receipted")
        # The move survives a restart of the aggregator: stored.
        assert service.link.broker_of(home_id) == "b2"
    await service.writer.flush()
    async with service.sessions() as session:
        row = await session.get(HomeRow, home_id)
        seqs = sorted(
            (
                await session.execute(
                    select(TelemetryRow.seq).where(TelemetryRow.home_id == home_id)
                )
            ).scalars()
        )
    assert row is not None
    assert row.broker_id == "b2"
    # Every message before, during and after the move is stored once.
    assert seqs == list(range(seqs[-1] + 1))


async def test_an_unusable_or_unknown_move_is_refused_and_the_home_stays(
    service: AggregatorService, two_brokers: dict[str, MosquittoBroker]
) -> None:
    point = _points_on_each_broker()["b1"]
    (body,) = await _enroll_street(service, point, 1)
    home_id = body["home_id"]
    with pytest.raises(ValueError, match="unknown broker 'b9'; known: b1, b2"):
        await service.broker_mover.move(home_id, "b9", now=service.clock.now())
    assert service.link.broker_of(home_id) == "b1"
    port = two_brokers["b1"].port
    async with (
        homes_on_broker(port, [home_id], follow_broker_moves=True) as street,
        aiomqtt.Client("127.0.0.1", port, identifier="operator") as operator,
    ):
        home: HomeController = street[0][2]
        await operator.subscribe(topic(home_id, Channel.ACK), qos=1)
        await _until(lambda: home.link is not None and home.link.connected, 10, "up")
        move = {
            "v": 1,
            "type": "broker_move",
            "home_id": home_id,
            "move_id": "mv-bad-port",
            "issued_at": "2026-12-08T00:00:00Z",
            "broker": {"id": "b2", "host": "127.0.0.1", "port": 70000, "tls": False},
        }
        bad_ca = move | {
            "move_id": "mv-bad-ca",
            "broker": move["broker"]
            | {"port": 1883, "tls": True, "ca_certificate": "not a certificate"},
        }
        for message in (move, bad_ca):
            await operator.publish(
                topic(home_id, Channel.COMMAND), json.dumps(message), qos=1
            )
        answers: dict[str, dict[str, Any]] = {}
        async with asyncio.timeout(20):
            async for received in operator.messages:
                ack = json.loads(bytes(received.payload))  # type: ignore[arg-type]
                answers[ack["command_id"]] = ack
                if {"mv-bad-port", "mv-bad-ca"} <= answers.keys():
                    break
        assert answers["mv-bad-port"]["result"] == "rejected"
        assert answers["mv-bad-port"]["reason_code"] == "malformed"
        assert "port" in answers["mv-bad-port"]["detail"]
        assert answers["mv-bad-ca"]["result"] == "rejected"
        assert "CA certificate of broker b2" in answers["mv-bad-ca"]["detail"]
        # Still on b1, still connected.
        assert home.link is not None
        assert home.link.settings.port == port
        assert home.link.connected


async def test_an_instance_in_a_cluster_connects_to_the_brokers_its_points_need(
    postgres_dsn: str, two_brokers: dict[str, MosquittoBroker]
) -> None:
    entries = tuple(f"{name}=127.0.0.1:{b.port}" for name, b in two_brokers.items())
    config = AggregatorConfig(
        database=DatabaseConfig(url=postgres_dsn, telemetry_flush_s=0.2),
        mqtt=MqttConfig(client_id="agg-cluster", brokers=entries),
        enrollment=EnrollmentConfig(brokers=entries, broker_tls=False),
        control=ControlConfig(cycle_s=0.5),
        cluster=ClusterConfig(
            enabled=True, instance_id="one", lease_s=3.0, margin_s=1.0
        ),
    )
    service = AggregatorService(
        config, clock=SystemClock(), provisioner=OpenBrokerProvisioner()
    )
    await service.start()
    try:
        # Before it owns anything: the first broker, so it still ingests.
        points = _points_on_each_broker()
        await _until(
            lambda: service.link.in_use == {"b1"}, 20, "only the first broker in use"
        )
        # A home enrolled through another instance (its own registry, same
        # database) is learnt once per cycle, with its broker.
        await service.registry.add_congestion_point(
            point_id=points["b2"], name="b2", rated_capacity_kw=100, grid_operator="DSO"
        )
        await service.reload()
        await _until(
            lambda: service.ownership.controls(points["b2"]), 20, "b2's point owned"
        )
        elsewhere = Registry(
            service.sessions,
            provisioner=OpenBrokerProvisioner(),
            now=service.clock.now,
            broker_ids=BROKERS,
        )
        (code,) = await elsewhere.create_codes(points["b2"], count=1)
        home_id = (await elsewhere.enroll(code.code)).home_id
        await _until(
            lambda: (
                service.ownership.controls(points["b2"])
                and service.link.broker_of(home_id) == "b2"
                and service.link.in_use == {"b2"}
                and service.link.links["b2"].connected
                and not service.link.links["b1"].connected
            ),
            20,
            "connected to b2 only, the broker of its one point's home",
        )
        await _enroll_street(service, points["b1"], 1)
        await _until(
            lambda: service.link.in_use == {"b1", "b2"} and service.link.all_connected,
            20,
            "connected to both brokers once it owns a point on each",
        )
    finally:
        await service.stop()


async def test_an_operator_moves_a_home_through_the_api(
    tmp_path: Path, two_brokers: dict[str, MosquittoBroker]
) -> None:
    config = replace(
        _config(tmp_path, two_brokers, "agg-api"),
        api=ApiConfig(operator_tokens=("op-token",)),
    )
    operator = {"Authorization": "Bearer op-token"}
    point = _points_on_each_broker()["b1"]
    async with TestClient(TestServer(create_app(config), host="127.0.0.1")) as client:
        answer = await client.post(
            "/api/v1/congestion-points",
            headers=operator,
            json={
                "id": point,
                "name": point,
                "rated_capacity_kw": 100,
                "grid_operator": "DSO",
            },
        )
        assert answer.status == 201, await answer.text()
        answer = await client.post(
            "/api/v1/enrollment-codes",
            headers=operator,
            json={"congestion_point_id": point},
        )
        (code,) = await answer.json()
        answer = await client.post("/api/v1/enrollments", json={"code": code["code"]})
        enrolled = await answer.json()
        assert enrolled["mqtt"]["broker_id"] == "b1"
        home_id = enrolled["home_id"]
        path = f"/api/v1/homes/{home_id}/broker-move"
        refused = await client.post(path, headers=operator, json={"broker_id": "b9"})
        assert refused.status == 400
        assert "unknown broker 'b9'; known: b1, b2" in (await refused.json())["message"]
        unknown = await client.post(
            "/api/v1/homes/h-nobody/broker-move",
            headers=operator,
            json={"broker_id": "b2"},
        )
        assert unknown.status == 404
        denied = await client.post(path, json={"broker_id": "b2"})
        assert denied.status == 401
        moved = await client.post(path, headers=operator, json={"broker_id": "b2"})
        assert moved.status == 200, await moved.text()
        assert await moved.json() == {
            "home_id": home_id,
            "left": "b1",
            "joined": "b2",
            "moved": True,
        }
        again = await client.post(path, headers=operator, json={"broker_id": "b2"})
        assert (await again.json())["moved"] is False
    # The move waits retained on the old broker for the home.
    async with aiomqtt.Client(
        "127.0.0.1", two_brokers["b1"].port, identifier="late-home"
    ) as late:
        await late.subscribe(topic(home_id, Channel.COMMAND), qos=1)
        async with asyncio.timeout(10):
            message = await anext(aiter(late.messages))
    move = decode(bytes(message.payload), channel=Channel.COMMAND)  # type: ignore[arg-type]
    assert isinstance(move, BrokerMove)
    assert (move.broker.broker_id, move.broker.port) == ("b2", two_brokers["b2"].port)
