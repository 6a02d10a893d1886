"""Telemetry ingest into PostgreSQL: decode + ``TelemetryWriter``, against a bare COPY.

Goal: 20,000 messages/s sustained, what 100,000 homes reporting every 5 s
would need. The pipeline is measured as the aggregator runs it, on one event
loop: each (topic, payload) goes through ``AggregatorLink.dispatch`` (topic
parsing, ``dacs.protocol.decode``, the home check) into a sink doing what the
service's ``on_telemetry`` does for storage (``SequenceTracker.arrive``,
``TelemetryWriter.add``), while the writer's own ``run()`` task flushes
batches of 500 (the configured default) into a migrated database on the
throwaway ``PostgresServer``. The clock stops when every row is stored: the
writer is stopped as the service stops it, writing its last partial batch.
Not included: the MQTT client itself, and the fleet's in-memory update.

Baseline: asyncpg ``copy_records_to_table`` of the same rows, in the same
batches, into the same table with the same indexes: the cheapest way in.

The two stages are also measured apart (decode alone against ``json.loads``;
the writer alone on pre-decoded messages against COPY), and the writer's
statement is compared with other ways to insert a batch that keep the
"duplicates ignored" rule (ON CONFLICT DO NOTHING).

Measured on the 2-core development machine, shared with other jobs (ranges
over runs; the machine's load moves every figure, the COPY baseline too).
With every string checked for control characters and lone surrogates
(#18), under load: end to end 24,700/s (COPY 67,300/s, ratio 0.37), decode
68,000/s, 15 us against 4 us for json.loads (ratio 0.27); before the byte
scan that lets decode skip the walk over every string, 11,700/s end to end
(ratio 0.15) and decode 11,500/s (87 us, ratio 0.10). Earlier figures:

- end to end 38,000-59,000 messages/s on a quiet machine (COPY 150,000-
  166,000 rows/s), 30,000-32,000/s under load (COPY 87,000-89,000/s);
- decode 8-9 us per message (110,000-120,000/s; json.loads alone is 3 us):
  jsonschema-rs says valid in about 1 us, and the ``jsonschema`` validator,
  100 us a message, now runs only for refused messages, to word the error;
- the writer alone 83,000-95,000 rows/s quiet, 38,000-44,000 under load,
  with 2-3 us of client CPU per row: a binary COPY into a temporary staging
  table, then INSERT ... SELECT ... ON CONFLICT DO NOTHING.

Before (same machine under load, the earlier pipeline figure counting up to
1 s of waiting for the last partial batch): end to end 4,508/s, decode
4,006/s (``jsonschema`` on every message), the writer 28,012/s (one INSERT
over unnest(arrays) per batch, about 6 us of client CPU a row, half of it
asyncpg checking every array element), COPY 57,055/s.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
import contextlib
from datetime import UTC, datetime, timedelta
import json
import random
import time
from typing import Any

import asyncpg  # type: ignore[import-untyped]  # asyncpg ships no type hints

from dacs.aggregator.config import MqttConfig
from dacs.aggregator.ingest.receipts import ReceiptBook
from dacs.aggregator.ingest.sequence import SequenceTracker
from dacs.aggregator.ingest.telemetry_writer import TelemetryWriter, telemetry_record
from dacs.aggregator.mqtt.link import AggregatorLink, MessageSink
from dacs.aggregator.storage.database import create_engine, migrate
from dacs.protocol import (
    Channel,
    LimitSource,
    Participation,
    Telemetry,
    decode,
    encode,
    topic,
)
from dacs.testbed.servers import PostgresServer

from .harness import BenchResult

GOAL_PER_S = 20_000
HOMES = 10_000
# Rows for the database-side measurements (writer alone, COPY, alternatives).
ROWS = 100_000
# Payloads through decode and the whole pipeline.
DECODED = ROWS
BATCH = 500  # DatabaseConfig.telemetry_batch_size

_COLUMNS = tuple(
    telemetry_record(
        Telemetry(
            home_id="h-00000",
            seq=0,
            boot_id="",
            ts=datetime.now(UTC),
            electric_power_w=None,
            thermal_power_w=None,
            boiler_active=None,
            boiler_thermal_w=None,
            indoor_temp_c=None,
            outdoor_temp_c=None,
            flow_temp_c=None,
            electric_energy_kwh=None,
            limit_w=None,
            limit_source=LimitSource.NONE,
            command_id=None,
            participation=Participation.ON,
            comfort_override=False,
            device_fault=None,
        )
    )
)
_PG_TYPES = (
    "text",
    "text",
    "bigint",
    "timestamptz",
    "float8",
    "float8",
    "boolean",
    "float8",
    "float8",
    "float8",
    "float8",
    "float8",
    "text",
    "text",
    "text",
    "boolean",
)
_ON_CONFLICT = "ON CONFLICT ON CONSTRAINT uq_telemetry_home_boot_seq DO NOTHING"

type _Row = tuple[Any, ...]
type _BatchWrite = Callable[[asyncpg.Connection, Sequence[_Row]], Awaitable[None]]


def _messages(count: int) -> list[Telemetry]:
    """Ten-second telemetry from HOMES homes, varied as a winter evening is."""
    rng = random.Random(2025)
    start = datetime(2026, 1, 15, 17, 0, tzinfo=UTC)
    messages = []
    for index in range(count):
        home, seq = index % HOMES, index // HOMES
        running = rng.random() < 0.8
        limited = rng.random() < 0.3
        messages.append(
            Telemetry(
                home_id=f"h-{home:05d}",
                seq=seq,
                boot_id=f"boot-{home % 7}",
                ts=start + timedelta(seconds=10 * seq, milliseconds=home % 1000),
                electric_power_w=round(rng.uniform(300, 3000), 1) if running else 0.0,
                thermal_power_w=round(rng.uniform(1000, 9000), 1) if running else 0.0,
                boiler_active=rng.random() < 0.1,
                boiler_thermal_w=None,
                indoor_temp_c=round(rng.uniform(18, 22), 2),
                outdoor_temp_c=round(rng.uniform(-5, 8), 2),
                flow_temp_c=round(rng.uniform(28, 45), 2),
                electric_energy_kwh=round(rng.uniform(0, 20000), 3),
                limit_w=1500.0 if limited else None,
                limit_source=LimitSource.AGGREGATOR if limited else LimitSource.NONE,
                command_id=f"c-20260115T170000-h-{home:05d}-1" if limited else None,
                participation=Participation.ON,
                comfort_override=False,
                device_fault=None,
            )
        )
    return messages


# -- decode and the writer, as the aggregator runs them ----------------------------


class _IngestSink(MessageSink):
    """The service's telemetry ingest: sequence bookkeeping, then the writer.

    The writer reports each committed batch to a receipt book, as the
    service's does; the receipts themselves are built after the clock stops
    and measured apart (their QoS 0 publish is MQTT client time).
    """

    def __init__(self, writer: TelemetryWriter) -> None:
        self.sequences = SequenceTracker()
        self.writer = writer

    async def on_telemetry(self, message: Telemetry) -> None:
        self.sequences.arrive(message.home_id, message.boot_id, message.seq)
        self.writer.add(message)


async def _pipeline(dsn: str, messages: list[tuple[str, bytes]]) -> tuple[float, int]:
    """Dispatch each (topic, payload) while the writer's run() flushes.

    Returns the seconds until every row is in the database, and the rows
    written. The clock stops when the writer, stopped as the service stops it,
    has written what was left: the last partial batch would otherwise wait
    for the age limit (1 s) and the figure would measure that wait.
    """
    engine = create_engine(dsn)
    book = ReceiptBook(interval_s=30.0)
    writer = TelemetryWriter(engine, batch_size=BATCH, on_stored=book.record)
    sink = _IngestSink(writer)
    link = AggregatorLink(MqttConfig(), sink)
    try:
        start = time.perf_counter()
        runner = asyncio.create_task(writer.run())
        for name, payload in messages:
            await link.dispatch(name, payload)
            # The MQTT loop yields between messages; so does this one, so the
            # writer's task can flush while decoding goes on.
            await asyncio.sleep(0)
        runner.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await runner
        elapsed = time.perf_counter() - start
        assert link.counters.refused == 0
        assert sink.sequences.duplicates == 0
        assert book.pending == writer.written
        return elapsed, writer.written
    finally:
        await engine.dispose()


def _receipts_for(messages: list[Telemetry]) -> tuple[float, int]:
    """Seconds to note every message as committed and build the receipts due."""
    rows = [(m.home_id, m.boot_id, m.seq) for m in messages]
    book = ReceiptBook(interval_s=30.0)
    start = time.perf_counter()
    for first in range(0, len(rows), BATCH):
        book.record(rows[first : first + BATCH])
    receipts = book.due(datetime.now(UTC))
    return time.perf_counter() - start, len(receipts)


def _decode_only(payloads: list[bytes]) -> tuple[float, float]:
    """Seconds to decode every payload, and to json.loads it."""
    start = time.perf_counter()
    for payload in payloads:
        decode(payload, channel=Channel.TELEMETRY)
    decoding = time.perf_counter() - start
    start = time.perf_counter()
    for payload in payloads:
        json.loads(payload)
    return decoding, time.perf_counter() - start


async def _writer_only(dsn: str, messages: list[Telemetry]) -> tuple[float, float]:
    """Wall and client CPU seconds for TelemetryWriter on pre-decoded messages."""
    engine = create_engine(dsn)
    writer = TelemetryWriter(engine, batch_size=BATCH)
    try:
        cpu = time.process_time()
        start = time.perf_counter()
        for message in messages:
            writer.add(message)
            if writer.pending >= BATCH:
                await writer.flush()
        await writer.flush()
        elapsed = time.perf_counter() - start
        assert writer.written == len(messages)
        return elapsed, time.process_time() - cpu
    finally:
        await engine.dispose()


# -- other ways to write a batch ----------------------------------------------------


async def _copy(connection: asyncpg.Connection, batch: Sequence[_Row]) -> None:
    await connection.copy_records_to_table("telemetry", records=batch, columns=_COLUMNS)


def _insert(source: str) -> str:
    """An INSERT of every telemetry column from ``source``, duplicates ignored."""
    columns = ", ".join(_COLUMNS)
    return f"INSERT INTO telemetry ({columns}) {source} {_ON_CONFLICT}"


_INSERT = _insert(f"VALUES ({', '.join(f'${i + 1}' for i in range(len(_COLUMNS)))})")


async def _executemany(connection: asyncpg.Connection, batch: Sequence[_Row]) -> None:
    """One INSERT per row, sent as one executemany."""
    async with connection.transaction():
        await connection.executemany(_INSERT, batch)


def _insert_select(expressions: str, relation: str) -> str:
    """An INSERT of every telemetry column from a SELECT, duplicates ignored."""
    # Column names, placeholders and types are constants; values go as parameters.
    return _insert(f"SELECT {expressions} FROM {relation}")  # noqa: S608


_UNNEST = _insert_select(
    "*",
    "unnest("
    + ", ".join(f"${i + 1}::{kind}[]" for i, kind in enumerate(_PG_TYPES))
    + ")",
)
_FROM_BATCH_TABLE = _insert_select(", ".join(_COLUMNS), "telemetry_batch")
# The same columns and types as telemetry, without its id and its sequence.
_CREATE_BATCH_TABLE = (
    "CREATE TEMP TABLE IF NOT EXISTS telemetry_batch ON COMMIT DELETE ROWS "  # noqa: S608
    f"AS SELECT {', '.join(_COLUMNS)} FROM telemetry WITH NO DATA"
)


async def _unnest(connection: asyncpg.Connection, batch: Sequence[_Row]) -> None:
    """One statement per batch: one array parameter per column."""
    await connection.execute(
        _UNNEST, *(list(column) for column in zip(*batch, strict=True))
    )


async def _multi_values(connection: asyncpg.Connection, batch: Sequence[_Row]) -> None:
    """One INSERT ... VALUES (...), (...), ... per batch (16 parameters a row)."""
    width = len(_COLUMNS)
    rows = ", ".join(
        "(" + ", ".join(f"${r * width + c + 1}" for c in range(width)) + ")"
        for r in range(len(batch))
    )
    await connection.execute(
        _insert(f"VALUES {rows}"), *(value for row in batch for value in row)
    )


async def _copy_then_insert(
    connection: asyncpg.Connection, batch: Sequence[_Row]
) -> None:
    """COPY into a temporary table, then INSERT ... SELECT ... ON CONFLICT."""
    async with connection.transaction():
        await connection.execute(_CREATE_BATCH_TABLE)
        await connection.copy_records_to_table(
            "telemetry_batch", records=batch, columns=_COLUMNS
        )
        await connection.execute(_FROM_BATCH_TABLE)


async def _batches(
    connection: asyncpg.Connection, rows: list[_Row], write: _BatchWrite
) -> float:
    """Seconds to write every row in batches of BATCH into an empty table."""
    await connection.execute("TRUNCATE telemetry")
    start = time.perf_counter()
    for first in range(0, len(rows), BATCH):
        await write(connection, rows[first : first + BATCH])
    elapsed = time.perf_counter() - start
    stored = await connection.fetchval("SELECT count(*) FROM telemetry")
    assert stored == len(rows), f"{stored} rows stored, {len(rows)} written"
    return elapsed


# -- the run -------------------------------------------------------------------------


async def _measure(server: PostgresServer) -> dict[str, float]:
    dsn = server.create_database("bench_ingest")
    engine = create_engine(dsn)
    try:
        await migrate(engine)
    finally:
        await engine.dispose()
    messages = _messages(ROWS)
    rows = [tuple(telemetry_record(m).values()) for m in messages]
    payloads = [encode(m) for m in messages[:DECODED]]
    published = [
        (topic(m.home_id, Channel.TELEMETRY), payload)
        for m, payload in zip(messages, payloads, strict=False)
    ]
    times: dict[str, float] = {}
    connection = await asyncpg.connect(dsn)
    try:
        times["copy"] = await _batches(connection, rows, _copy)
        await connection.execute("TRUNCATE telemetry")
        times["writer"], times["writer_cpu"] = await _writer_only(dsn, messages)
        for name, write in (
            ("executemany", _executemany),
            ("multi_values", _multi_values),
            ("unnest", _unnest),
            ("copy_then_insert", _copy_then_insert),
        ):
            times[name] = await _batches(connection, rows, write)
        await connection.execute("TRUNCATE telemetry")
        times["pipeline"], written = await _pipeline(dsn, published)
        assert written == len(published)
        stored = await connection.fetchval("SELECT count(*) FROM telemetry")
        assert stored == len(published), f"{stored} rows stored"
    finally:
        await connection.close()
    times["decode"], times["json"] = _decode_only(payloads)
    times["receipts"], times["receipt_count"] = _receipts_for(messages)
    return times


def run() -> list[BenchResult]:
    """Pipeline, decode and writer rates, each against its floor."""
    with PostgresServer() as server:
        times = asyncio.run(_measure(server))
    copy_rate = ROWS / times["copy"]

    def rate(name: str, count: int = ROWS) -> float:
        return count / times[name]

    pipeline = rate("pipeline", DECODED)
    decoding = rate("decode", DECODED)
    writer = rate("writer")
    client_us = times["writer_cpu"] / ROWS * 1e6
    waiting_us = max(0.0, times["writer"] - times["writer_cpu"]) / ROWS * 1e6
    alternatives = ", ".join(
        f"{label} {rate(name):,.0f}/s"
        for label, name in (
            ("row-by-row executemany", "executemany"),
            ("one multi-row VALUES", "multi_values"),
            ("one INSERT ... SELECT FROM unnest(arrays)", "unnest"),
            (
                "COPY to a temp table + INSERT ... SELECT (the writer's)",
                "copy_then_insert",
            ),
        )
    )
    return [
        BenchResult(
            name="ingest: decode + TelemetryWriter (end to end)",
            unit="/s",
            value=pipeline,
            baseline_name=f"bare COPY of the same rows, batches of {BATCH}",
            baseline_value=copy_rate,
            goal=f">= {GOAL_PER_S:,} messages/s sustained",
            met=pipeline >= GOAL_PER_S,
            notes=(
                f"{DECODED:,} payloads through AggregatorLink.dispatch (topic, "
                f"decode, sequence check, writer.add) on one event loop, writer "
                f"run() flushing batches of {BATCH} concurrently, each committed "
                f"batch noted for receipts; decode alone {decoding:,.0f}/s, "
                f"writer alone {writer:,.0f}/s; receipts: "
                f"{times['receipts'] / ROWS * 1e6:.2f} us a message to note it and "
                f"build {times['receipt_count']:,.0f} receipts for {HOMES:,} homes"
            ),
        ),
        BenchResult(
            name="ingest: dacs.protocol.decode of telemetry",
            unit="/s",
            value=decoding,
            baseline_name="json.loads of the same payloads",
            baseline_value=rate("json", DECODED),
            goal=f">= {GOAL_PER_S:,} messages/s",
            met=decoding >= GOAL_PER_S,
            notes=(
                f"{1e6 / decoding:.0f} us per message against "
                f"{times['json'] / DECODED * 1e6:.1f} us to parse the JSON"
            ),
        ),
        BenchResult(
            name="ingest: TelemetryWriter on decoded messages",
            unit="/s",
            value=writer,
            baseline_name=f"bare COPY of the same rows, batches of {BATCH}",
            baseline_value=copy_rate,
            goal=f">= {GOAL_PER_S:,} messages/s",
            met=writer >= GOAL_PER_S,
            notes=(
                f"{ROWS:,} rows; per row {client_us:.0f} us of client CPU "
                f"(SQLAlchemy, asyncpg), {waiting_us:.0f} us waiting on "
                f"PostgreSQL. Same rows and batches, same ON CONFLICT rule: "
                f"{alternatives}"
            ),
        ),
    ]
