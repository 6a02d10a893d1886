"""The home's store of telemetry without a receipt: kept, resent when overdue, bounded."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from dacs.home.unreceipted import UnreceiptedTelemetry
from dacs.protocol import Receipt, SeqRange

BOOT = "b1"


def _receipt(*stored: SeqRange, boot: str = BOOT) -> Receipt:
    return Receipt(
        home_id="h-0042", boot_id=boot, ts=datetime.now(UTC), stored=tuple(stored)
    )


def _store(count: int, **options: float) -> UnreceiptedTelemetry:
    store = UnreceiptedTelemetry(BOOT, resend_after_s=10, **options)  # type: ignore[arg-type]
    for seq in range(count):
        store.keep(seq, f"m{seq}".encode(), now=float(seq))
    return store


def test_a_receipt_forgets_what_it_names_and_only_for_its_boot() -> None:
    store = _store(10)
    assert store.receipt(_receipt((0, 3), boot="b0")) == 0
    assert not store.receipts_seen
    assert store.receipt(_receipt((0, 3), (5, 5))) == 5
    assert store.receipt(_receipt((0, 10**15))) == 5  # a wide range, walked cheaply
    assert store.held == 0
    assert store.receipts_seen


def test_nothing_is_resent_before_the_aggregator_has_shown_it_sends_receipts() -> None:
    """A 1.0 aggregator never receipts: the home must not resend its whole store."""
    store = _store(5)
    assert store.due(now=1000.0) == []
    store.receipt(_receipt((0, 0)))
    assert store.due(now=1000.0) == [b"m1", b"m2", b"m3", b"m4"]


def test_overdue_counts_from_the_last_send() -> None:
    store = _store(5)
    store.receipt(_receipt((0, 0)))
    assert store.due(now=12.5) == [b"m1", b"m2"]  # sent at 1 and 2, 10 s ago
    store.receipt(_receipt((0, 0)))  # a receipt that names neither
    assert store.due(now=12.5) == []
    assert store.due(now=22.5) == [b"m1", b"m2", b"m3", b"m4"]
    assert store.resent == 6


def test_while_receipts_have_stopped_one_round_is_resent_not_one_a_minute() -> None:
    """The central broker away: the home's own broker would queue every round."""
    store = _store(5)
    store.receipt(_receipt((0, 0)))
    assert len(store.due(now=100.0)) == 4
    assert [store.due(now=100.0 + 60 * n) for n in range(1, 60)] == [[]] * 59
    store.receipt(_receipt((1, 1)))  # the aggregator is back
    assert store.due(now=4000.0) == [b"m2", b"m3", b"m4"]


def test_after_a_reconnect_the_home_waits_before_it_resends() -> None:
    """Straight after a reconnect the aggregator may not have subscribed again."""
    store = _store(3)
    store.receipt(_receipt((0, 0)))
    store.reconnected(now=100.0)
    assert store.due(now=105.0) == []
    assert store.due(now=110.0) == [b"m1", b"m2"]


def test_at_most_a_window_of_resends_waits_for_its_receipt() -> None:
    store = _store(10, window=3)
    store.receipt(_receipt((0, 0)))
    assert store.due(now=100.0) == [b"m1", b"m2", b"m3"]
    assert store.due(now=101.0) == []  # three wait for their receipt
    store.receipt(_receipt((1, 2)))
    assert store.due(now=102.0) == [b"m4", b"m5"]
    store.receipt(_receipt((4, 4)))
    # m3's wait timed out; m5 still takes one of the three places.
    assert store.due(now=111.0) == [b"m3", b"m6"]


def test_the_store_is_bounded_and_drops_the_oldest() -> None:
    store = _store(10, limit=4)
    assert store.held == 4
    assert store.dropped == 6
    store.receipt(_receipt((9, 9)))
    assert store.due(now=100.0) == [b"m6", b"m7", b"m8"]


@pytest.mark.parametrize(
    "options", [{"limit": 0}, {"window": 0}, {"resend_after_s": 0}]
)
def test_impossible_settings_are_refused(options: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        UnreceiptedTelemetry(BOOT, **options)  # type: ignore[arg-type]
