"""Telemetry into the database in batches, duplicates ignored."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from dacs.aggregator.storage.batching import BatchWriter
from dacs.aggregator.storage.tables import TelemetryRow
from dacs.protocol import Telemetry

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
# Told of every committed part of a batch: rows new and rows already stored.
type StoredListener = Callable[[list[TelemetryRowValues]], None]


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


class TelemetryWriter(BatchWriter[TelemetryRowValues]):
    """Buffers telemetry and writes it in batches.

    A batch is written when it reaches ``batch_size`` or ``flush_s`` after its
    first message. Rows whose (home, boot, seq) already exist are skipped by
    the database itself, so a redelivered message can never be stored twice.
    A failed or interrupted write keeps the batch and tries again: nothing is
    lost while the database is briefly away or when the service stops mid-write.
    ``on_stored`` hears of each batch only after its commit, duplicates
    included (they are in the database too), and never of a refused row:
    that is what a receipt to the home may promise.
    """

    noun = "telemetry rows"

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        batch_size: int = 500,
        flush_s: float = 1.0,
        on_stored: StoredListener | None = None,
    ) -> None:
        """Prepare; run() (or flush()) writes."""
        super().__init__(batch_size=batch_size, flush_s=flush_s)
        self._engine = engine
        self._on_stored = on_stored

    def _committed(self, batch: list[TelemetryRowValues]) -> None:
        if self._on_stored is not None:
            self._on_stored(batch)

    def add(self, message: Telemetry) -> None:
        """Queue one message."""
        self._queue(telemetry_row(message))

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
