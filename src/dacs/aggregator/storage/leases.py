"""Leases on congestion points in PostgreSQL: renew, take over, let go, fence.

Every time here is the database's (``clock_timestamp()``), so the instances'
clocks need not agree. A take-over is one conditional ``UPDATE`` over rows
picked with ``FOR UPDATE SKIP LOCKED``: PostgreSQL's row locks decide who
wins, and the winner raises the point's epoch by one. A command is stored
only while its sender's lease is live in the epoch the command carries
(``check_fence``, inside the storing transaction).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Interval, Row, func, literal, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from .tables import AggregatorInstanceRow, PointLeaseRow, UtcDateTime


class FencedOutError(Exception):
    """The sender's lease on the point is gone or in another epoch: nothing is stored."""


@dataclass(frozen=True, kw_only=True)
class Fence:
    """Who may command a point's homes, in which epoch (checked by the database)."""

    congestion_point_id: str
    owner: str
    epoch: int


@dataclass(frozen=True, kw_only=True)
class HeldLease:
    """A lease this instance holds, as the database has it."""

    congestion_point_id: str
    epoch: int
    expires_at: datetime


@dataclass(frozen=True, kw_only=True)
class LeaseHolder:
    """Who holds a point's lease (for the API and the dashboard)."""

    congestion_point_id: str
    owner: str | None
    epoch: int
    expires_at: datetime
    live: bool


def _db_now() -> ColumnElement[datetime]:
    """The database's clock at the moment of the statement (not the transaction's start)."""
    return func.clock_timestamp(type_=UtcDateTime())


_LEASE_COLUMNS = (
    PointLeaseRow.congestion_point_id,
    PointLeaseRow.epoch,
    PointLeaseRow.expires_at,
)


class LeaseStore:
    """One instance's view of the ``point_leases`` and ``aggregator_instances`` tables."""

    def __init__(
        self, engine: AsyncEngine, *, instance_id: str, lease_s: float
    ) -> None:
        """Lease for ``lease_s`` seconds at a time on behalf of ``instance_id``."""
        if engine.dialect.name != "postgresql":
            raise ValueError("leases on congestion points need PostgreSQL")
        self._engine = engine
        self.instance_id = instance_id
        self._lease = timedelta(seconds=lease_s)

    def _until(self) -> ColumnElement[datetime]:
        """One lease from the database's now."""
        return _db_now() + literal(self._lease, Interval())

    async def beat(self) -> int:
        """Say this instance is alive for one lease; return how many instances are."""
        now = _db_now()
        statement = pg_insert(AggregatorInstanceRow).values(
            instance_id=self.instance_id, started_at=now, expires_at=self._until()
        )
        statement = statement.on_conflict_do_update(
            index_elements=[AggregatorInstanceRow.instance_id],
            set_={"expires_at": statement.excluded.expires_at},
        )
        async with self._engine.begin() as connection:
            await connection.execute(statement)
            live = await connection.scalar(
                select(func.count()).where(AggregatorInstanceRow.expires_at > _db_now())
            )
        return int(live or 1)

    async def ensure(self, point_ids: Collection[str]) -> None:
        """A free lease row for every point that has none yet."""
        if not point_ids:
            return
        async with self._engine.begin() as connection:
            await connection.execute(
                pg_insert(PointLeaseRow)
                .values(
                    [
                        {
                            "congestion_point_id": point_id,
                            "owner": None,
                            "epoch": 0,
                            "expires_at": _db_now(),
                        }
                        for point_id in sorted(point_ids)
                    ]
                )
                .on_conflict_do_nothing(
                    index_elements=[PointLeaseRow.congestion_point_id]
                )
            )

    async def renew(self) -> list[HeldLease]:
        """Extend every lease this instance still owns; what is missing was taken over."""
        async with self._engine.begin() as connection:
            rows = await connection.execute(
                update(PointLeaseRow)
                .where(PointLeaseRow.owner == self.instance_id)
                .values(expires_at=self._until())
                .returning(*_LEASE_COLUMNS)
            )
            return [_held(row) for row in rows]

    async def acquire(self, limit: int) -> list[HeldLease]:
        """Take up to ``limit`` free or expired leases, each in a new epoch."""
        if limit <= 0:
            return []
        free = (
            select(PointLeaseRow.congestion_point_id)
            .where(
                (PointLeaseRow.owner.is_(None))
                | (PointLeaseRow.expires_at <= _db_now())
            )
            .order_by(PointLeaseRow.congestion_point_id)
            .limit(limit)
            .with_for_update(skip_locked=True)
            .scalar_subquery()
        )
        async with self._engine.begin() as connection:
            rows = await connection.execute(
                update(PointLeaseRow)
                .where(PointLeaseRow.congestion_point_id.in_(free))
                .values(
                    owner=self.instance_id,
                    epoch=PointLeaseRow.epoch + 1,
                    expires_at=self._until(),
                    acquired_at=_db_now(),
                )
                .returning(*_LEASE_COLUMNS)
            )
            return [_held(row) for row in rows]

    async def release(self, point_ids: Collection[str]) -> None:
        """Let go of leases (rebalancing, stop): free at once, the epoch kept for the next owner."""
        if not point_ids:
            return
        async with self._engine.begin() as connection:
            await connection.execute(
                update(PointLeaseRow)
                .where(
                    PointLeaseRow.owner == self.instance_id,
                    PointLeaseRow.congestion_point_id.in_(sorted(point_ids)),
                )
                .values(owner=None, expires_at=_db_now())
            )

    async def leave(self) -> None:
        """This instance stops: it no longer counts for the fair share."""
        async with self._engine.begin() as connection:
            await connection.execute(
                update(AggregatorInstanceRow)
                .where(AggregatorInstanceRow.instance_id == self.instance_id)
                .values(expires_at=_db_now())
            )

    async def holders(self) -> list[LeaseHolder]:
        """Every point's lease as the database has it now."""
        async with self._engine.connect() as connection:
            rows = await connection.execute(
                select(
                    *_LEASE_COLUMNS,
                    PointLeaseRow.owner,
                    PointLeaseRow.expires_at > _db_now(),
                ).order_by(PointLeaseRow.congestion_point_id)
            )
            return [
                LeaseHolder(
                    congestion_point_id=row[0],
                    epoch=row[1],
                    expires_at=row[2],
                    owner=row[3],
                    live=bool(row[4]) and row[3] is not None,
                )
                for row in rows
            ]


async def check_fence(connection: AsyncConnection, fence: Fence) -> None:
    """Raise FencedOutError unless ``fence`` holds the point's live lease in its epoch.

    ``FOR SHARE`` keeps a take-over (which locks the row for update) waiting
    until the storing transaction ends: a command is either stored before
    the new epoch begins or refused.
    """
    row = (
        await connection.execute(
            select(
                PointLeaseRow.owner,
                PointLeaseRow.epoch,
                PointLeaseRow.expires_at > _db_now(),
            )
            .where(PointLeaseRow.congestion_point_id == fence.congestion_point_id)
            .with_for_update(read=True)
        )
    ).first()
    if row is None or row[0] != fence.owner or row[1] != fence.epoch or not row[2]:
        held = "no lease" if row is None else f"owner {row[0]!r}, epoch {row[1]}"
        raise FencedOutError(
            f"{fence.congestion_point_id}: {fence.owner!r} in epoch {fence.epoch} "
            f"may not command its homes ({held}{'' if row is None or row[2] else ', expired'})"
        )


def _held(row: Row[tuple[str, int, datetime]]) -> HeldLease:
    point_id, epoch, expires_at = row
    return HeldLease(congestion_point_id=point_id, epoch=epoch, expires_at=expires_at)
