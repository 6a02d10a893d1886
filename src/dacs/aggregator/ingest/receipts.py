"""Receipts: tell each home which of its telemetry is committed, so it can forget it.

A broker's PUBACK only says the broker has a message; a broker that restarts
without its persistence file, or a shared subscription it does not restore,
loses what it acknowledged. The home therefore keeps every telemetry message
until a receipt names it (``docs/protocol.md``, section 3.8). Receipts name
seqs, not a high-water mark: behind a shared subscription each aggregator
instance stores only its share of a home's sequence, and each receipts its
own share.

The book hears of rows only after their transaction committed, and gathers
them per home and boot. A home gets at most one receipt (per boot) every
``interval_s`` (30 s by default): a QoS 0 publish costs the aggregator about
0.1 ms of CPU (``benchmarks/bench_receipts.py``), so 10,000 homes cost it 3 %
of a core, where one receipt per telemetry message every 10 s would cost 10 %.
Lost receipts cost only a resend, which the database's unique (home, boot,
seq) key turns into nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import datetime
import logging
import time
from typing import Any

from dacs.protocol import Receipt, SeqRange

_LOGGER = logging.getLogger(__name__)
# The protocol's limit on ranges in one receipt (schemas/receipt.json).
MAX_RANGES = 256

type ReceiptPublisher = Callable[[Sequence[Receipt]], Awaitable[int]]


def seq_ranges(seqs: Iterable[int]) -> list[SeqRange]:
    """Inclusive (first, last) ranges covering ``seqs``, ascending and apart."""
    ranges: list[SeqRange] = []
    for seq in sorted(set(seqs)):
        if ranges and ranges[-1][1] == seq - 1:
            ranges[-1] = (ranges[-1][0], seq)
        else:
            ranges.append((seq, seq))
    return ranges


class ReceiptBook:
    """Committed telemetry per home and boot, not yet named in a receipt."""

    def __init__(
        self,
        *,
        interval_s: float,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        """At most one receipt per home and boot every ``interval_s``."""
        if interval_s < 0:
            raise ValueError(f"interval_s must not be negative, not {interval_s}")
        self.interval_s = interval_s
        self._monotonic = monotonic
        self._pending: dict[tuple[str, str], set[int]] = {}
        # When each home last got a receipt, while that still holds one back.
        self._last_sent: dict[str, float] = {}

    @property
    def pending(self) -> int:
        """Committed seqs not yet named in a receipt."""
        return sum(len(seqs) for seqs in self._pending.values())

    def record(self, rows: Iterable[Sequence[Any]]) -> None:
        """Note committed rows; each starts (home_id, boot_id, seq, ...)."""
        pending = self._pending
        for row in rows:
            key = (row[0], row[1])
            seqs = pending.get(key)
            if seqs is None:
                pending[key] = {row[2]}
            else:
                seqs.add(row[2])

    def due(self, now: datetime) -> list[Receipt]:
        """The receipts to send now, dated ``now``; what they name is forgotten."""
        clock = self._monotonic()
        held_back = clock - self.interval_s
        self._last_sent = {
            home: at for home, at in self._last_sent.items() if at > held_back
        }
        receipts: list[Receipt] = []
        sent_to: set[str] = set()
        for key in list(self._pending):
            home_id, boot_id = key
            if home_id in self._last_sent:
                continue
            ranges = seq_ranges(self._pending.pop(key))
            receipts.extend(
                Receipt(
                    home_id=home_id,
                    boot_id=boot_id,
                    ts=now,
                    stored=tuple(ranges[first : first + MAX_RANGES]),
                )
                for first in range(0, len(ranges), MAX_RANGES)
            )
            sent_to.add(home_id)
        for home_id in sent_to:
            self._last_sent[home_id] = clock
        return receipts


class ReceiptSender:
    """A receipt book, and the loop that sends what it has due on a short tick."""

    def __init__(
        self,
        interval_s: float,
        now: Callable[[], datetime],
        *,
        tick_s: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        """At most one receipt per home every ``interval_s``, dated by ``now``."""
        self.book = ReceiptBook(interval_s=interval_s, monotonic=monotonic)
        self._now = now
        self._tick_s = tick_s
        self.sent = 0
        self.unsent = 0

    def record(self, rows: Iterable[Sequence[Any]]) -> None:
        """Note committed rows (the telemetry writer's ``on_stored``)."""
        self.book.record(rows)

    async def send_due(self, publish: ReceiptPublisher) -> None:
        """Send every receipt due now; those the broker did not take are counted."""
        receipts = self.book.due(self._now())
        if not receipts:
            return
        taken = await publish(receipts)
        self.sent += taken
        # The home sends those again later; the database drops the copies.
        self.unsent += len(receipts) - taken

    async def run(self, publish: ReceiptPublisher) -> None:
        """Send due receipts through ``publish`` every tick until cancelled.

        ``publish`` returns how many receipts the broker took.
        """
        while True:
            await asyncio.sleep(self._tick_s)
            try:
                await self.send_due(publish)
            except Exception:
                _LOGGER.exception("sending telemetry receipts failed; trying again")
