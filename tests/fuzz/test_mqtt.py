"""Hostile payloads on every topic a home may write, into a running aggregator.

A real central broker as production runs it (the rendered ACL, TLS for
homes, the aggregator on its loopback port), a real aggregator (its HTTP
app, PostgreSQL) and a home with its own login. The home publishes what
hypothesis draws (mutated valid messages, NaN and 400-digit numbers, deep
nesting, control characters, lone surrogates, payloads over the size limit,
binary junk) on each topic the ACL lets it write, some retained. Then: the
aggregator still runs (every supervised task up, ``/health`` ok), every
refused message was counted, a retained poison message is cleared, what
was valid is stored, and another home's telemetry sent afterwards is stored.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
import json
import math
from pathlib import Path
import re
import threading
import time
from typing import Any

from aiohttp.test_utils import TestClient, TestServer
from hypothesis import given, strategies as st
import pytest
from sqlalchemy import select

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
from dacs.aggregator.storage.database import migrate
from dacs.aggregator.storage.tables import TelemetryRow
from dacs.broker import render_acl
from dacs.protocol import (
    MAX_PAYLOAD_BYTES,
    Channel,
    LimitSource,
    Participation,
    ProtocolError,
    Telemetry,
    decode,
    encode,
    topic,
)
from tests.broker.support import (
    AGGREGATOR_PASSWORD,
    AGGREGATOR_USER,
    Central,
    MqttProbe,
    make_pki,
    start_central,
)

from .budget import budget
from .inputs import payloads
from .test_protocol import VALID

PASSWORD = "fuzzing-home-secret-0123456789"
READER = {"Authorization": "Bearer fuzz-reader-token"}
# The channels the rendered ACL lets a home write ("pattern write dacs/v1/%u/<x>").
WRITABLE = [
    Channel(name)
    for name in re.findall(r"pattern write dacs/v1/%u/(\w+)", render_acl("agg"))
]


def _seeds(home_id: str) -> list[dict[str, Any]]:
    """The valid examples a home sends, as from ``home_id``: some mutations stay valid."""
    kinds = {"telemetry", "status", "preferences", "ack"}
    return [m | {"home_id": home_id} for m in VALID if m["type"] in kinds]


@dataclass
class Sent:
    """What the fuzzing home handed over, and what of it must be stored."""

    count: int = 0  # acknowledged by the broker
    oversize: int = 0  # over the size limit, sent at QoS 0
    valid_telemetry: set[tuple[str, int]] = field(default_factory=set)


@pytest.fixture
async def aggregator(
    tmp_path: Path, postgres_dsn: str
) -> AsyncIterator[tuple[TestClient[Any, Any], Central, list[str]]]:
    config = AggregatorConfig(
        database=DatabaseConfig(url=postgres_dsn),
        mqtt=MqttConfig(host="127.0.0.1", port=0),  # set once the broker runs
        control=ControlConfig(cycle_s=3600),
    )
    # Enrol two homes first: the broker needs their logins before it starts.
    service = AggregatorService(
        config, clock=SystemClock(), provisioner=OpenBrokerProvisioner()
    )
    await migrate(service.engine)
    await service.registry.add_congestion_point(
        point_id="tr-fuzz", name="Fuzz", rated_capacity_kw=100, grid_operator="DSO"
    )
    codes = await service.registry.create_codes("tr-fuzz", count=2)
    home_ids = [(await service.registry.enroll(c.code)).home_id for c in codes]
    await service.engine.dispose()
    central = start_central(
        tmp_path / "central",
        make_pki(tmp_path / "pki"),
        dict.fromkeys(home_ids, PASSWORD),
    )
    config = AggregatorConfig(
        api=ApiConfig(reader_tokens=(READER["Authorization"].removeprefix("Bearer "),)),
        database=DatabaseConfig(url=postgres_dsn, telemetry_flush_s=0.2),
        mqtt=MqttConfig(
            host="127.0.0.1",
            port=central.plain_port,
            username=AGGREGATOR_USER,
            password=AGGREGATOR_PASSWORD,
            # Every hostile message must reach the decoder: no home quarantine.
            home_quarantine_refusals=10**9,
        ),
        control=ControlConfig(cycle_s=3600),
    )
    try:
        app = create_app(config, provisioner=OpenBrokerProvisioner())
        async with TestClient(TestServer(app, host="127.0.0.1")) as client:
            assert await app[SERVICE].link.wait_connected(10)
            yield client, central, home_ids
    finally:
        central.broker.cleanup()


def _home(central: Central, home_id: str) -> MqttProbe:
    probe = MqttProbe(
        central.tls_port,
        username=home_id,
        password=PASSWORD,
        client_id=home_id,
        ca_file=central.broker.workdir.parent / "pki" / "ca.crt",
    )
    assert not probe.connect().is_failure
    return probe


def _fuzz(probe: MqttProbe, home_id: str, sent: Sent) -> Callable[[], None]:
    oversize = st.integers(MAX_PAYLOAD_BYTES + 1, 3 * MAX_PAYLOAD_BYTES).map(
        lambda n: b'{"v":1,"type":"telemetry","x":"' + b"x" * n + b'"}'
    )

    @budget(ci=60, long=10_000)
    @given(
        channel=st.sampled_from(WRITABLE),
        payload=payloads(_seeds(home_id)) | oversize,
        retain=st.booleans(),
    )
    def publish(channel: Channel, payload: bytes, retain: bool) -> None:
        name = topic(home_id, channel)
        if len(payload) > MAX_PAYLOAD_BYTES:
            # The broker closes the connection of a client that sends more
            # (message_size_limit): the home reconnects, as a real one does.
            assert probe.connected.wait(10)
            probe.client.publish(name, payload, qos=0)
            sent.oversize += 1
            return
        _published(probe, name, payload, retain)
        sent.count += 1
        try:
            message = decode(payload, channel=channel)
        except ProtocolError:
            return
        if isinstance(message, Telemetry) and message.home_id == home_id:
            sent.valid_telemetry.add((message.boot_id, message.seq))

    return publish


def _published(probe: MqttProbe, name: str, payload: bytes, retain: bool) -> None:
    """Publish once the home is connected, again if the connection was closing."""
    for _ in range(5):
        assert probe.connected.wait(10), "the home did not reconnect"
        try:
            probe.publish(name, payload, retain=retain)
        except (RuntimeError, AssertionError):
            time.sleep(0.2)  # the broker was closing the connection
        else:
            return
    raise AssertionError(f"{name}: not acknowledged in five attempts")


async def _in_a_thread(work: Callable[[], None]) -> None:
    """Run blocking ``work`` while the event loop (the aggregator) goes on."""
    loop = asyncio.get_running_loop()
    done = asyncio.Event()
    failure: list[BaseException] = []

    def run() -> None:
        try:
            work()
        except BaseException as err:  # noqa: BLE001 - re-raised on the loop
            failure.append(err)
        finally:
            loop.call_soon_threadsafe(done.set)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    await done.wait()
    thread.join()
    if failure:
        raise failure[0]


async def _stored(service: AggregatorService, home_id: str) -> set[tuple[str, int]]:
    async with service.sessions() as session:
        rows = await session.execute(
            select(TelemetryRow.boot_id, TelemetryRow.seq).where(
                TelemetryRow.home_id == home_id
            )
        )
        return {(boot, seq) for boot, seq in rows.tuples().all()}


async def _until(condition: Callable[[], Any], within_s: float) -> None:
    deadline = time.monotonic() + within_s
    while not await condition():
        assert time.monotonic() < deadline, "not within the time allowed"
        await asyncio.sleep(0.1)


def _telemetry(home_id: str, boot_id: str, seq: int) -> Telemetry:
    """A valid reading of 1,500 W, taken now."""
    return Telemetry(
        home_id=home_id,
        seq=seq,
        boot_id=boot_id,
        ts=datetime.now(UTC).replace(microsecond=0),
        electric_power_w=1500.0,
        indoor_temp_c=20.0,
        electric_energy_kwh=12.5,
        limit_w=None,
        limit_source=LimitSource.NONE,
        participation=Participation.ON,
        comfort_override=False,
    )


def _retained(central: Central, home_id: str) -> list[tuple[str, bytes]]:
    """What a new subscriber gets retained on the home's topics."""
    probe = MqttProbe(
        central.plain_port,
        username=AGGREGATOR_USER,
        password=AGGREGATOR_PASSWORD,
        client_id="retained-check",
    )
    assert not probe.connect().is_failure
    try:
        probe.subscribe(f"dacs/v1/{home_id}/#")
        return [(m.topic, m.payload) for m in probe.collect(1.0) if m.retain]
    finally:
        probe.close()


async def test_hostile_payloads_on_every_writable_topic_stop_nothing(
    aggregator: tuple[TestClient[Any, Any], Central, list[str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    client, central, (fuzzer, other) = aggregator
    # A topic's retained message is cleared at most once a minute; sooner here.
    monkeypatch.setattr("dacs.aggregator.mqtt.link._CLEAR_INTERVAL_S", 1.0)
    service = client.server.app[SERVICE]
    assert set(WRITABLE) == {
        Channel.ACK,
        Channel.TELEMETRY,
        Channel.STATUS,
        Channel.PREFERENCES,
    }
    probe = _home(central, fuzzer)
    sent = Sent()
    try:
        await _in_a_thread(_fuzz(probe, fuzzer, sent))
        # A poison message left retained at the end, as a broken home might.
        poison = b'{"v":1,"type":"telemetry","seq":1e999,"x":"\xed\xa0\x80"}'
        await _in_a_thread(
            lambda: _published(probe, topic(fuzzer, Channel.TELEMETRY), poison, True)
        )
    finally:
        probe.close()
    # Ingest goes on: another home's telemetry, sent after the fuzz, is stored.
    after = _telemetry(other, "after-fuzz", 7)
    sender = _home(central, other)
    try:
        await _in_a_thread(
            lambda: sender.publish(topic(other, Channel.TELEMETRY), encode(after))
        )
    finally:
        sender.close()

    async def other_stored() -> bool:
        return ("after-fuzz", 7) in await _stored(service, other)

    await _until(other_stored, 20)

    # Nothing valid the fuzzing home sent is lost.
    async def valid_stored() -> bool:
        return sent.valid_telemetry <= await _stored(service, fuzzer)

    await _until(valid_stored, 20)
    # Running: no supervised task down, /health ok, the link up.
    assert not service.supervisor.down
    health = await client.get("/health")
    assert health.status == 200, await health.text()
    assert (await health.json())["status"] == "ok"
    # Refused messages were counted (the oversize ones the broker drops).
    assert service.link.counters.refused > 0
    assert service.counters.messages_refused == (
        service.link.counters.refused + service.link.counters.wrong_home
    )
    # The retained poison is cleared; what stays retained is valid.
    await asyncio.sleep(1.5)
    retained: list[tuple[str, bytes]] = []
    await _in_a_thread(lambda: retained.extend(_retained(central, fuzzer)))
    for name, payload in retained:
        channel = Channel(name.rsplit("/", 1)[1])
        decode(payload, channel=channel)  # raises if a refused message stayed
    assert all(payload != poison for _, payload in retained)
    assert json.dumps(sorted(sent.valid_telemetry))  # what was checked, for -v


def _strict_json(text: str) -> Any:
    """JSON as a browser reads it: ``NaN`` and ``Infinity`` are not JSON."""

    def refuse(constant: str) -> None:
        raise AssertionError(f"{constant} in an API answer: {text[:300]}")

    return json.loads(text, parse_constant=refuse)


async def test_a_nan_or_infinite_reading_reaches_neither_the_database_nor_the_api(
    aggregator: tuple[TestClient[Any, Any], Central, list[str]],
) -> None:
    # #18: a NaN electric_power_w was stored in PostgreSQL as NaN, the point's
    # heat pump load and the homes' baselines became NaN, and the REST API
    # answered bare NaN or failed. Now decode refuses it before anything.
    client, central, (home_id, _) = aggregator
    service = client.server.app[SERVICE]
    boot = "nan-boot"

    def reading(seq: int, field: str = "", literal: str = "") -> bytes:
        document = json.loads(encode(_telemetry(home_id, boot, seq)))
        if not field:
            return json.dumps(document).encode()
        document[field] = "@poison@"
        return json.dumps(document).replace('"@poison@"', literal).encode()

    poisons = [
        reading(2, "electric_power_w", "NaN"),
        reading(3, "electric_power_w", "Infinity"),
        reading(4, "electric_power_w", "-Infinity"),
        reading(5, "electric_energy_kwh", "1e999"),
        reading(6, "indoor_temp_c", "NaN"),
    ]
    refused_before = service.link.counters.refused
    probe = _home(central, home_id)
    name = topic(home_id, Channel.TELEMETRY)
    try:
        await _in_a_thread(lambda: probe.publish(name, reading(1)))

        async def first_stored() -> bool:
            return (boot, 1) in await _stored(service, home_id)

        await _until(first_stored, 20)
        for payload in poisons:  # sent after a valid one, so each would be the latest
            await _in_a_thread(lambda payload=payload: probe.publish(name, payload))
    finally:
        probe.close()

    async def all_refused() -> bool:
        return service.link.counters.refused >= refused_before + len(poisons)

    await _until(all_refused, 20)
    await asyncio.sleep(0.5)  # two of the writer's flushes
    assert await _stored(service, home_id) >= {(boot, 1)}
    assert {seq for b, seq in await _stored(service, home_id) if b == boot} == {1}
    async with service.sessions() as session:
        columns = [
            TelemetryRow.electric_power_w,
            TelemetryRow.indoor_temp_c,
            TelemetryRow.electric_energy_kwh,
        ]
        values = (await session.execute(select(*columns))).all()
    assert values
    assert all(math.isfinite(v) for row in values for v in row if v is not None)
    # Every answer the dashboard reads is JSON, with the reading that was valid.
    for path in (
        "/api/v1/homes",
        f"/api/v1/homes/{home_id}",
        "/api/v1/congestion-points",
        "/api/v1/congestion-points/tr-fuzz",
    ):
        answer = await client.get(path, headers=READER)
        assert answer.status == 200, (path, await answer.text())
        _strict_json(await answer.text())
    home = _strict_json(
        await (await client.get(f"/api/v1/homes/{home_id}", headers=READER)).text()
    )
    assert home["electric_power_w"] == 1500.0
    health = await client.get("/health")
    assert (health.status, (await health.json())["status"]) == (200, "ok")
