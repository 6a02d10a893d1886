"""Which central broker a congestion point's homes use: rendezvous hashing.

Every home behind one congestion point goes to the same broker, so the
instance that controls the point needs that one broker for all its homes,
and a broker outage touches whole points, never half of one. The broker is
the one with the highest hash of (broker, point): the choice needs no
state, is the same on every instance and after every restart, spreads
points evenly, and a broker added later takes over only about 1/n of the
points (the others keep theirs, so few homes have to move).
"""

from __future__ import annotations

from collections.abc import Sequence
import hashlib


def broker_for_point(congestion_point_id: str, broker_ids: Sequence[str]) -> str:
    """The broker whose hash with ``congestion_point_id`` is highest."""
    if not broker_ids:
        raise ValueError("no broker to assign homes to")
    return max(broker_ids, key=lambda broker: _weight(broker, congestion_point_id))


def _weight(broker_id: str, congestion_point_id: str) -> bytes:
    # A cryptographic hash only for its even spread; a separator keeps
    # ("ab", "c") and ("a", "bc") apart.
    return hashlib.blake2b(
        f"{broker_id}\x00{congestion_point_id}".encode(), digest_size=8
    ).digest()
