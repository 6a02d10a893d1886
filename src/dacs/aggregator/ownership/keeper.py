"""One instance's leases, renewed every control cycle, and whether it may command now.

The database says who owns a point; this instance also keeps its own
deadline per lease, from its monotonic clock: the lease's length counted
from the moment the renewal was *sent*, which is never later than the
database's expiry. It stops commanding a point ``margin_s`` before that
deadline, whether or not it can reach the database, so a cut-off instance
falls silent before another can take the point over.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection
from dataclasses import dataclass
import logging
import time

from dacs.aggregator.storage.leases import Fence, HeldLease, LeaseStore

from .share import fair_share, surplus

_LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class OwnedLease:
    """A lease held, with this instance's own deadline (monotonic seconds)."""

    epoch: int
    deadline: float


@dataclass(frozen=True, kw_only=True)
class OwnershipChange:
    """What one step changed: points taken (with their new epoch) and points gone."""

    gained: tuple[HeldLease, ...] = ()
    lost: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class OwnershipCounters:
    """Numbers for /metrics."""

    owned: int
    takeovers: int  # leases taken (free, expired or let go of by another)
    lost: int  # leases found taken over by another instance
    released: int  # leases let go of for rebalancing or at stop
    renewal_failures: int
    lease_age_s: float | None  # since the last successful renewal


class OwnershipKeeper:
    """Renews, takes over and lets go of leases; answers whether a point may be commanded."""

    def __init__(
        self,
        store: LeaseStore,
        *,
        lease_s: float,
        margin_s: float,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        """Hold leases of ``lease_s``; stop commanding ``margin_s`` before each ends."""
        if not 0 < margin_s < lease_s:
            raise ValueError(
                "the safety margin must be positive and shorter than the lease"
            )
        self.store = store
        self._lease_s = lease_s
        self._margin_s = margin_s
        self._monotonic = monotonic
        self._held: dict[str, OwnedLease] = {}
        self._known: set[str] = set()
        self._renewed_at: float | None = None
        self.database_reachable = False
        self._takeovers = 0
        self._lost = 0
        self._released = 0
        self._renewal_failures = 0

    @property
    def instance_id(self) -> str:
        """This instance's name in the lease table."""
        return self.store.instance_id

    @property
    def owned(self) -> set[str]:
        """The points this instance holds a lease on (it may be near its end)."""
        return set(self._held)

    def may_command(self, point_id: str) -> bool:
        """True while the point's lease is held and its deadline minus the margin not passed."""
        lease = self._held.get(point_id)
        return lease is not None and self._monotonic() < lease.deadline - self._margin_s

    def renewing(self) -> bool:
        """True while the last renewal is recent enough to command on (for /readyz)."""
        return (
            self._renewed_at is not None
            and self._monotonic() - self._renewed_at < self._lease_s - self._margin_s
        )

    def epoch(self, point_id: str) -> int | None:
        """The epoch this instance holds the point in (None: not held)."""
        lease = self._held.get(point_id)
        return None if lease is None else lease.epoch

    def fence(self, point_id: str) -> Fence | None:
        """What the database checks before storing the point's commands (None: not held)."""
        lease = self._held.get(point_id)
        if lease is None:
            return None
        return Fence(
            congestion_point_id=point_id, owner=self.instance_id, epoch=lease.epoch
        )

    @property
    def counters(self) -> OwnershipCounters:
        """Counters for monitoring."""
        return OwnershipCounters(
            owned=len(self._held),
            takeovers=self._takeovers,
            lost=self._lost,
            released=self._released,
            renewal_failures=self._renewal_failures,
            lease_age_s=None
            if self._renewed_at is None
            else self._monotonic() - self._renewed_at,
        )

    async def step(self, point_ids: Collection[str]) -> OwnershipChange:
        """Once per cycle: renew, then let go of a surplus or take up to the fair share."""
        sent = self._monotonic()
        try:
            async with asyncio.timeout(self._lease_s - self._margin_s):
                return await self._step(point_ids, sent)
        except Exception as err:  # noqa: BLE001 - any database failure means the same
            self.database_reachable = False
            self._renewal_failures += 1
            _LOGGER.warning(
                "leases not renewed (%s); commanding until the deadlines", err
            )
            return OwnershipChange(lost=self._expire())

    async def stop(self) -> None:
        """Let go of every lease and leave, so the others take over at once (best effort)."""
        points = list(self._held)
        self._held.clear()
        try:
            async with asyncio.timeout(self._lease_s - self._margin_s):
                await self.store.release(points)
                await self.store.leave()
        except Exception:
            _LOGGER.exception("leases not released at stop: they expire by themselves")
            return
        self._released += len(points)

    async def _step(self, point_ids: Collection[str], sent: float) -> OwnershipChange:
        if new := set(point_ids) - self._known:
            await self.store.ensure(new)
            self._known |= new
        instances = await self.store.beat()
        renewed = await self.store.renew()
        self.database_reachable = True
        self._renewed_at = sent
        deadline = sent + self._lease_s
        before = self._held
        self._held = {
            lease.congestion_point_id: OwnedLease(epoch=lease.epoch, deadline=deadline)
            for lease in renewed
        }
        lost = [point for point in before if point not in self._held]
        if lost:
            self._lost += len(lost)
            _LOGGER.warning(
                "leases taken over by another instance: %s", ", ".join(lost)
            )
        share = fair_share(len(self._known), instances)
        gained: list[HeldLease] = []
        if len(self._held) > share:
            # Let go at the cycle boundary; the homes keep their commands in
            # force and the next owner takes them from the database.
            letting_go = surplus(self._held, share)
            await self.store.release(letting_go)
            for point in letting_go:
                del self._held[point]
            self._released += len(letting_go)
            lost += letting_go
            _LOGGER.info("let go of %s for the fair share of %d", letting_go, share)
        elif len(self._held) < share:
            gained = await self.store.acquire(share - len(self._held))
            for lease in gained:
                self._held[lease.congestion_point_id] = OwnedLease(
                    epoch=lease.epoch, deadline=deadline
                )
            self._takeovers += len(gained)
            if gained:
                _LOGGER.info(
                    "took over %s",
                    ", ".join(
                        f"{g.congestion_point_id} (epoch {g.epoch})" for g in gained
                    ),
                )
        return OwnershipChange(gained=tuple(gained), lost=tuple(lost))

    def _expire(self) -> tuple[str, ...]:
        """Forget leases past their own deadline (the database may have given them away)."""
        now = self._monotonic()
        gone = tuple(p for p, lease in self._held.items() if now >= lease.deadline)
        for point in gone:
            del self._held[point]
        if gone:
            self._lost += len(gone)
        return gone
