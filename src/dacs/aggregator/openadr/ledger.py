"""What the VEN has done, in the aggregator's database: event versions and resources."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from dacs.aggregator.storage.tables import (
    EventRow,
    HomeRow,
    OpenAdrEventRow,
    OpenAdrResourceRow,
)

# What became of an event version (``openadr_events.outcome``).
APPLIED = "applied"
REFUSED = "refused"
EXPIRED = "expired"
NOTED = "noted"  # understood, nothing to put in force (baseline, anchor, override)


class OpenAdrLedger:
    """Reads and writes the openadr_events and openadr_resources tables."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        """Use the aggregator's sessions."""
        self._sessions = sessions

    async def versions(self, program_id: str) -> Sequence[OpenAdrEventRow]:
        """Every event version of a program handled so far."""
        async with self._sessions() as session:
            return (
                (
                    await session.execute(
                        select(OpenAdrEventRow)
                        .where(OpenAdrEventRow.program_id == program_id)
                        .order_by(OpenAdrEventRow.id)
                    )
                )
                .scalars()
                .all()
            )

    async def record(self, row: OpenAdrEventRow) -> None:
        """Store a handled event version."""
        async with self._sessions() as session:
            session.add(row)
            await session.commit()

    async def update_version(self, row_id: int, **values: Any) -> None:
        """Change a handled version (cancelled, acknowledged, reported)."""
        async with self._sessions() as session:
            await session.execute(
                update(OpenAdrEventRow)
                .where(OpenAdrEventRow.id == row_id)
                .values(**values)
            )
            await session.commit()

    async def cap_event_exists(self, cap_event_id: str) -> bool:
        """True when the aggregator stored this cap event already (a crash mid-poll)."""
        async with self._sessions() as session:
            return await session.get(EventRow, cap_event_id) is not None

    async def enrolled_homes(self) -> Sequence[HomeRow]:
        """Every enrolled home, with the EAN the VTN knows it by."""
        async with self._sessions() as session:
            return (
                (await session.execute(select(HomeRow).order_by(HomeRow.id)))
                .scalars()
                .all()
            )

    async def resources(self) -> dict[str, OpenAdrResourceRow]:
        """Registered homes by home id."""
        async with self._sessions() as session:
            rows = (await session.execute(select(OpenAdrResourceRow))).scalars().all()
        return {row.home_id: row for row in rows}

    async def add_resource(self, row: OpenAdrResourceRow) -> None:
        """Store a home registered as a resource."""
        async with self._sessions() as session:
            session.add(row)
            await session.commit()

    async def update_resource(self, home_id: str, **values: Any) -> None:
        """Change a registered home's row."""
        async with self._sessions() as session:
            await session.execute(
                update(OpenAdrResourceRow)
                .where(OpenAdrResourceRow.home_id == home_id)
                .values(**values)
            )
            await session.commit()
