"""The home keeps telemetry until the aggregator's receipt names it (real Mosquitto)."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from dacs.home import HomeController
from dacs.protocol import Receipt, encode
from dacs.testbed.servers import MosquittoBroker
from dacs.testbed.sim.hybrid import HybridHome
from dacs.testbed.sim.server import SimulatedHeatPumpServer

from .conftest import HOME, AggregatorProbe, running_home

RESEND_AFTER_S = 0.8


@pytest.fixture
async def home(
    mosquitto: MosquittoBroker, simulated: SimulatedHeatPumpServer[HybridHome]
) -> AsyncIterator[HomeController]:
    async with running_home(
        mosquitto.port,
        simulated.port,
        telemetry_interval_s=0.1,
        resend_after_s=RESEND_AFTER_S,
    ) as controller:
        yield controller


def _seqs(probe: AggregatorProbe) -> Counter[int]:
    return Counter(m["seq"] for m in probe.of("telemetry"))


async def _receipt(
    probe: AggregatorProbe, boot_id: str, *stored: tuple[int, int]
) -> None:
    receipt = Receipt(
        home_id=HOME, boot_id=boot_id, ts=datetime.now(UTC), stored=stored
    )
    await probe.client.publish(f"dacs/v1/{HOME}/receipt", encode(receipt), qos=0)


async def test_without_receipts_nothing_is_sent_twice(
    home: HomeController, probe: AggregatorProbe
) -> None:
    """An aggregator of protocol 1.0 never receipts: the home behaves as before."""
    await asyncio.sleep(3 * RESEND_AFTER_S)
    seqs = _seqs(probe)
    assert len(seqs) >= 10
    assert set(seqs.values()) == {1}
    assert home.unreceipted.held >= len(seqs)  # kept, in a bounded store


async def test_what_no_receipt_names_is_sent_again_and_then_forgotten(
    home: HomeController, probe: AggregatorProbe
) -> None:
    first = await probe.wait_for("telemetry", lambda m: m["seq"] >= 5)
    boot = first["boot_id"]
    # Everything up to 5 is stored except seq 2, which the broker "lost".
    await _receipt(probe, boot, (0, 1), (3, 5))
    async with asyncio.timeout(10):
        while _seqs(probe)[2] < 2:  # noqa: ASYNC110 - messages as they arrive
            await asyncio.sleep(0.05)
    seqs = _seqs(probe)
    assert all(seqs[seq] == 1 for seq in (0, 1, 3, 4, 5))  # receipted: never again
    newest = max(seqs)
    await _receipt(probe, boot, (0, newest))
    await asyncio.sleep(0.3)  # the receipt is in
    assert home.unreceipted.held < newest
    before = _seqs(probe)
    await asyncio.sleep(2 * RESEND_AFTER_S)
    later = _seqs(probe)
    assert all(later[seq] == before[seq] for seq in range(newest + 1))
    assert home.unreceipted.resent >= 1
