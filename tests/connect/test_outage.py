"""The uplink outage test: the central broker stops for a minute while telemetry flows.

A publisher on the home broker sends QoS 1 telemetry every 50 ms; a
subscriber with the aggregator's login collects it on the central broker
(TLS, ACL and passwords as deployed). The central broker is stopped for 60
seconds and restarted on the same port with its persistence. Every message
must arrive, in order; duplicates are allowed (QoS 1 is at least once) and
counted. The figures go to artifacts/outage-test.json.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
import json
from pathlib import Path
import time
from typing import Any

import pytest

from dacs.connect import StatusBoard, UplinkMonitor, UplinkState
from dacs.protocol import Channel, LimitSource, Participation, Telemetry, decode, encode
from tests.broker.support import AGGREGATOR_PASSWORD, AGGREGATOR_USER, MqttProbe, Pki

from .conftest import HOME_ID
from .homes import central_broker, enrollment_for, start_home_broker

OUTAGE_S = 60.0
INTERVAL_S = 0.05
FLOW_BEFORE_S = 2.0
FLOW_AFTER_S = 2.0
ARTIFACT = Path(__file__).resolve().parents[2] / "artifacts" / "outage-test.json"


def _telemetry(seq: int) -> bytes:
    return encode(
        Telemetry(
            home_id=HOME_ID,
            seq=seq,
            boot_id="outage-test",
            ts=datetime.now(UTC),
            electric_power_w=1200.0,
            thermal_power_w=4100.0,
            boiler_active=False,
            boiler_thermal_w=None,
            indoor_temp_c=20.5,
            outdoor_temp_c=3.0,
            flow_temp_c=38.0,
            electric_energy_kwh=None,
            limit_w=None,
            limit_source=LimitSource.NONE,
            command_id=None,
            participation=Participation.ON,
            comfort_override=False,
            device_fault=None,
        )
    )


async def _until(condition: Any, within_s: float, what: str) -> float:
    """Wait until ``condition()``; the seconds it took."""
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > within_s:
            raise AssertionError(f"{what} did not happen within {within_s} s")
        await asyncio.sleep(0.1)
    return time.monotonic() - start


async def test_telemetry_survives_a_minute_without_the_central_broker(
    tmp_path: Path, pki: Pki, record_property: pytest.RecordProperty
) -> None:
    central = await asyncio.to_thread(central_broker, tmp_path / "central", pki)
    home = await asyncio.to_thread(
        start_home_broker, tmp_path / "home", enrollment_for(central, pki)
    )
    board = StatusBoard()
    login = home.prepared.credentials.service
    monitor = UplinkMonitor(
        board,
        host="127.0.0.1",
        port=home.settings.listen_port,
        username=login.username,
        password=login.password,
    )
    monitor.start()
    # The aggregator keeps a persistent session, as the real one does.
    aggregator = MqttProbe(
        central.plain_port,
        username=AGGREGATOR_USER,
        password=AGGREGATOR_PASSWORD,
        client_id="aggregator-outage-test",
        clean_session=False,
    )
    publisher = None
    try:
        await _until(lambda: board.snapshot.uplink is UplinkState.UP, 20, "bridge up")
        assert not (await asyncio.to_thread(aggregator.connect)).is_failure
        await asyncio.to_thread(aggregator.subscribe, f"dacs/v1/{HOME_ID}/telemetry")
        publisher = await asyncio.to_thread(home.integration, "telemetry-publisher")
        sent = 0
        publishing = True

        async def publish() -> None:
            nonlocal sent
            while publishing:
                publisher.client.publish(
                    f"dacs/v1/{HOME_ID}/telemetry", _telemetry(sent), qos=1
                )
                sent += 1
                await asyncio.sleep(INTERVAL_S)

        flow = asyncio.create_task(publish())
        await asyncio.sleep(FLOW_BEFORE_S)

        await asyncio.to_thread(central.broker.stop)
        stopped_at = time.monotonic()
        sent_at_stop = sent
        await _until(
            lambda: board.snapshot.uplink is UplinkState.DOWN, 10, "uplink down"
        )
        peak_queued = 0
        while time.monotonic() - stopped_at < OUTAGE_S:
            await asyncio.sleep(0.5)
            peak_queued = max(peak_queued, board.snapshot.queued_messages or 0)
        await asyncio.to_thread(central.broker.start)
        outage_s = time.monotonic() - stopped_at
        sent_during_outage = sent - sent_at_stop
        reconnect_s = await _until(
            lambda: board.snapshot.uplink is UplinkState.UP, 60, "bridge reconnect"
        )
        await asyncio.sleep(FLOW_AFTER_S)
        publishing = False
        await flow

        received: list[int] = []

        def drain() -> None:
            for message in aggregator.collect(0.2):
                decoded = decode(message.payload, channel=Channel.TELEMETRY)
                assert isinstance(decoded, Telemetry)
                received.append(decoded.seq)

        async def complete() -> bool:
            await asyncio.to_thread(drain)
            return set(received) >= set(range(sent))

        deadline = time.monotonic() + 60
        while not await complete() and time.monotonic() < deadline:
            pass
        await asyncio.to_thread(drain)  # late duplicates, if any
    finally:
        monitor.stop()
        aggregator.close()
        if publisher is not None:
            publisher.close()
        home.broker.cleanup()
        central.broker.cleanup()

    unique = list(dict.fromkeys(received))  # first arrival of each seq, in order
    figures = {
        "sent": sent,
        "received": len(received),
        "duplicates_dropped": len(received) - len(unique),
        "lost": len(set(range(sent)) - set(unique)),
        "unexpected": len(set(unique) - set(range(sent))),
        "in_order": unique == sorted(unique),
        "outage_s": round(outage_s, 1),
        "sent_during_outage": sent_during_outage,
        "peak_queued_on_home_broker": peak_queued,
        "bridge_reconnect_s": round(reconnect_s, 1),
        "interval_s": INTERVAL_S,
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    ARTIFACT.parent.mkdir(exist_ok=True)
    ARTIFACT.write_text(json.dumps(figures, indent=2) + "\n")
    for key, value in figures.items():
        record_property(key, value)
    print(f"outage test: {json.dumps(figures)}")  # noqa: T201 - the figures are the result

    assert figures["lost"] == 0
    assert figures["unexpected"] == 0
    assert figures["in_order"]
    assert sent_during_outage >= OUTAGE_S / INTERVAL_S * 0.8
    # The status page saw the queue grow while the uplink was down.
    assert peak_queued > 0
