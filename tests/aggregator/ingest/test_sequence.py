"""Duplicates are dropped, gaps counted, late fill-ins and restarts recognised."""

from __future__ import annotations

from hypothesis import given, strategies as st

from dacs.aggregator.ingest.sequence import Arrival, SequenceTracker


def test_in_order_duplicates_gaps_and_restart() -> None:
    tracker = SequenceTracker()
    assert tracker.arrive("h-1", "b1", 0) is Arrival.NEW
    assert tracker.arrive("h-1", "b1", 1) is Arrival.NEW
    assert tracker.arrive("h-1", "b1", 1) is Arrival.DUPLICATE
    assert tracker.arrive("h-1", "b1", 4) is Arrival.NEW
    assert tracker.gaps == 2
    assert tracker.missing("h-1") == 2
    assert tracker.arrive("h-1", "b1", 3) is Arrival.LATE
    assert tracker.gaps == 1
    assert tracker.arrive("h-1", "b1", 3) is Arrival.DUPLICATE
    assert tracker.arrive("h-1", "b2", 0) is Arrival.RESTART
    assert tracker.missing("h-1") == 0
    assert tracker.duplicates == 2


@given(st.lists(st.integers(1, 200), max_size=400))
def test_every_seq_is_new_exactly_once(later: list[int]) -> None:
    """After the first message, whatever the order and repetition: each seq counts once."""
    tracker = SequenceTracker()
    arrivals = [0, *later]
    accepted = [
        s
        for s in arrivals
        if tracker.arrive("h", "b", s) in (Arrival.NEW, Arrival.LATE)
    ]
    assert sorted(accepted) == sorted(set(arrivals))
    assert tracker.duplicates == len(arrivals) - len(set(arrivals))
    assert (
        tracker.gaps == tracker.missing("h") == max(arrivals) + 1 - len(set(arrivals))
    )
