"""Command fan-out of the service: stored before published, batched, nothing lost."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
import contextlib
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiomqtt
import pytest
from sqlalchemy import event, select

from dacs.aggregator.clock import SystemClock
from dacs.aggregator.config import (
    AggregatorConfig,
    ControlConfig,
    DatabaseConfig,
    MqttConfig,
)
from dacs.aggregator.control.alerts import AlertKind
from dacs.aggregator.domain.envelope import CapacityEnvelope
from dacs.aggregator.mqtt.link import PUBLISH_WINDOW, PublishError
from dacs.aggregator.registry.provisioning import OpenBrokerProvisioner
from dacs.aggregator.service import AggregatorService
from dacs.aggregator.storage.tables import AlertRow, CommandRow
from dacs.protocol import (
    Ack,
    AckReason,
    AckResult,
    Cancel,
    Channel,
    Command,
    DeviceSummary,
    Message,
    Status,
    Telemetry,
    decode,
)
from dacs.testbed.servers import MosquittoBroker

POINT = "tr-1"
DEVICE = DeviceSummary(
    profile="test",
    manufacturer="test",
    model="test",
    nominal_power_w=3000.0,
    safety_floor_w=0.0,
    limit_step_w=100.0,
    supports_gas_only=True,
    native_watchdog=True,
)


def _service(tmp_path: Path, broker: MosquittoBroker) -> AggregatorService:
    return AggregatorService(
        AggregatorConfig(
            database=DatabaseConfig(url=f"sqlite:///{tmp_path / 'agg.db'}"),
            mqtt=MqttConfig(host="127.0.0.1", port=broker.port, client_id="agg"),
            control=ControlConfig(cycle_s=3600),  # cycles run by the tests only
        ),
        clock=SystemClock(),
        provisioner=OpenBrokerProvisioner(),
    )


@asynccontextmanager
async def _running(service: AggregatorService) -> AsyncIterator[AggregatorService]:
    await service.start()
    try:
        assert await service.link.wait_connected(10)
        yield service
    finally:
        await service.stop()


async def _enroll(service: AggregatorService, homes: int) -> list[str]:
    await service.registry.add_congestion_point(
        point_id=POINT, name="Street", rated_capacity_kw=100, grid_operator="DSO"
    )
    codes = await service.registry.create_codes(POINT, count=homes)
    home_ids = [(await service.registry.enroll(c.code)).home_id for c in codes]
    await service.reload()
    return home_ids


def _heard_from(service: AggregatorService, home_ids: list[str]) -> None:
    """Every home online and drawing 2 kW, as its status and telemetry would say."""
    now = service.clock.now()
    for home_id in home_ids:
        service.fleet.apply_status(
            Status(home_id=home_id, ts=now, online=True, device=DEVICE)
        )
        service.fleet.apply_telemetry(
            Telemetry(
                home_id=home_id,
                seq=1,
                boot_id="b",
                ts=now,
                electric_power_w=2000.0,
                indoor_temp_c=20.0,
                outdoor_temp_c=0.0,
            ),
            now,
        )


def _emergency(service: AggregatorService) -> None:
    service.put_in_force_unstored(
        POINT,
        CapacityEnvelope.emergency_stop(
            "stop", service.clock.now(), timedelta(hours=1)
        ),
    )


def _in_force(service: AggregatorService) -> dict[str, str]:
    return {
        h: v.command.command_id for h, v in service.fleet.homes.items() if v.command
    }


async def _retained(broker: MosquittoBroker, expected: int) -> dict[str, str]:
    """Home id -> command id retained on each home's command topic."""
    found: dict[str, str] = {}
    async with aiomqtt.Client("127.0.0.1", broker.port, identifier="homes") as homes:
        await homes.subscribe("dacs/v1/+/command", qos=1)
        # What arrived by the deadline: a missing home shows in the comparison.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(10):
                async for message in homes.messages:
                    command = decode(bytes(message.payload), channel=Channel.COMMAND)
                    assert isinstance(command, Command)
                    found[command.home_id] = command.command_id
                    if len(found) == expected:
                        break
    return found


async def _wait(condition: Callable[[], bool], within_s: float) -> None:
    async with asyncio.timeout(within_s):
        while not condition():  # noqa: ASYNC110 - polling live state
            await asyncio.sleep(0.05)


def _count_statements(service: AggregatorService, start: str) -> list[str]:
    seen: list[str] = []
    event.listen(
        service.engine.sync_engine,
        "before_cursor_execute",
        lambda *args: (
            seen.append(args[2]) if args[2].lstrip().upper().startswith(start) else None
        ),
    )
    return seen


@pytest.fixture
def persistent_broker() -> Any:
    broker = MosquittoBroker(persistence=True)
    broker.start()
    try:
        yield broker
    finally:
        broker.cleanup()


async def test_commands_are_stored_in_one_batch_before_they_are_published(
    tmp_path: Path, mosquitto: MosquittoBroker
) -> None:
    async with _running(_service(tmp_path, mosquitto)) as service:
        home_ids = await _enroll(service, 12)
        _heard_from(service, home_ids)
        _emergency(service)
        published: list[Message] = []
        unstored: list[str] = []
        publish = service.link.links["central"].publish

        async def checking(message: Message, *, retain: bool = False) -> None:
            async with service.sessions() as session:
                row = await session.get(CommandRow, getattr(message, "command_id", ""))
            if row is None or (isinstance(message, Cancel) and not row.cancelled_at):
                unstored.append(message.home_id)
            published.append(message)
            await publish(message, retain=retain)

        service.link.links["central"].publish = checking  # type: ignore[method-assign]  # a spy
        inserts = _count_statements(service, "INSERT INTO COMMANDS")
        (report,) = await service.cycle()
        assert report.commands == 12
        assert len(published) == 12
        assert len(inserts) == 1  # one statement for the whole cycle
        # Lifting the event releases homes: cancels are stored first too.
        cancels = _count_statements(service, "UPDATE COMMANDS SET CANCELLED_AT")
        assert await service.withdraw(POINT, "stop")
        (report,) = await service.cycle()
        assert report.cancels > 0
        assert len(cancels) == 1
        assert not unstored
        assert service.counters.commands_sent == 12
        assert service.counters.cancels_sent == report.cancels


async def test_acks_are_stored_off_the_message_loop(
    tmp_path: Path, mosquitto: MosquittoBroker
) -> None:
    service = _service(tmp_path, mosquitto)
    async with _running(service):
        home_ids = await _enroll(service, 5)
        _heard_from(service, home_ids)
        _emergency(service)
        await service.cycle()
        statements = _count_statements(service, "")
        for home_id, command_id in _in_force(service).items():
            await service.on_ack(
                Ack(
                    home_id=home_id,
                    command_id=command_id,
                    ts=service.clock.now(),
                    result=AckResult.ACCEPTED,
                    reason_code=AckReason.OK,
                )
            )
        assert not statements  # no database work while handling an ack
        assert service.acks.pending == 5
        assert all(
            v.command_result is AckResult.ACCEPTED for v in service.fleet.homes.values()
        )
    # stop() wrote the batch.
    assert service.counters.acks_written == 5
    reader = _service(tmp_path, mosquitto)
    async with reader.sessions() as session:
        results = (await session.execute(select(CommandRow.ack_result))).scalars()
        assert list(results) == ["accepted"] * 5
    await reader.engine.dispose()


async def test_broker_lost_mid_fan_out_every_command_arrives_after_reconnect(
    tmp_path: Path,
    persistent_broker: MosquittoBroker,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    broker = persistent_broker
    homes = 200
    calls = 0
    original = aiomqtt.Client.publish

    async def stopping_the_broker(self: aiomqtt.Client, *args: Any, **kw: Any) -> None:
        nonlocal calls
        calls += 1
        # Past the window (PUBLISH_WINDOW): some were confirmed by then.
        if calls == PUBLISH_WINDOW + 50:
            broker.stop()
        await original(self, *args, **kw)

    async with _running(_service(tmp_path, broker)) as service:
        home_ids = await _enroll(service, homes)
        _heard_from(service, home_ids)
        _emergency(service)
        monkeypatch.setattr(aiomqtt.Client, "publish", stopping_the_broker)
        (report,) = await service.cycle()
        monkeypatch.undo()
        assert report.commands == homes
        # Some were confirmed, the rest wait for the reconnect.
        assert 0 < service.counters.commands_unconfirmed < homes
        broker.start()
        await _wait(lambda: service.counters.commands_unconfirmed == 0, 30)
        assert service.counters.commands_redelivered > 0
        assert service.counters.commands_sent == homes  # none made up again
        expected = _in_force(service)
    assert len(expected) == homes
    assert await _retained(broker, homes) == expected


async def test_commands_stored_but_never_published_go_out_after_a_restart(
    tmp_path: Path, mosquitto: MosquittoBroker
) -> None:
    async with _running(_service(tmp_path, mosquitto)) as service:
        home_ids = await _enroll(service, 8)
        _heard_from(service, home_ids)
        _emergency(service)

        async def broker_gone(message: Message, *, retain: bool = False) -> None:
            raise PublishError("connection lost")

        # The aggregator stops between storing the commands and publishing.
        service.link.links["central"].publish = broker_gone  # type: ignore[method-assign]  # a fault
        await service.cycle()
        assert service.counters.commands_unconfirmed == 8
        stored = _in_force(service)
    revived = _service(tmp_path, mosquitto)
    async with _running(revived):
        assert _in_force(revived) == stored
        await _wait(
            lambda: (
                revived.counters.commands_unconfirmed == 0
                and revived.counters.commands_redelivered == 8
            ),
            15,
        )
        assert revived.counters.commands_sent == 0  # sent again, not made anew
    assert await _retained(mosquitto, 8) == stored


async def test_after_a_restart_only_each_homes_newest_command_counts(
    tmp_path: Path, mosquitto: MosquittoBroker
) -> None:
    service = _service(tmp_path, mosquitto)
    async with _running(service):
        replaced, cancelled = await _enroll(service, 2)
        now = service.clock.now()

        def row(home_id: str, command_id: str, minute: int, **answer: Any) -> Any:
            issued = now + timedelta(minutes=minute)
            return CommandRow(
                command_id=command_id,
                home_id=home_id,
                event_id=None,
                issued_at=issued,
                expires_at=issued + timedelta(hours=1),
                reason="congestion",
                envelope=[
                    {"start": issued.isoformat(), "duration_s": 3000, "max_power_w": 0}
                ],
                **answer,
            )

        async with service.sessions() as session:
            session.add_all(
                [
                    # Neither answered: only the newer one is sent again.
                    row(replaced, "c-old", 0),
                    row(replaced, "c-new", 1),
                    # Replaced, then the replacement was cancelled: released.
                    row(cancelled, "c-first", 0, acked_at=now, ack_result="accepted"),
                    row(cancelled, "c-second", 1, cancelled_at=now),
                ]
            )
            await session.commit()
    revived = _service(tmp_path, mosquitto)
    try:
        await revived.reload()
        assert _in_force(revived) == {replaced: "c-new"}
        assert [c.command_id for c in revived.outbox.waiting()] == ["c-new"]
    finally:
        await revived.engine.dispose()


async def test_a_failing_point_is_quarantined_and_control_goes_on_for_the_others(
    tmp_path: Path,
    mosquitto: MosquittoBroker,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with _running(_service(tmp_path, mosquitto)) as service:
        home_ids = await _enroll(service, 4)
        await service.registry.add_congestion_point(
            point_id="tr-broken",
            name="Broken",
            rated_capacity_kw=50,
            grid_operator="DSO",
        )
        await service.reload()
        _heard_from(service, home_ids)
        _emergency(service)

        def broken(*_args: object, **_kwargs: object) -> None:
            raise OverflowError("a state no cycle can handle")

        monkeypatch.setattr(service.controls["tr-broken"], "cycle", broken)
        for _ in range(3):
            reports = await service.cycle()
            assert [r.congestion_point_id for r in reports] == [POINT]
        assert reports[0].curtailed_homes == 4  # the healthy point's homes
        # Failed once, logged with its traceback once, then skipped.
        assert service.failed_cycles == {"tr-broken": 1}
        tracebacks = [
            r for r in caplog.records if r.exc_info and "tr-broken" in r.message
        ]
        assert len(tracebacks) == 1
        assert "OverflowError: a state no cycle can handle" in (
            service.quarantine.points["tr-broken"].reason
        )
        (alert,) = [a for a in service.alerts.in_force() if a.home_id is None]
        assert (alert.kind, alert.congestion_point_id) == (
            AlertKind.POINT_QUARANTINED,
            "tr-broken",
        )
        assert await _open_alerts(service) == [("point_quarantined", "tr-broken")]
        # An operator lifts it once the cause is gone: controlled again, alert cleared.
        monkeypatch.undo()
        assert service.quarantine.lift("tr-broken")
        reports = await service.cycle()
        assert {r.congestion_point_id for r in reports} == {POINT, "tr-broken"}
        assert await _open_alerts(service) == []
        # A registration fixed (its rating changed) lifts it too.
        monkeypatch.setattr(service.controls["tr-broken"], "cycle", broken)
        await service.cycle()
        assert service.quarantine.holds("tr-broken")
        monkeypatch.undo()
        service.controls["tr-broken"].rated_capacity_kw = 1.8e308  # as registered once
        await service.reload()  # the registry holds 50 kW now
        assert not service.quarantine.holds("tr-broken")
        assert (
            service.quarantine.quarantined_total,
            service.quarantine.lifted_total,
        ) == (
            2,
            2,
        )


async def _open_alerts(service: AggregatorService) -> list[tuple[str, str | None]]:
    async with service.sessions() as session:
        rows = await session.execute(
            select(AlertRow.kind, AlertRow.congestion_point_id).where(
                AlertRow.cleared_at.is_(None)
            )
        )
        return [tuple(row) for row in rows.all()]
