"""Telemetry partitioned by day (PostgreSQL), keeping every stored row.

The table becomes ``PARTITION BY RANGE (ts)`` with one partition per UTC day
and a default partition; the aggregator's upkeep (storage/
telemetry_partitions.py) makes new days ahead and drops days past the
retention. A partitioned table's keys must hold the partition key, so the
primary key becomes (id, ts) and the duplicate guard (home, ts, boot, seq),
which also replaces the (home, ts) index: a redelivered message carries its
original ts, so it is still refused.
SQLite keeps its plain table.

Revision ID: 0008_telemetry_partitions
Revises: 0001
Create Date: 2026-12-08 01:00:00
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta

from alembic import op
import sqlalchemy as sa

revision: str = "0008_telemetry_partitions"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Partitions made at once beyond the days that hold rows; the upkeep adds more.
_AHEAD_DAYS = 7


def _bound(day: date) -> str:
    return f"'{datetime.combine(day, time(), UTC).isoformat()}'"


def _set_aside(name: str, *, home_ts_index: bool) -> str:
    """Rename the telemetry table and its keys out of the way; returns its id sequence.

    The ids go on from the same sequence in the new table, so it must
    outlive the old one.
    """
    sequence = str(
        op.get_bind().scalar(
            sa.text("SELECT pg_get_serial_sequence('telemetry', 'id')")
        )
    )
    op.execute(f"ALTER TABLE telemetry RENAME TO {name}")
    if home_ts_index:  # the plain table's; the partitioned one needs none
        op.execute(f"ALTER INDEX ix_telemetry_home_ts RENAME TO ix_{name}_home_ts")
    for key in ("uq_telemetry_home_boot_seq", "telemetry_pkey"):
        renamed = key.replace("telemetry", name, 1)
        op.execute(f"ALTER TABLE {name} RENAME CONSTRAINT {key} TO {renamed}")
    op.execute(f"ALTER SEQUENCE {sequence} OWNED BY NONE")
    return sequence


def upgrade() -> None:
    """Apply this revision."""
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    sequence = _set_aside("telemetry_unpartitioned", home_ts_index=True)
    for statement in (
        (
            "CREATE TABLE telemetry (LIKE telemetry_unpartitioned INCLUDING DEFAULTS) "
            "PARTITION BY RANGE (ts)"
        ),
        "ALTER TABLE telemetry ADD CONSTRAINT telemetry_pkey PRIMARY KEY (id, ts)",
        # Led by (home, ts), the duplicate guard also serves the reads by
        # home and time: no second index (a third of a row's bytes on disk).
        (
            "ALTER TABLE telemetry ADD CONSTRAINT uq_telemetry_home_boot_seq "
            "UNIQUE (home_id, ts, boot_id, seq)"
        ),
        "CREATE TABLE telemetry_default PARTITION OF telemetry DEFAULT",
    ):
        op.execute(statement)
    stored = bind.scalars(
        sa.text(
            "SELECT DISTINCT (ts AT TIME ZONE 'UTC')::date FROM telemetry_unpartitioned"
        )
    )
    today = datetime.now(UTC).date()
    days = set(stored) | {today + timedelta(days=d) for d in range(-1, _AHEAD_DAYS + 1)}
    for day in sorted(days):
        op.execute(
            f"CREATE TABLE telemetry_p{day:%Y%m%d} PARTITION OF telemetry "
            f"FOR VALUES FROM ({_bound(day)}) TO ({_bound(day + timedelta(days=1))})"
        )
    op.execute("INSERT INTO telemetry SELECT * FROM telemetry_unpartitioned")
    op.execute("DROP TABLE telemetry_unpartitioned")
    op.execute(f"ALTER SEQUENCE {sequence} OWNED BY telemetry.id")


def downgrade() -> None:
    """Undo this revision: one plain table again, with every row."""
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    sequence = _set_aside("telemetry_partitioned", home_ts_index=False)
    for statement in (
        "CREATE TABLE telemetry (LIKE telemetry_partitioned INCLUDING DEFAULTS)",
        "ALTER TABLE telemetry ADD CONSTRAINT telemetry_pkey PRIMARY KEY (id)",
        (
            "ALTER TABLE telemetry ADD CONSTRAINT uq_telemetry_home_boot_seq "
            "UNIQUE (home_id, boot_id, seq)"
        ),
        "CREATE INDEX ix_telemetry_home_ts ON telemetry (home_id, ts)",
        "INSERT INTO telemetry SELECT * FROM telemetry_partitioned",
        "DROP TABLE telemetry_partitioned",
        f"ALTER SEQUENCE {sequence} OWNED BY telemetry.id",
    ):
        op.execute(statement)
