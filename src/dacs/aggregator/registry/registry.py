"""Congestion points, homes and enrollment codes in the database."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
import logging
from typing import Protocol

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from dacs.aggregator.broker_endpoints import SINGLE_BROKER_ID
from dacs.aggregator.domain.broker_assignment import broker_for_point
from dacs.aggregator.storage.tables import (
    CongestionPointRow,
    EnrollmentCodeRow,
    HomeRow,
)
from dacs.protocol import Preferences, Status

from .codes import new_code, new_home_id, normalise_code
from .errors import (
    CodeExpiredError,
    CodeUsedError,
    ConflictError,
    NotFoundError,
    ProvisioningError,
    UnknownCodeError,
)

_LOGGER = logging.getLogger(__name__)


class CredentialProvisioner(Protocol):
    """Creates and removes homes' accounts on the central broker."""

    def add_home(self, home_id: str) -> str:
        """Create the account and return its password."""

    def remove_home(self, home_id: str) -> None:
        """Remove the account (undo of add_home)."""


@dataclass(frozen=True, kw_only=True)
class Enrollment:
    """A newly enrolled home and the password of its broker account."""

    home_id: str
    congestion_point_id: str
    password: str = field(repr=False)
    broker_id: str = SINGLE_BROKER_ID


class Registry:
    """All registry operations; each runs in its own transaction."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        provisioner: CredentialProvisioner,
        now: Callable[[], datetime],
        on_enrolled: Callable[[Enrollment], None] | None = None,
        broker_ids: Sequence[str] = (SINGLE_BROKER_ID,),
    ) -> None:
        """Use ``sessions`` for storage and ``provisioner`` for broker accounts.

        ``on_enrolled`` learns of every new home (the live view adds it);
        new homes go to one of ``broker_ids`` (domain/broker_assignment.py).
        """
        if not broker_ids:
            raise ValueError("a registry needs at least one broker")
        self.broker_ids = tuple(broker_ids)
        self._sessions = sessions
        self._provisioner = provisioner
        self._now = now
        self._on_enrolled = on_enrolled

    # -- congestion points ---------------------------------------------------

    async def add_congestion_point(
        self,
        *,
        point_id: str,
        name: str,
        rated_capacity_kw: float,
        grid_operator: str,
        ean: str | None = None,
    ) -> CongestionPointRow:
        """Register a transformer; ConflictError when the id exists."""
        if rated_capacity_kw <= 0:
            raise ValueError("rated capacity must be positive")
        row = CongestionPointRow(
            id=point_id,
            name=name,
            rated_capacity_kw=rated_capacity_kw,
            grid_operator=grid_operator,
            ean=ean,
            created_at=self._now(),
        )
        async with self._sessions() as session:
            session.add(row)
            try:
                await session.commit()
            except IntegrityError as err:
                raise ConflictError(
                    f"congestion point {point_id!r} exists already"
                ) from err
        return row

    async def congestion_points(self) -> Sequence[CongestionPointRow]:
        """Every congestion point."""
        async with self._sessions() as session:
            return (
                (
                    await session.execute(
                        select(CongestionPointRow).order_by(CongestionPointRow.id)
                    )
                )
                .scalars()
                .all()
            )

    async def congestion_point(self, point_id: str) -> CongestionPointRow:
        """One congestion point; NotFoundError for unknown ids."""
        async with self._sessions() as session:
            row = await session.get(CongestionPointRow, point_id)
        if row is None:
            raise NotFoundError(f"unknown congestion point {point_id!r}")
        return row

    # -- enrollment codes ----------------------------------------------------

    async def create_codes(
        self,
        congestion_point_id: str,
        *,
        count: int = 1,
        valid_for: timedelta = timedelta(days=14),
        ean: str | None = None,
        note: str = "",
    ) -> list[EnrollmentCodeRow]:
        """Create single-use codes for homes behind a congestion point."""
        if not 1 <= count <= 1000:
            raise ValueError("create between 1 and 1000 codes at a time")
        if valid_for <= timedelta(0):
            raise ValueError("a code must be valid for some time")
        await self.congestion_point(congestion_point_id)
        now = self._now()
        rows = [
            EnrollmentCodeRow(
                code=new_code(),
                congestion_point_id=congestion_point_id,
                ean=ean,
                note=note[:200],
                created_at=now,
                expires_at=now + valid_for,
            )
            for _ in range(count)
        ]
        async with self._sessions() as session:
            session.add_all(rows)
            await session.commit()
        return rows

    async def codes(
        self, congestion_point_id: str | None = None
    ) -> Sequence[EnrollmentCodeRow]:
        """Codes, newest first."""
        query = select(EnrollmentCodeRow).order_by(EnrollmentCodeRow.created_at.desc())
        if congestion_point_id is not None:
            query = query.where(
                EnrollmentCodeRow.congestion_point_id == congestion_point_id
            )
        async with self._sessions() as session:
            return (await session.execute(query)).scalars().all()

    async def revoke_code(self, code: str) -> None:
        """Make an unused code unusable."""
        code = normalise_code(code)
        async with self._sessions() as session:
            row = await session.get(EnrollmentCodeRow, code)
            if row is None or row.revoked_at is not None:
                raise UnknownCodeError(f"unknown enrollment code {code}")
            if row.used_at is not None:
                raise CodeUsedError(
                    f"code {code} was used already and cannot be revoked"
                )
            row.revoked_at = self._now()
            await session.commit()

    async def enroll(self, code: str, *, ean: str | None = None) -> Enrollment:
        """Use a code: create the home and its broker account.

        The code is claimed with a conditional update, so two simultaneous
        attempts with one code cannot both succeed. The broker account is
        created before the home is committed and removed again if the commit
        fails: no half-enrolled home remains.
        """
        code = normalise_code(code)
        now = self._now()
        home_id = new_home_id()
        broker_id: str
        async with self._sessions() as session:
            row = await session.get(EnrollmentCodeRow, code)
            if row is None or row.revoked_at is not None:
                raise UnknownCodeError("unknown enrollment code")
            if row.used_at is not None:
                raise CodeUsedError("this enrollment code was used already")
            if row.expires_at <= now:
                raise CodeExpiredError("this enrollment code has expired")
            claimed = await session.execute(
                update(EnrollmentCodeRow)
                .where(
                    EnrollmentCodeRow.code == code, EnrollmentCodeRow.used_at.is_(None)
                )
                .values(used_at=now, home_id=home_id)
            )
            if claimed.rowcount != 1:  # type: ignore[attr-defined]  # CursorResult at runtime
                raise CodeUsedError("this enrollment code was used already")
            broker_id = broker_for_point(row.congestion_point_id, self.broker_ids)
            session.add(
                HomeRow(
                    id=home_id,
                    congestion_point_id=row.congestion_point_id,
                    ean=ean or row.ean,
                    enrolled_at=now,
                    online=False,
                    telemetry_gaps=0,
                    telemetry_duplicates=0,
                    broker_id=broker_id,
                )
            )
            try:
                password = self._provisioner.add_home(home_id)
            except Exception as err:
                await session.rollback()
                raise ProvisioningError(
                    f"could not create the broker account: {err}"
                ) from err
            try:
                await session.commit()
            except Exception:
                self._provisioner.remove_home(home_id)
                raise
        _LOGGER.info(
            "enrolled home %s behind %s on broker %s",
            home_id,
            row.congestion_point_id,
            broker_id,
        )
        enrollment = Enrollment(
            home_id=home_id,
            congestion_point_id=row.congestion_point_id,
            password=password,
            broker_id=broker_id,
        )
        if self._on_enrolled is not None:
            self._on_enrolled(enrollment)
        return enrollment

    # -- homes ---------------------------------------------------------------

    async def homes(self, congestion_point_id: str | None = None) -> Sequence[HomeRow]:
        """Enrolled homes."""
        query = select(HomeRow).order_by(HomeRow.id)
        if congestion_point_id is not None:
            query = query.where(HomeRow.congestion_point_id == congestion_point_id)
        async with self._sessions() as session:
            return (await session.execute(query)).scalars().all()

    async def home_counts(self) -> dict[str, int]:
        """How many homes are enrolled behind each congestion point (an index-only count)."""
        query = select(HomeRow.congestion_point_id, func.count()).group_by(
            HomeRow.congestion_point_id
        )
        async with self._sessions() as session:
            rows = await session.execute(query)
            return {str(point): int(count) for point, count in rows.tuples()}

    async def home(self, home_id: str) -> HomeRow:
        """One home; NotFoundError for unknown ids."""
        async with self._sessions() as session:
            row = await session.get(HomeRow, home_id)
        if row is None:
            raise NotFoundError(f"unknown home {home_id!r}")
        return row

    def broker_of(self, home: HomeRow) -> str:
        """The broker a home uses: the one stored, else the single (first) broker.

        Homes enrolled before there were several brokers have none stored;
        they were all told the single broker, which stays the first one.
        """
        return home.broker_id or self.broker_ids[0]

    async def move_home(self, home_id: str, broker_id: str) -> str:
        """Store that ``home_id`` now uses ``broker_id``; return the broker it left.

        NotFoundError for an unknown home, ValueError for an unknown broker.
        """
        if broker_id not in self.broker_ids:
            raise ValueError(
                f"unknown broker {broker_id!r}; known: {', '.join(self.broker_ids)}"
            )
        async with self._sessions() as session:
            row = await session.get(HomeRow, home_id)
            if row is None:
                raise NotFoundError(f"unknown home {home_id!r}")
            left = self.broker_of(row)
            row.broker_id = broker_id
            await session.commit()
        _LOGGER.info("home %s moved from broker %s to %s", home_id, left, broker_id)
        return left

    async def record_status(self, status: Status) -> bool:
        """Store a home's status; False (and nothing stored) for unknown homes."""
        values: dict[str, object] = {"online": status.online, "status_at": status.ts}
        if status.device is not None:
            values["device"] = status.device.to_dict()
        return await self._update_home(status.home_id, values)

    async def record_preferences(self, preferences: Preferences) -> bool:
        """Store a home's preferences; False for unknown homes."""
        document = preferences.to_dict()
        kept = {
            k: document[k]
            for k in (
                "participation",
                "paused_until",
                "comfort_floor_c",
                "min_compensation_eur_per_kwh",
                "max_curtailment_minutes",
                "ts",
            )
        }
        return await self._update_home(preferences.home_id, {"preferences": kept})

    async def _update_home(self, home_id: str, values: dict[str, object]) -> bool:
        async with self._sessions() as session:
            result = await session.execute(
                update(HomeRow).where(HomeRow.id == home_id).values(**values)
            )
            await session.commit()
        updated: int = result.rowcount  # type: ignore[attr-defined]  # CursorResult at runtime
        return updated == 1
