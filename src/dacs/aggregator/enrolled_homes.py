"""Homes enrolled through another instance of a cluster, into this instance's live view.

An enrollment reaches the live view of the instance that took it at once
(the registry's callback); the others learn of it here, once per cycle,
without waiting for a take-over. Every instance needs every home, not only
those of the points it owns: a shared subscription hands a home's telemetry
to any instance, and one that does not know the home drops it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
import logging

from .control.fleet import Fleet
from .registry.registry import Registry
from .restore import StateRestorer

_LOGGER = logging.getLogger(__name__)

# Where messages for a home go: (home id, broker id), BrokerLinks.assign.
type Route = Callable[[str, str], None]


class EnrolledHomes:
    """Compares the homes per point with the database; loads the points that differ."""

    def __init__(
        self,
        registry: Registry,
        fleet: Fleet,
        restorer: StateRestorer,
        route: Route = lambda _home_id, _broker_id: None,
    ) -> None:
        """Read ``registry`` into ``fleet``; stored status and preferences too.

        ``route`` learns each new home's central broker (several brokers).
        """
        self._registry = registry
        self._fleet = fleet
        self._restorer = restorer
        self._route = route

    async def follow(self) -> list[str]:
        """Add the homes enrolled elsewhere since the last call; return their ids."""
        # One count per point rather than every row: the rows are read only
        # for a point whose count changed.
        stored = await self._registry.home_counts()
        known = Counter(view.congestion_point_id for view in self._fleet.homes.values())
        added: list[str] = []
        for point_id, count in sorted(stored.items()):
            if count == known.get(point_id, 0):
                continue
            rows = [
                row
                for row in await self._registry.homes(point_id)
                if row.id not in self._fleet.homes
            ]
            for row in rows:
                self._fleet.add(row.id, row.congestion_point_id)
                self._route(row.id, self._registry.broker_of(row))
            self._restorer.apply_stored(rows)
            added += [row.id for row in rows]
        if added:
            _LOGGER.info("%d homes enrolled through another instance", len(added))
        return added
