"""The outbox keeps the newest unconfirmed message per home until the broker confirms it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from dacs.aggregator.mqtt.outbox import Outbox
from dacs.protocol import Cancel, Command, CommandReason, PowerInterval

NOW = datetime(2025, 2, 2, 17, 0, tzinfo=UTC)


def _command(home_id: str, command_id: str, minute: int) -> Command:
    issued = NOW + timedelta(minutes=minute)
    return Command(
        home_id=home_id,
        command_id=command_id,
        issued_at=issued,
        expires_at=issued + timedelta(hours=1),
        reason=CommandReason.CONGESTION,
        envelope=(PowerInterval(start=issued, duration_s=900, max_power_w=800),),
    )


def test_newest_message_per_home_waits_until_confirmed() -> None:
    outbox = Outbox()
    first, second = _command("h-1", "c-1", 0), _command("h-1", "c-2", 1)
    other = _command("h-2", "c-3", 0)
    outbox.put([first, other])
    outbox.put([second])
    outbox.put([first])  # late: never replaces the newer command
    assert outbox.waiting() == [other, second]
    assert outbox.waiting() == [other, second]  # looking does not take
    outbox.delivered([first])  # confirmed, but already replaced
    assert len(outbox) == 2
    outbox.delivered([second, other])
    assert not outbox
    assert outbox.waiting() == []


def test_a_cancel_replaces_the_command_it_ends() -> None:
    outbox = Outbox()
    command = _command("h-1", "c-1", 0)
    cancel = Cancel(
        home_id="h-1", command_id="c-1", issued_at=NOW + timedelta(minutes=5)
    )
    outbox.put([command, cancel])
    assert outbox.waiting() == [cancel]
