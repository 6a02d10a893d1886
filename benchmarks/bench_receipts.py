"""Telemetry receipts to 10,000 homes through a real Mosquitto: what they cost the aggregator.

The aggregator sends each home at most one receipt every
``mqtt.receipt_interval_s`` (30 s): at 10,000 homes, at most 333 receipts a
second. Measured: the receipts a ``ReceiptBook`` builds for one committed row
per home, published by ``AggregatorLink.publish_receipts`` (QoS 0, through
the publish window) to a throwaway Mosquitto, until every one is handed to
the broker; a ``mosquitto_sub`` in its own process subscribes to every
home's receipt topic and must receive them all. Baseline: the same messages through ``publish_all`` at QoS 1, the
command fan-out's path, which waits for each PUBACK.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
import time

from dacs.aggregator.config import MqttConfig
from dacs.aggregator.ingest.receipts import ReceiptBook
from dacs.aggregator.mqtt.link import AggregatorLink, MessageSink
from dacs.protocol import Receipt
from dacs.testbed.servers import MosquittoBroker

from .harness import BenchResult

HOMES = 10_000
INTERVAL_S = 30.0  # MqttConfig.receipt_interval_s
# 10,000 receipts in at most 3 s: a tenth of a core at one per home per 30 s.
GOAL_S = 3.0


def _receipts() -> list[Receipt]:
    book = ReceiptBook(interval_s=INTERVAL_S)
    book.record((f"h-{home:05d}", "b1", 41) for home in range(HOMES))
    return book.due(datetime.now(UTC))


async def _send(port: int, receipts: list[Receipt], *, qos: int) -> tuple[float, float]:
    """Wall and CPU seconds of the aggregator's process to hand every receipt over.

    The homes are one ``mosquitto_sub`` process, so receiving costs this
    process nothing; it must have every receipt before the run counts.
    """
    homes = await asyncio.create_subprocess_exec(
        "mosquitto_sub",
        "-h",
        "127.0.0.1",
        "-p",
        str(port),
        "-q",
        str(qos),
        "-i",
        f"bench-homes-{qos}",
        "-t",
        "dacs/v1/+/receipt",
        "-C",
        str(len(receipts)),
        stdout=asyncio.subprocess.DEVNULL,
    )
    link = AggregatorLink(
        MqttConfig(host="127.0.0.1", port=port, client_id=f"bench-agg-{qos}"),
        MessageSink(),
    )
    runner = asyncio.create_task(link.run())
    try:
        assert await link.wait_connected(10)
        await asyncio.sleep(0.5)  # the subscriber has subscribed
        cpu = time.process_time()
        start = time.perf_counter()
        if qos == 0:
            sent = await link.publish_receipts(receipts)
        else:
            sent = len((await link.publish_all(receipts)).confirmed)
        elapsed = time.perf_counter() - start
        cpu = time.process_time() - cpu
        assert sent == len(receipts)
        assert await asyncio.wait_for(homes.wait(), 60) == 0  # every one arrived
    finally:
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)
        if homes.returncode is None:
            homes.kill()
            await homes.wait()
    return elapsed, cpu


def run() -> list[BenchResult]:
    """Receipts to 10,000 homes against the QoS 1 fan-out path."""
    receipts = _receipts()
    with MosquittoBroker() as broker:
        qos0, cpu0 = asyncio.run(_send(broker.port, receipts, qos=0))
        qos1, cpu1 = asyncio.run(_send(broker.port, receipts, qos=1))
    return [
        BenchResult(
            name="receipts: 10,000 homes, QoS 0 through AggregatorLink",
            unit="s",
            value=qos0,
            baseline_name="the same messages at QoS 1 (publish_all, PUBACK each)",
            baseline_value=qos1,
            goal=f"<= {GOAL_S:.0f} s (one receipt per home per {INTERVAL_S:.0f} s)",
            met=qos0 <= GOAL_S,
            notes=(
                f"{len(receipts):,} receipts handed to the broker, "
                f"{cpu0 / len(receipts) * 1e6:.0f} us of the aggregator's CPU "
                f"each (at QoS 1 {cpu1 / len(receipts) * 1e6:.0f} us), "
                f"{cpu0 / INTERVAL_S:.1%} of a core at one receipt per home per "
                f"{INTERVAL_S:.0f} s; a separate subscriber received every one"
            ),
        )
    ]
