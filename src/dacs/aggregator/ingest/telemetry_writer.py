"""Telemetry into the database in batches, duplicates ignored."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from sqlalchemy import Insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from dacs.aggregator.storage.tables import TelemetryRow
from dacs.protocol import Telemetry

_LOGGER = logging.getLogger(__name__)


# The telemetry table's columns, in the order of the buffered row tuples.
TELEMETRY_COLUMNS = (
    "home_id",
    "boot_id",
    "seq",
    "ts",
    "electric_power_w",
    "thermal_power_w",
    "boiler_active",
    "boiler_thermal_w",
    "indoor_temp_c",
    "outdoor_temp_c",
    "electric_energy_kwh",
    "limit_w",
    "limit_source",
    "command_id",
    "participation",
    "comfort_override",
)
_COLUMNS_SQL = ", ".join(TELEMETRY_COLUMNS)
# A batch goes by binary COPY into a per-session staging table, then into
# telemetry with duplicates skipped: the client encodes half as much as for
# one INSERT over column arrays (unnest), where asyncpg checks every element.
# The staging table keeps the columns' types and empties itself at commit.
_STAGING = "telemetry_staging"
# Built from the constant column list above; no input reaches the text.
_CREATE_STAGING = (
    f"CREATE TEMPORARY TABLE IF NOT EXISTS {_STAGING} ON COMMIT DELETE ROWS "  # noqa: S608
    f"AS SELECT {_COLUMNS_SQL} FROM telemetry WITH NO DATA"
)
_FROM_STAGING = (
    f"INSERT INTO telemetry ({_COLUMNS_SQL}) SELECT {_COLUMNS_SQL} FROM {_STAGING} "  # noqa: S608
    "ON CONFLICT ON CONSTRAINT uq_telemetry_home_boot_seq DO NOTHING"
)

type TelemetryRowValues = tuple[Any, ...]


def telemetry_row(message: Telemetry) -> TelemetryRowValues:
    """The telemetry table's values for one message, in TELEMETRY_COLUMNS order."""
    return (
        message.home_id,
        message.boot_id,
        message.seq,
        message.ts,
        message.electric_power_w,
        message.thermal_power_w,
        message.boiler_active,
        message.boiler_thermal_w,
        message.indoor_temp_c,
        message.outdoor_temp_c,
        message.electric_energy_kwh,
        message.limit_w,
        message.limit_source.value,
        message.command_id,
        message.participation.value,
        message.comfort_override,
    )


def telemetry_record(message: Telemetry) -> dict[str, Any]:
    """The telemetry table's row for one message, by column name."""
    return dict(zip(TELEMETRY_COLUMNS, telemetry_row(message), strict=True))


class TelemetryWriter:
    """Buffers telemetry and writes it in batches.

    A batch is written when it reaches ``batch_size`` or ``flush_s`` after its
    first message. Rows whose (home, boot, seq) already exist are skipped by
    the database itself, so a redelivered message can never be stored twice.
    A failed or interrupted write keeps the batch and tries again: nothing is
    lost while the database is briefly away or when the service stops mid-write.
    """

    def __init__(
        self, engine: AsyncEngine, *, batch_size: int = 500, flush_s: float = 1.0
    ) -> None:
        """Prepare; run() (or flush()) writes."""
        self._engine = engine
        self._batch_size = batch_size
        self._flush_s = flush_s
        self._buffer: list[TelemetryRowValues] = []
        self._first_at: float | None = None
        self._wake = asyncio.Event()
        self.written = 0
        self.failures = 0

    @property
    def pending(self) -> int:
        """Messages not yet written."""
        return len(self._buffer)

    def add(self, message: Telemetry) -> None:
        """Queue one message."""
        if not self._buffer:
            self._first_at = time.monotonic()
        self._buffer.append(telemetry_row(message))
        if len(self._buffer) >= self._batch_size:
            self._wake.set()

    async def flush(self) -> int:
        """Write everything buffered now; returns the rows handed to the database."""
        if not self._buffer:
            return 0
        batch, self._buffer = self._buffer, []
        self._first_at = None
        try:
            await self._write(batch)
        except BaseException as err:
            # Failed, or cancelled mid-write (the service stopping): keep the
            # rows in order. Should the write have committed all the same, the
            # next attempt skips them as duplicates.
            if isinstance(err, Exception):
                self.failures += 1
            self._buffer = batch + self._buffer
            self._first_at = time.monotonic()
            raise
        self.written += len(batch)
        return len(batch)

    async def run(self) -> None:
        """Flush by size or age until cancelled (then flush what is left)."""
        try:
            while True:
                timeout = self._flush_s
                if self._first_at is not None:
                    timeout = max(
                        0.0, self._first_at + self._flush_s - time.monotonic()
                    )
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout)
                self._wake.clear()
                if self._buffer and (
                    len(self._buffer) >= self._batch_size
                    or (
                        self._first_at is not None
                        and time.monotonic() - self._first_at >= self._flush_s
                    )
                ):
                    try:
                        await self.flush()
                    except Exception:
                        _LOGGER.exception("telemetry batch not written; retrying")
                        await asyncio.sleep(min(self._flush_s, 1.0))
        finally:
            if self._buffer:
                try:
                    await asyncio.shield(self.flush())
                except Exception:
                    _LOGGER.exception(
                        "%d telemetry rows not written on stopping", self.pending
                    )

    async def _write(self, batch: list[TelemetryRowValues]) -> None:
        if self._engine.dialect.name == "postgresql":
            await self._copy(batch)
            return
        async with self._engine.begin() as connection:
            await connection.execute(
                self._insert(),
                [dict(zip(TELEMETRY_COLUMNS, row, strict=True)) for row in batch],
            )

    async def _copy(self, batch: list[TelemetryRowValues]) -> None:
        """COPY into the staging table and move new rows on, in one transaction."""
        async with self._engine.connect() as connection:
            # COPY has no SQLAlchemy form: use asyncpg's connection itself, with
            # its own transaction (SQLAlchemy's would begin only on its first
            # statement, and there is none here).
            pooled = await connection.get_raw_connection()
            driver = pooled.driver_connection
            if driver is None:  # only after the pool invalidated it
                raise ConnectionError("the database connection was closed")
            async with driver.transaction():
                await driver.execute(_CREATE_STAGING)
                await driver.copy_records_to_table(
                    _STAGING, records=batch, columns=TELEMETRY_COLUMNS
                )
                await driver.execute(_FROM_STAGING)

    def _insert(self) -> Insert:
        table = TelemetryRow  # the mapped class stands for its table
        dialect = self._engine.dialect.name
        if dialect == "postgresql":
            return postgresql.insert(table).on_conflict_do_nothing(
                constraint="uq_telemetry_home_boot_seq"
            )
        if dialect == "sqlite":
            return sqlite.insert(table).on_conflict_do_nothing()
        raise NotImplementedError(
            f"telemetry writes need PostgreSQL or SQLite, not {dialect}"
        )
