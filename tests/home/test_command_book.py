"""Every command gets the right answer: accepted, floor applied, or rejected with a reason."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from dacs.devices import Capabilities
from dacs.home import ResidentSettings
from dacs.home.command_book import CommandBook
from dacs.protocol import (
    AckReason,
    AckResult,
    Cancel,
    Command,
    CommandReason,
    Participation,
    PowerInterval,
    ProtocolError,
)

T0 = datetime(2025, 2, 2, 17, 0, tzinfo=UTC)
CAPS = Capabilities(
    nominal_electric_w=2000,
    safety_floor_w=800,
    limit_step_w=100,
    supports_power_limit=True,
    supports_gas_only=True,
    supports_sg_ready=False,
    supports_room_setpoint=False,
    boiler_present=True,
    native_watchdog=True,
    watchdog_s=60,
)


def _command(
    command_id: str,
    *,
    issued_min: int = 0,
    cap: float = 1200,
    home: str = "h-001",
    minutes: int = 60,
) -> Command:
    issued = T0 + timedelta(minutes=issued_min)
    return Command(
        home_id=home,
        command_id=command_id,
        issued_at=issued,
        expires_at=issued + timedelta(minutes=minutes + 5),
        reason=CommandReason.CONGESTION,
        envelope=(
            PowerInterval(start=issued, duration_s=minutes * 60, max_power_w=cap),
        ),
    )


def test_accept_replace_and_redeliver() -> None:
    book = CommandBook("h-001")
    settings = ResidentSettings()
    first = book.receive(_command("c-1"), now=T0, settings=settings, capabilities=CAPS)
    assert (first.result, first.reason_code) == (AckResult.ACCEPTED, AckReason.OK)
    # QoS 1 redelivery of the same command: the same answer, nothing changes.
    assert (
        book.receive(_command("c-1"), now=T0, settings=settings, capabilities=CAPS)
        == first
    )
    newer = book.receive(
        _command("c-2", issued_min=1), now=T0, settings=settings, capabilities=CAPS
    )
    assert newer.result is AckResult.ACCEPTED
    assert book.current is not None
    assert book.current.command_id == "c-2"


def test_replays_are_rejected() -> None:
    book = CommandBook("h-001")
    settings = ResidentSettings()
    book.receive(
        _command("c-1", issued_min=1), now=T0, settings=settings, capabilities=CAPS
    )
    book.receive(
        _command("c-2", issued_min=2), now=T0, settings=settings, capabilities=CAPS
    )
    for replay in (_command("c-1", issued_min=1), _command("c-0", issued_min=0)):
        ack = book.receive(replay, now=T0, settings=settings, capabilities=CAPS)
        assert (ack.result, ack.reason_code) == (AckResult.REJECTED, AckReason.REPLAYED)
    tampered = _command("c-2", issued_min=2, cap=100)
    assert (
        book.receive(tampered, now=T0, settings=settings, capabilities=CAPS).reason_code
        is AckReason.REPLAYED
    )
    assert book.current is not None
    assert book.current.envelope[0].max_power_w == 1200


def test_expired_wrong_home_and_opted_out() -> None:
    book = CommandBook("h-001")
    late = book.receive(
        _command("c-1"),
        now=T0 + timedelta(hours=3),
        settings=ResidentSettings(),
        capabilities=CAPS,
    )
    assert late.reason_code is AckReason.EXPIRED
    other = book.receive(
        _command("c-2", home="h-002", issued_min=1),
        now=T0,
        settings=ResidentSettings(),
        capabilities=CAPS,
    )
    assert other.reason_code is AckReason.WRONG_HOME
    off = ResidentSettings(participation=Participation.OFF)
    assert (
        book.receive(
            _command("c-3", issued_min=2), now=T0, settings=off, capabilities=CAPS
        ).reason_code
        is AckReason.OPTED_OUT
    )
    paused = ResidentSettings(
        participation=Participation.PAUSED, paused_until=T0 + timedelta(hours=1)
    )
    assert (
        book.receive(
            _command("c-4", issued_min=3), now=T0, settings=paused, capabilities=CAPS
        ).reason_code
        is AckReason.PAUSED
    )
    assert book.current is None


def test_floor_is_reported_in_the_ack() -> None:
    book = CommandBook("h-001")
    gas = book.receive(
        _command("c-1", cap=300), now=T0, settings=ResidentSettings(), capabilities=CAPS
    )
    assert (gas.result, gas.reason_code) == (
        AckResult.ACCEPTED_FLOOR_APPLIED,
        AckReason.GAS_ONLY,
    )
    no_gas = Capabilities(**{**CAPS.__dict__, "supports_gas_only": False})
    floor = book.receive(
        _command("c-2", cap=300, issued_min=1),
        now=T0,
        settings=ResidentSettings(),
        capabilities=no_gas,
    )
    assert floor.reason_code is AckReason.FLOOR_APPLIED
    assert "800 W" in floor.detail


def test_cancel() -> None:
    book = CommandBook("h-001")
    book.receive(
        _command("c-1"), now=T0, settings=ResidentSettings(), capabilities=CAPS
    )
    unknown = book.cancel(
        Cancel(home_id="h-001", command_id="c-9", issued_at=T0), now=T0
    )
    assert unknown.reason_code is AckReason.UNKNOWN_COMMAND
    done = book.cancel(Cancel(home_id="h-001", command_id="c-1", issued_at=T0), now=T0)
    assert (done.result, done.reason_code) == (AckResult.ACCEPTED, AckReason.CANCELLED)
    assert book.current is None


def test_refusal_keeps_the_command_id_when_it_can() -> None:
    book = CommandBook("h-001")
    ack = book.refusal(
        b'{"command_id": "c-7", "v": 2}', ProtocolError("unsupported_version", "v2"), T0
    )
    assert (ack.command_id, ack.reason_code) == ("c-7", AckReason.UNSUPPORTED_VERSION)
    garbage = book.refusal(b"\x00\x01", ProtocolError("malformed", "not JSON"), T0)
    assert (garbage.command_id, garbage.reason_code) == ("unknown", AckReason.MALFORMED)


def test_expire_returns_the_ended_command() -> None:
    book = CommandBook("h-001")
    book.receive(
        _command("c-1", minutes=10),
        now=T0,
        settings=ResidentSettings(),
        capabilities=CAPS,
    )
    assert book.expire(T0 + timedelta(minutes=5)) is None
    ended = book.expire(T0 + timedelta(minutes=11))
    assert ended is not None
    assert book.in_force(T0 + timedelta(minutes=11)) is None
