"""Rendezvous hashing: a point's homes share a broker; a new broker moves few points."""

from __future__ import annotations

from collections import Counter

import pytest

from dacs.aggregator.domain.broker_assignment import broker_for_point

POINTS = [f"tr-{n:04d}" for n in range(2000)]


def test_the_choice_is_stable_and_independent_of_the_order() -> None:
    brokers = ["b1", "b2", "b3"]
    first = {p: broker_for_point(p, brokers) for p in POINTS}
    assert first == {p: broker_for_point(p, list(reversed(brokers))) for p in POINTS}


def test_points_spread_evenly() -> None:
    counts = Counter(broker_for_point(p, ["b1", "b2", "b3", "b4"]) for p in POINTS)
    assert set(counts) == {"b1", "b2", "b3", "b4"}
    assert max(counts.values()) < 1.2 * len(POINTS) / 4


def test_a_new_broker_takes_only_its_share() -> None:
    before = {p: broker_for_point(p, ["b1", "b2", "b3"]) for p in POINTS}
    after = {p: broker_for_point(p, ["b1", "b2", "b3", "b4"]) for p in POINTS}
    moved = [p for p in POINTS if before[p] != after[p]]
    # Only points that now go to the new broker moved, about a quarter.
    assert all(after[p] == "b4" for p in moved)
    assert 0.18 < len(moved) / len(POINTS) < 0.32


def test_no_broker_is_an_error() -> None:
    with pytest.raises(ValueError, match="no broker"):
        broker_for_point("tr-1", [])
