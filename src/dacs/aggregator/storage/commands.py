"""Commands to homes: stored before they are sent, reloaded after a restart."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from dacs.protocol import Cancel, Command, CommandReason, PowerInterval, parse_time

from .leases import Fence, check_fence
from .tables import CommandRow, TelemetryRow

# One statement per cycle for all its cancels (bind names differ from columns).
_CANCEL_COMMANDS = (
    update(CommandRow)
    .where(CommandRow.command_id == bindparam("b_command_id"))
    .values(cancelled_at=bindparam("b_cancelled_at"))
)
# How far back unlimited power counts for a home's baseline after a restart.
_COP_MIN_POWER_W = 100.0  # below this the compressor hardly ran: no COP
_BASELINE_WINDOW = timedelta(hours=3)


class CommandLedger:
    """The commands table, and the baselines a restart starts from."""

    def __init__(
        self, engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession]
    ) -> None:
        """Use the aggregator's database."""
        self._engine = engine
        self._sessions = sessions

    async def store(
        self,
        commands: Sequence[Command],
        cancels: Sequence[Cancel],
        *,
        fence: Fence | None = None,
    ) -> None:
        """A cycle's commands and cancels in one transaction.

        With a ``fence`` nothing is stored (FencedOutError) unless its owner
        still holds the point's lease in its epoch.
        """
        async with self._engine.begin() as connection:
            if fence is not None:
                await check_fence(connection, fence)
            if commands:
                await connection.execute(
                    insert(CommandRow),
                    [
                        {
                            "command_id": c.command_id,
                            "home_id": c.home_id,
                            "event_id": None,
                            "issued_at": c.issued_at,
                            "expires_at": c.expires_at,
                            "reason": c.reason.value,
                            "envelope": [i.to_dict() for i in c.envelope],
                            "epoch": c.epoch,
                        }
                        for c in commands
                    ],
                )
            if cancels:
                await connection.execute(
                    _CANCEL_COMMANDS,
                    [
                        {"b_command_id": c.command_id, "b_cancelled_at": c.issued_at}
                        for c in cancels
                    ],
                )

    async def in_force(self, now: datetime) -> list[tuple[Command, bool]]:
        """Each home's newest command still in force, and whether the home answered it.

        An older command the newest replaced is not in force, even though
        nobody cancelled it; a cancelled newest command leaves none.
        """
        async with self._sessions() as session:
            rows = (
                (
                    await session.execute(
                        select(CommandRow)
                        .where(CommandRow.expires_at > now)
                        .order_by(CommandRow.issued_at)
                    )
                )
                .scalars()
                .all()
            )
        newest = {row.home_id: row for row in rows}
        return [
            (_command(row), row.acked_at is not None)
            for row in newest.values()
            if row.cancelled_at is None
        ]

    async def unlimited_averages(self, now: datetime) -> dict[str, UnlimitedAverage]:
        """Each home's average power and COP while nothing limited it, over the last hours."""
        async with self._sessions() as session:
            rows = (
                await session.execute(
                    select(
                        TelemetryRow.home_id,
                        func.avg(TelemetryRow.electric_power_w),
                        func.avg(TelemetryRow.thermal_power_w),
                    )
                    .where(
                        TelemetryRow.ts >= now - _BASELINE_WINDOW,
                        TelemetryRow.limit_source == "none",
                        TelemetryRow.electric_power_w.is_not(None),
                    )
                    .group_by(TelemetryRow.home_id)
                )
            ).all()
        return {
            home_id: UnlimitedAverage(
                power_w=float(power),
                cop=float(heat) / float(power)
                if heat is not None and float(power) > _COP_MIN_POWER_W
                else None,
            )
            for home_id, power, heat in rows
            if power is not None
        }


@dataclass(frozen=True, kw_only=True)
class UnlimitedAverage:
    """A home's average heat pump power and COP while it was not limited."""

    power_w: float
    cop: float | None  # None: no heat measured, or the compressor hardly ran


def _command(row: CommandRow) -> Command:
    return Command(
        home_id=row.home_id,
        command_id=row.command_id,
        issued_at=row.issued_at,
        expires_at=row.expires_at,
        reason=CommandReason(row.reason),
        envelope=tuple(
            PowerInterval(
                start=parse_time(i["start"]),
                duration_s=int(i["duration_s"]),
                max_power_w=float(i["max_power_w"]),
            )
            for i in row.envelope
        ),
        epoch=row.epoch,
    )
