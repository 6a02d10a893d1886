"""Telemetry sequence numbers: drop duplicates, count gaps, notice restarts."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

# How far back a late (out-of-order) message is still recognised as a fill-in.
_WINDOW = 4096


class Arrival(StrEnum):
    """What one telemetry message is, given what came before."""

    NEW = "new"
    DUPLICATE = "duplicate"
    LATE = "late"  # fills a gap counted earlier
    RESTART = "restart"  # a new boot of the home controller


@dataclass
class _HomeSequence:
    boot_id: str
    highest: int
    missing: set[int]


class SequenceTracker:
    """Per home: the highest seq seen per boot and the seqs still missing.

    It counts; it does not decide what is stored. Storage relies on the
    database's unique (home, boot, seq) key, so a message older than the first
    one this process saw (after an aggregator restart) is still stored even
    though it is counted as a duplicate here.
    """

    def __init__(self) -> None:
        """Start knowing nothing."""
        self._homes: dict[str, _HomeSequence] = {}
        self.duplicates = 0
        self.gaps = 0

    def arrive(self, home_id: str, boot_id: str, seq: int) -> Arrival:
        """Classify a message and update the counters."""
        known = self._homes.get(home_id)
        if known is None or known.boot_id != boot_id:
            self._homes[home_id] = _HomeSequence(
                boot_id=boot_id, highest=seq, missing=set()
            )
            return Arrival.NEW if known is None else Arrival.RESTART
        if seq > known.highest:
            skipped = range(max(known.highest + 1, seq - _WINDOW), seq)
            known.missing.update(skipped)
            self.gaps += seq - known.highest - 1
            known.highest = seq
            self._trim(known)
            return Arrival.NEW
        if seq in known.missing:
            known.missing.discard(seq)
            self.gaps -= 1
            return Arrival.LATE
        self.duplicates += 1
        return Arrival.DUPLICATE

    def missing(self, home_id: str) -> int:
        """How many seqs of the home's current boot never arrived (so far)."""
        known = self._homes.get(home_id)
        return len(known.missing) if known else 0

    @staticmethod
    def _trim(known: _HomeSequence) -> None:
        oldest = known.highest - _WINDOW
        if known.missing and min(known.missing) < oldest:
            known.missing = {s for s in known.missing if s >= oldest}
