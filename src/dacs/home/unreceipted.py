"""Telemetry the aggregator has not yet receipted: kept, and sent again when overdue.

A broker's PUBACK is not delivery: a broker that restarts without its
persistence file, or before the aggregator has subscribed again, drops what
it acknowledged. So the home keeps each telemetry message until the
aggregator's receipt names it (``docs/protocol.md``, section 3.8) and sends
it again when no receipt came ``resend_after_s`` after its last send or
after the last reconnect, whichever is later: a resend right after a
reconnect would race the aggregator's own reconnect, which is how the
messages were lost in the first place.

The store is bounded. At most ``limit`` messages are kept (the oldest goes
first, counted in ``dropped``). Resends go in rounds of at most ``window``
messages, and a round follows only a receipt: nothing is resent before a
first receipt (an aggregator of protocol 1.0 costs the home a full store and
no traffic), and while receipts have stopped (the central broker or the
aggregator away, the home still connected to its own broker) one round is
spent, not one every ``resend_after_s`` into the bridge's queue. A day's
backlog after a long outage goes out at the pace the aggregator receipts it.
"""

from __future__ import annotations

from dataclasses import dataclass
import logging

from dacs.protocol import Receipt

_LOGGER = logging.getLogger(__name__)

# A day of telemetry at the default 10 s interval, about 5 MB.
DEFAULT_LIMIT = 8640
# Twice the 60 s within which an aggregator receipts (docs/protocol.md 3.8).
DEFAULT_RESEND_AFTER_S = 120.0
DEFAULT_WINDOW = 256


@dataclass
class _Kept:
    payload: bytes
    sent_at: float  # seconds, on the controller's clock
    resent: bool = False


class UnreceiptedTelemetry:
    """One boot's telemetry, by seq, from hand-over to the broker until receipted."""

    def __init__(
        self,
        boot_id: str,
        *,
        limit: int = DEFAULT_LIMIT,
        resend_after_s: float = DEFAULT_RESEND_AFTER_S,
        window: int = DEFAULT_WINDOW,
    ) -> None:
        """Keep up to ``limit`` messages of ``boot_id``."""
        if limit < 1 or window < 1 or resend_after_s <= 0:
            raise ValueError(
                "limit and window must be at least 1 and resend_after_s positive"
            )
        self.boot_id = boot_id
        self._limit = limit
        self._resend_after_s = resend_after_s
        self._window = window
        self._kept: dict[int, _Kept] = {}  # in seq order: seqs only grow
        self._connected_at = 0.0
        # A receipt came since the last round of resends (or there was none).
        self._receipted_since_round = False
        self.receipts_seen = False
        self.dropped = 0
        self.resent = 0

    @property
    def held(self) -> int:
        """Messages kept, waiting for their receipt."""
        return len(self._kept)

    def keep(self, seq: int, payload: bytes, now: float) -> None:
        """Keep a message the home is about to publish."""
        if len(self._kept) >= self._limit:
            oldest = next(iter(self._kept))
            del self._kept[oldest]
            if not self.dropped:
                _LOGGER.warning(
                    "%d telemetry messages without a receipt: dropping the oldest",
                    self._limit,
                )
            self.dropped += 1
        self._kept[seq] = _Kept(payload, now)

    def receipt(self, receipt: Receipt) -> int:
        """Forget what ``receipt`` names; returns how many messages that was."""
        if receipt.boot_id != self.boot_id:
            return 0  # another boot's: nothing of it is kept here
        self.receipts_seen = True
        self._receipted_since_round = True
        before = len(self._kept)
        for first, last in receipt.stored:
            if last - first < len(self._kept):
                for seq in range(first, last + 1):
                    self._kept.pop(seq, None)
            else:  # a wide range: walk what is kept instead
                for seq in [s for s in self._kept if first <= s <= last]:
                    del self._kept[seq]
        return before - len(self._kept)

    def reconnected(self, now: float) -> None:
        """The link is up again: overdue counts from now, not from the last send."""
        self._connected_at = now

    def due(self, now: float) -> list[bytes]:
        """The payloads to send again now, oldest first; each counts as sent now."""
        if not self._receipted_since_round:
            return []
        since = now - self._resend_after_s
        waiting = sum(
            1 for kept in self._kept.values() if kept.resent and kept.sent_at > since
        )
        budget = self._window - waiting
        if budget <= 0 or self._connected_at > since:
            return []
        payloads = []
        for kept in self._kept.values():
            if kept.sent_at <= since:
                kept.sent_at = now
                kept.resent = True
                payloads.append(kept.payload)
                if len(payloads) >= budget:
                    break
        if payloads:
            self._receipted_since_round = False
        self.resent += len(payloads)
        return payloads
