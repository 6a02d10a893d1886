"""Receipts: committed telemetry per home and boot, at most one receipt per interval."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import pytest

from dacs.aggregator.ingest.receipts import (
    MAX_RANGES,
    ReceiptBook,
    ReceiptSender,
    seq_ranges,
)
from dacs.protocol import Receipt, decode, encode

NOW = datetime(2025, 2, 2, 17, 0, tzinfo=UTC)


class _Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def _rows(home: str, boot: str, seqs: Sequence[int]) -> list[tuple[str, str, int]]:
    return [(home, boot, seq) for seq in seqs]


def test_seq_ranges() -> None:
    assert seq_ranges([]) == []
    assert seq_ranges([5, 3, 4, 4, 9, 0]) == [(0, 0), (3, 5), (9, 9)]


def test_a_receipt_per_home_and_boot_with_what_was_committed() -> None:
    book = ReceiptBook(interval_s=10, monotonic=_Clock())
    book.record(_rows("h-0001", "b1", [0, 1, 2, 4]))
    book.record(_rows("h-0001", "b0", [7]))  # the home's previous boot
    book.record(_rows("h-0002", "", [0]))
    assert book.pending == 6
    receipts = {(r.home_id, r.boot_id): r.stored for r in book.due(NOW)}
    assert receipts == {
        ("h-0001", "b1"): ((0, 2), (4, 4)),
        ("h-0001", "b0"): ((7, 7),),
        ("h-0002", ""): ((0, 0),),
    }
    assert book.pending == 0
    assert book.due(NOW) == []


def test_one_receipt_per_interval_gathers_what_came_meanwhile() -> None:
    clock = _Clock()
    book = ReceiptBook(interval_s=10, monotonic=clock)
    book.record(_rows("h-0001", "b1", [0]))
    assert [r.stored for r in book.due(NOW)] == [((0, 0),)]
    for seq in (1, 2, 3):
        clock.t += 3
        book.record(_rows("h-0001", "b1", [seq]))
        book.record(_rows("h-0002", "b1", [seq]))
        due = book.due(NOW)
        # Another home is not held back by this one's interval.
        assert [r.home_id for r in due] == (["h-0002"] if seq == 1 else [])
    clock.t += 1.5  # 10.5 s after the first receipt to h-0001
    assert [(r.home_id, r.stored) for r in book.due(NOW)] == [("h-0001", ((1, 3),))]
    clock.t += 3  # and 10.5 s after the first to h-0002
    assert [(r.home_id, r.stored) for r in book.due(NOW)] == [("h-0002", ((2, 3),))]


def test_many_ranges_go_in_several_receipts_that_the_protocol_accepts() -> None:
    book = ReceiptBook(interval_s=0, monotonic=_Clock())
    book.record(_rows("h-0001", "b1", range(0, 2 * (MAX_RANGES + 10), 2)))
    receipts = book.due(NOW)
    assert [len(r.stored) for r in receipts] == [MAX_RANGES, 10]
    for receipt in receipts:
        assert decode(encode(receipt)) == receipt


def test_a_negative_interval_is_refused() -> None:
    with pytest.raises(ValueError, match="interval_s"):
        ReceiptBook(interval_s=-1)


async def test_the_sender_counts_what_the_broker_did_not_take() -> None:
    published: list[Receipt] = []

    async def publish(receipts: Sequence[Receipt]) -> int:
        published.extend(receipts)
        return len(receipts) - 1  # one lost

    sender = ReceiptSender(0, lambda: NOW, monotonic=_Clock())
    await sender.send_due(publish)  # nothing due: nothing published
    assert published == []
    sender.record(_rows("h-0001", "b1", [0]) + _rows("h-0002", "b1", [0]))
    await sender.send_due(publish)
    assert len(published) == 2
    assert (sender.sent, sender.unsent) == (1, 1)
