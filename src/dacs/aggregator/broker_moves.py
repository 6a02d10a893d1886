"""Moving a home to another central broker (docs/protocol.md, broker move).

The order makes the move safe without a handshake:

1. the registry stores the new broker (it survives a restart);
2. from now on every message for the home goes out on the new broker;
3. the command in force (if any) is published retained on the new broker,
   so the home finds it there as it would after any reconnect; without one,
   whatever an earlier move left retained there is cleared;
4. the move goes out retained on the old broker's command topic: a home
   offline now hears it at its next connection to the old broker. Retained
   only on the old broker, and replaced by any later command, it cannot send
   the home back and forth.

Telemetry needs nothing special: the home keeps every message until a
receipt names it (docs/protocol.md 3.8), so what the old broker had not
passed on is sent again over the new one and the database drops duplicates.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
import logging
import secrets

from dacs.protocol import BrokerAddress, BrokerMove, Channel

from .control.fleet import Fleet
from .mqtt.brokers import BrokerLinks
from .registry.registry import Registry

_LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class MoveOutcome:
    """What a move did."""

    home_id: str
    left: str
    joined: str

    @property
    def moved(self) -> bool:
        """False when the home was on that broker already."""
        return self.left != self.joined


class BrokerMover:
    """Moves homes between brokers: registry, routing, retained messages."""

    def __init__(
        self,
        registry: Registry,
        links: BrokerLinks,
        fleet: Fleet,
        addresses: Mapping[str, BrokerAddress],
    ) -> None:
        """``addresses``: every broker as homes reach it, by id."""
        self._registry = registry
        self._links = links
        self._fleet = fleet
        self._addresses = dict(addresses)

    async def move(self, home_id: str, broker_id: str, *, now: datetime) -> MoveOutcome:
        """Move ``home_id`` to ``broker_id``; ValueError or NotFoundError when impossible.

        A PublishError (a broker not connected) leaves the move stored: the
        operator repeats it once the broker is back, which is harmless.
        """
        address = self._addresses.get(broker_id)
        if address is None or broker_id not in self._links.links:
            raise ValueError(
                f"unknown broker {broker_id!r}; known: {', '.join(self._addresses)}"
            )
        left = await self._registry.move_home(home_id, broker_id)
        self._links.assign(home_id, broker_id)
        outcome = MoveOutcome(home_id=home_id, left=left, joined=broker_id)
        if not outcome.moved:
            return outcome
        view = self._fleet.homes.get(home_id)
        command = view.command if view is not None else None
        if command is not None and command.expires_at > now:
            await self._links.publish(command, retain=True)
        else:
            await self._links.clear_retained(
                home_id, Channel.COMMAND, broker_id=broker_id
            )
        move = BrokerMove(
            home_id=home_id,
            move_id=f"mv-{secrets.token_hex(8)}",
            issued_at=now,
            broker=address,
        )
        if left in self._links.links:
            await self._links.links[left].publish(move, retain=True)
        else:
            _LOGGER.warning(
                "home %s was on broker %s, which is no longer configured: it "
                "cannot be told to move and must be enrolled again",
                home_id,
                left,
            )
        _LOGGER.info(
            "home %s told to move from broker %s to %s", home_id, left, broker_id
        )
        return outcome
