"""The telemetry table's daily partitions (PostgreSQL): made ahead, old ones dropped.

Migration 0008 turns ``telemetry`` into a table partitioned by range of
``ts``, one partition per UTC day (``telemetry_pYYYYMMDD``) and a default
partition for rows of a day without one, so no row is ever refused for its
date. Every upkeep pass, taken by one instance at a time (an advisory lock),
makes the partitions of yesterday up to ``ahead_days`` ahead, moves rows that
landed in the default partition into a partition of their own day, and drops
the partitions whose whole day lies before the retention window: dropping a
partition frees its disk at once, where a DELETE would leave a year of dead
rows for VACUUM.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
import logging
import re

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

_LOGGER = logging.getLogger(__name__)

PARENT = "telemetry"
DEFAULT_PARTITION = "telemetry_default"
_NAME = re.compile(r"^telemetry_p(\d{8})$")
# pg_advisory_xact_lock key: "telemetry partitions" (any constant would do,
# as long as nothing else in the database takes the same one).
_LOCK_KEY = 0x7465_6C65_7061_7274


@dataclass(frozen=True, kw_only=True)
class PartitionUpkeep:
    """What one upkeep pass did."""

    created: tuple[date, ...]
    dropped: tuple[date, ...]
    rows_moved: int  # from the default partition into their day's partition
    rows_expired: int  # rows in the default partition older than the retention


def partition_name(day: date) -> str:
    """The name of the partition that holds ``day`` (UTC)."""
    return f"telemetry_p{day:%Y%m%d}"


def _bound(day: date) -> str:
    """A timestamptz literal for midnight UTC (DDL takes no parameters)."""
    return f"'{datetime.combine(day, time(), UTC).isoformat()}'"


def _day_range(day: date) -> str:
    return f"FROM ({_bound(day)}) TO ({_bound(day + timedelta(days=1))})"


async def is_partitioned(connection: AsyncConnection) -> bool:
    """True when ``telemetry`` is a partitioned table (PostgreSQL after 0008)."""
    if connection.dialect.name != "postgresql":
        return False
    kind = await connection.scalar(
        text("SELECT relkind::text FROM pg_class WHERE oid = to_regclass(:name)"),
        {"name": PARENT},
    )
    return bool(kind == "p")


async def partition_days(connection: AsyncConnection) -> list[date]:
    """The days that have a partition of their own, oldest first."""
    names = await connection.scalars(
        text(
            "SELECT c.relname FROM pg_inherits i "
            "JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = to_regclass(:parent)"
        ),
        {"parent": PARENT},
    )
    days = []
    for name in names:
        match = _NAME.match(name)
        if match is not None:
            days.append(datetime.strptime(match.group(1), "%Y%m%d").date())  # noqa: DTZ007 - a date only
    return sorted(days)


async def maintain_partitions(
    engine: AsyncEngine, *, today: date, ahead_days: int, retention_days: int
) -> PartitionUpkeep:
    """Make partitions ahead, re-home default rows, drop what the retention lets go."""
    if ahead_days < 0 or retention_days < 1:
        raise ValueError("ahead_days must be >= 0 and retention_days >= 1")
    oldest_kept = today - timedelta(days=retention_days)
    newest = today + timedelta(days=ahead_days)
    async with engine.begin() as connection:
        if not await is_partitioned(connection):
            return PartitionUpkeep(created=(), dropped=(), rows_moved=0, rows_expired=0)
        # Two instances' upkeep at once would race to create the same table.
        await connection.execute(
            text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY}
        )
        existing = set(await partition_days(connection))
        stray = await _default_days(connection)
        wanted = {today + timedelta(days=d) for d in range(-1, ahead_days + 1)}
        # A stray row from a clock far ahead stays in the default partition:
        # one bad clock must not make a partition for the year 2099.
        wanted |= {d for d in stray if oldest_kept <= d <= newest}
        created = []
        moved = 0
        for day in sorted(wanted - existing):
            moved += await _create(connection, day, has_rows=day in stray)
            created.append(day)
        dropped = [day for day in sorted(existing) if day < oldest_kept]
        for day in dropped:
            await connection.execute(text(f"DROP TABLE {partition_name(day)}"))
        expired = await connection.execute(
            text(f"DELETE FROM {DEFAULT_PARTITION} WHERE ts < {_bound(oldest_kept)}")  # noqa: S608 - a date literal
        )
    upkeep = PartitionUpkeep(
        created=tuple(created),
        dropped=tuple(dropped),
        rows_moved=moved,
        rows_expired=expired.rowcount,
    )
    if created or dropped or moved or upkeep.rows_expired:
        _LOGGER.info(
            "telemetry partitions: %d created, %d dropped, %d rows re-homed, %d expired",
            len(created),
            len(dropped),
            moved,
            upkeep.rows_expired,
        )
    return upkeep


async def _default_days(connection: AsyncConnection) -> set[date]:
    """The UTC days of the rows waiting in the default partition."""
    days = await connection.scalars(
        text(
            f"SELECT DISTINCT (ts AT TIME ZONE 'UTC')::date FROM {DEFAULT_PARTITION}"  # noqa: S608 - a constant name
        )
    )
    return set(days)


async def _create(connection: AsyncConnection, day: date, *, has_rows: bool) -> int:
    """Make ``day``'s partition; rows of that day in the default partition move in."""
    name = partition_name(day)
    if not has_rows:
        await connection.execute(
            text(
                f"CREATE TABLE {name} PARTITION OF {PARENT} FOR VALUES {_day_range(day)}"
            )
        )
        return 0
    # PostgreSQL refuses a partition for rows the default partition holds:
    # build it beside the table, move the rows, then attach it.
    await connection.execute(
        text(f"CREATE TABLE {name} (LIKE {PARENT} INCLUDING DEFAULTS)")
    )
    moved = await connection.execute(
        text(
            f"WITH moved AS (DELETE FROM {DEFAULT_PARTITION} "  # noqa: S608 - constant names, date literals
            f"WHERE ts >= {_bound(day)} AND ts < {_bound(day + timedelta(days=1))} "
            f"RETURNING *) INSERT INTO {name} SELECT * FROM moved"
        )
    )
    await connection.execute(
        text(
            f"ALTER TABLE {PARENT} ATTACH PARTITION {name} FOR VALUES {_day_range(day)}"
        )
    )
    return moved.rowcount
