"""Fencing at the home: a command or cancel from an older ownership epoch is refused."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from dacs.home import ResidentSettings
from dacs.home.command_book import CommandBook
from dacs.protocol import (
    AckReason,
    AckResult,
    Cancel,
    Command,
    CommandReason,
    PowerInterval,
    decode,
    encode,
)

T0 = datetime(2025, 2, 2, 17, 0, tzinfo=UTC)
SETTINGS = ResidentSettings()


def _command(command_id: str, *, epoch: int | None, issued_min: int = 0) -> Command:
    issued = T0 + timedelta(minutes=issued_min)
    return Command(
        home_id="h-001",
        command_id=command_id,
        issued_at=issued,
        expires_at=issued + timedelta(minutes=65),
        reason=CommandReason.CONGESTION,
        envelope=(PowerInterval(start=issued, duration_s=3600, max_power_w=1200),),
        epoch=epoch,
    )


def _receive(book: CommandBook, command: Command, minute: int = 0) -> AckReason:
    ack = book.receive(
        command,
        now=T0 + timedelta(minutes=minute),
        settings=SETTINGS,
        capabilities=None,
    )
    return ack.reason_code


def test_a_command_of_an_older_epoch_is_refused_and_counted() -> None:
    book = CommandBook("h-001")
    assert _receive(book, _command("c-new", epoch=5)) is AckReason.OK
    # The old owner, cut off, sends one more: later in time, older in epoch.
    stale = _command("c-old", epoch=4, issued_min=1)
    ack = book.receive(
        stale, now=T0 + timedelta(minutes=1), settings=SETTINGS, capabilities=None
    )
    assert (ack.result, ack.reason_code) == (AckResult.REJECTED, AckReason.STALE_EPOCH)
    assert "epoch 4" in ack.detail
    assert book.current is not None
    assert book.current.command_id == "c-new"
    assert book.stale_refused == 1
    assert book.newest_epoch == 5


def test_the_same_epoch_and_a_newer_one_are_accepted() -> None:
    book = CommandBook("h-001")
    assert _receive(book, _command("c-1", epoch=3)) is AckReason.OK
    assert _receive(book, _command("c-2", epoch=3, issued_min=1), 1) is AckReason.OK
    assert _receive(book, _command("c-3", epoch=4, issued_min=2), 2) is AckReason.OK
    assert book.newest_epoch == 4
    assert book.stale_refused == 0


def test_a_newer_epoch_wins_over_an_earlier_issue_time() -> None:
    """The new owner's clock may lag the old owner's by a little."""
    book = CommandBook("h-001")
    assert _receive(book, _command("c-a", epoch=1, issued_min=2), 2) is AckReason.OK
    lagging = _command("c-b", epoch=2, issued_min=1)
    assert _receive(book, lagging, 2) is AckReason.OK
    # Without a newer epoch the time still orders them.
    same_epoch_older = _command("c-c", epoch=2, issued_min=0)
    assert _receive(book, same_epoch_older, 2) is AckReason.REPLAYED


def test_a_cancel_of_an_older_epoch_does_not_release_the_home() -> None:
    book = CommandBook("h-001")
    _receive(book, _command("c-1", epoch=7))
    stale = Cancel(home_id="h-001", command_id="c-1", issued_at=T0, epoch=6)
    assert book.cancel(stale, now=T0).reason_code is AckReason.STALE_EPOCH
    assert book.current is not None
    fresh = Cancel(home_id="h-001", command_id="c-1", issued_at=T0, epoch=7)
    assert book.cancel(fresh, now=T0).reason_code is AckReason.CANCELLED
    assert book.current is None


def test_messages_without_an_epoch_still_decode_and_are_accepted() -> None:
    """Older aggregators (and one running alone) send no epoch."""
    book = CommandBook("h-001")
    plain = _command("c-1", epoch=None)
    assert "epoch" not in plain.to_dict()
    assert decode(encode(plain)) == plain
    assert _receive(book, plain) is AckReason.OK
    assert book.newest_epoch is None
    with_epoch = replace(
        plain, command_id="c-2", issued_at=T0 + timedelta(minutes=1), epoch=9
    )
    assert decode(encode(with_epoch)) == with_epoch
    assert _receive(book, with_epoch, 1) is AckReason.OK
    assert book.newest_epoch == 9
