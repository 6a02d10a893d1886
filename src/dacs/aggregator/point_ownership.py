"""Which congestion points this instance controls: all when it runs alone, its leases in a cluster.

Each control cycle begins here (``refresh``): the leases are renewed, a
surplus let go of or the fair share taken, homes enrolled through another
instance are added (``enrolled_homes.py``), and a point taken over gets its
state back from the database before its first cycle. In a cluster the
envelopes in force of the owned points are read from the database every
cycle too, so an event put in force through another instance's API (or
withdrawn there) reaches the owner within one cycle.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
import logging
import os
import socket
import uuid

from sqlalchemy.ext.asyncio import AsyncEngine

from dacs.protocol import Cancel, Command

from .config import ClusterConfig
from .control.fleet import Fleet
from .control.loop import CongestionPointControl
from .enrolled_homes import EnrolledHomes, Route
from .fan_out import CommandFanOut
from .ownership.keeper import OwnershipChange, OwnershipKeeper
from .registry.registry import Registry
from .restore import StateRestorer
from .storage.leases import Fence, LeaseHolder, LeaseStore

_LOGGER = logging.getLogger(__name__)


def instance_name(configured: str) -> str:
    """The configured instance id, or one unique to this process (host, pid, random)."""
    if configured:
        return configured
    return f"{socket.gethostname()[:80]}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


class PointOwnership:
    """This instance's share of the congestion points, and their state at a take-over."""

    def __init__(
        self,
        keeper: OwnershipKeeper | None,
        *,
        restorer: StateRestorer,
        registry: Registry,
        fleet: Fleet,
        route: Route = lambda _home_id, _broker_id: None,
    ) -> None:
        """Alone when ``keeper`` is None: every point is this instance's.

        ``route`` learns the central broker of every home read here.
        """
        self.keeper = keeper
        self._restorer = restorer
        self._registry = registry
        self._fleet = fleet
        self._route = route
        self._enrolled = EnrolledHomes(registry, fleet, restorer, route)
        self.holders: dict[str, LeaseHolder] = {}

    @classmethod
    def from_config(
        cls,
        config: ClusterConfig,
        engine: AsyncEngine,
        *,
        restorer: StateRestorer,
        registry: Registry,
        fleet: Fleet,
        route: Route = lambda _home_id, _broker_id: None,
    ) -> PointOwnership:
        """Leases in PostgreSQL when the cluster is enabled, else alone."""
        keeper = None
        if config.enabled:
            keeper = OwnershipKeeper(
                LeaseStore(
                    engine,
                    instance_id=instance_name(config.instance_id),
                    lease_s=config.lease_s,
                ),
                lease_s=config.lease_s,
                margin_s=config.margin_s,
            )
        return cls(
            keeper, restorer=restorer, registry=registry, fleet=fleet, route=route
        )

    def controls(self, point_id: str) -> bool:
        """True while this instance may command the point's homes."""
        return self.keeper is None or self.keeper.may_command(point_id)

    def epoch(self, point_id: str) -> int | None:
        """The epoch its commands carry (None when alone)."""
        return None if self.keeper is None else self.keeper.epoch(point_id)

    def fence(self, point_id: str) -> Fence | None:
        """What the database checks before storing the point's commands (None when alone)."""
        return None if self.keeper is None else self.keeper.fence(point_id)

    def may_send(self, message: Command | Cancel) -> bool:
        """True for a message to a home of a point this instance may command now."""
        if self.keeper is None:
            return True
        view = self._fleet.homes.get(message.home_id)
        return view is not None and self.keeper.may_command(view.congestion_point_id)

    def brokers_needed(self, broker_of: Callable[[str], str]) -> set[str] | None:
        """The brokers of the homes behind the points this instance owns (None: alone, every broker)."""
        if self.keeper is None:
            return None
        owned = self.keeper.owned
        return {
            broker_of(home_id)
            for home_id, view in self._fleet.homes.items()
            if view.congestion_point_id in owned
        }

    @property
    def instance_id(self) -> str | None:
        """This instance's name in the lease table (None when alone)."""
        return None if self.keeper is None else self.keeper.instance_id

    def ready(self) -> bool:
        """Alone; or the leases were renewed recently enough to command on."""
        return self.keeper is None or self.keeper.renewing()

    async def refresh(
        self,
        controls: Mapping[str, CongestionPointControl],
        fan_out: CommandFanOut,
        now: datetime,
    ) -> OwnershipChange:
        """Renew, let go of a surplus or take the fair share; restore what was taken over."""
        if self.keeper is None:
            return OwnershipChange()
        change = await self.keeper.step(controls)
        for point_id in change.lost:
            if (control := controls.get(point_id)) is not None:
                control.epoch = None
        if not self.keeper.database_reachable:
            # Cut off: what follows reads the database too, and would hold
            # the cycle up to a connection timeout for nothing.
            return change
        try:
            await self._enrolled.follow()
        except Exception:
            # Known next cycle; their telemetry is resent until receipted.
            _LOGGER.exception("homes enrolled through other instances not read")
        try:
            await self._follow(self.keeper, controls, fan_out, change, now)
        except Exception:
            # Without its state a taken-over point must not be controlled:
            # let go of it; another instance (or this one) tries again.
            _LOGGER.exception("state of the points taken over not restored")
            points = [g.congestion_point_id for g in change.gained]
            await self.keeper.store.release(points)
            return OwnershipChange(lost=change.lost)
        return change

    async def _follow(
        self,
        keeper: OwnershipKeeper,
        controls: Mapping[str, CongestionPointControl],
        fan_out: CommandFanOut,
        change: OwnershipChange,
        now: datetime,
    ) -> None:
        gained = {g.congestion_point_id: g.epoch for g in change.gained}
        if gained:
            rows = await self._registry.homes()
            for row in rows:
                self._fleet.add(row.id, row.congestion_point_id)
                self._route(row.id, self._registry.broker_of(row))
            self._restorer.apply_stored(rows)
            unanswered = await self._restorer.restore(controls, now, points=gained)
            # Stored by the old owner, perhaps never published: the same
            # command again (same id and epoch), which a home that has it
            # answers with the same ack.
            fan_out.resume(unanswered)
        for point_id, epoch in gained.items():
            if (control := controls.get(point_id)) is not None:
                control.epoch = epoch
        owned = keeper.owned - set(gained)
        if owned:
            await self._restorer.refresh_envelopes(controls, now, points=owned)
        self.holders = {h.congestion_point_id: h for h in await keeper.store.holders()}

    async def stop(self) -> None:
        """Let go of the leases so that the others take over at once."""
        if self.keeper is not None:
            await self.keeper.stop()
