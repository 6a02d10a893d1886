"""The home controller against the simulator and a real Mosquitto."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from dacs.devices import HeatPump
from dacs.home import FLEX_EVENT_ENDED, FLEX_EVENT_STARTED, HomeController
from dacs.protocol import Cancel, LimitSource, Participation, Statement, encode
from dacs.testbed.servers import MosquittoBroker
from dacs.testbed.sim.hybrid import HybridHome
from dacs.testbed.sim.server import SimulatedHeatPumpServer

from .conftest import HOME, AggregatorProbe, make_command


async def _until(condition: Callable[[], bool], within_s: float = 5.0) -> None:
    """Poll a condition on real state (the simulator, the snapshot) until it holds."""
    async with asyncio.timeout(within_s):
        while not condition():  # noqa: ASYNC110 - polling state no event announces
            await asyncio.sleep(0.05)


async def test_announces_status_and_preferences(
    controller: HomeController, probe: AggregatorProbe
) -> None:
    status = await probe.wait_for("status", lambda m: m["state"] == "online")
    assert status["device"]["profile"] == "dacs"
    assert status["device"]["safety_floor_w"] > 0
    preferences = await probe.wait_for("preferences")
    assert preferences["participation"] == "on"


async def test_command_limits_the_heat_pump_and_is_reported(
    controller: HomeController,
    probe: AggregatorProbe,
    simulated: SimulatedHeatPumpServer[HybridHome],
) -> None:
    events: list[tuple[str, str]] = []
    controller.add_event_listener(
        lambda kind, event: events.append((kind, event.command_id))
    )
    await probe.send(make_command("c-1", 1000))
    ack = await probe.wait_for("ack", lambda m: m["command_id"] == "c-1")
    assert (ack["result"], ack["reason_code"]) == ("accepted", "ok")
    await _until(lambda: simulated.firmware.limit_w == 1000)
    telemetry = await probe.wait_for("telemetry", lambda m: m["limit_w"] == 1000)
    assert telemetry["limit_source"] == "aggregator"
    assert telemetry["command_id"] == "c-1"
    assert controller.snapshot.limit_source is LimitSource.AGGREGATOR
    assert events == [(FLEX_EVENT_STARTED, "c-1")]
    await probe.send(
        Cancel(home_id=HOME, command_id="c-1", issued_at=datetime.now(UTC))
    )
    cancelled = await probe.wait_for("ack", lambda m: m["reason_code"] == "cancelled")
    assert cancelled["result"] == "accepted"
    await _until(lambda: simulated.firmware.limit_w is None)
    assert events[-1] == (FLEX_EVENT_ENDED, "c-1")


async def test_below_floor_becomes_gas_only(
    controller: HomeController,
    probe: AggregatorProbe,
    simulated: SimulatedHeatPumpServer[HybridHome],
) -> None:
    await probe.send(make_command("c-low", 100))
    ack = await probe.wait_for("ack", lambda m: m["command_id"] == "c-low")
    assert (ack["result"], ack["reason_code"]) == ("accepted_floor_applied", "gas_only")
    await _until(lambda: simulated.firmware.mode.value == "gas_only")
    telemetry = await probe.wait_for(
        "telemetry", lambda m: m["limit_source"] == "gas_only"
    )
    assert telemetry["limit_w"] == 0


async def test_opt_out_releases_at_once_and_is_published(
    controller: HomeController,
    probe: AggregatorProbe,
    simulated: SimulatedHeatPumpServer[HybridHome],
) -> None:
    await probe.send(make_command("c-1", 1000))
    await _until(lambda: simulated.firmware.limit_w == 1000)
    await controller.set_participation(False)
    # Released before set_participation returned: no waiting for a loop.
    assert simulated.firmware.limit_w is None
    preferences = await probe.wait_for(
        "preferences", lambda m: m["participation"] == "off"
    )
    assert preferences["participation"] == "off"
    refused = make_command("c-2", 900)
    await probe.send(refused)
    ack = await probe.wait_for("ack", lambda m: m["command_id"] == "c-2")
    assert (ack["result"], ack["reason_code"]) == ("rejected", "opted_out")
    assert simulated.firmware.limit_w is None


async def test_pause_ends_by_itself(
    controller: HomeController, probe: AggregatorProbe
) -> None:
    await probe.wait_for("preferences")
    mark = probe.mark()
    await controller.pause_for(timedelta(seconds=1))
    paused = await probe.wait_for(
        "preferences", lambda m: m["participation"] == "paused", since=mark
    )
    assert paused["paused_until"] is not None
    await probe.wait_for(
        "preferences", lambda m: m["participation"] == "on", within_s=5, since=mark
    )
    assert controller.settings.participation is Participation.ON


@pytest.mark.parametrize(
    "guard",
    [
        # The house gets colder than the resident's comfort floor.
        lambda indoor: {"comfort_floor_c": min(25.0, indoor + 2)},
        # The resident allows no more curtailment than what already happened.
        lambda indoor: {"max_curtailment_minutes": 0},
    ],
    ids=["comfort_floor", "maximum_curtailment"],
)
async def test_a_resident_guard_releases_and_reports_the_override(
    controller: HomeController,
    probe: AggregatorProbe,
    simulated: SimulatedHeatPumpServer[HybridHome],
    guard: Callable[[float], dict[str, Any]],
) -> None:
    await probe.send(make_command("c-1", 1000))
    await _until(lambda: simulated.firmware.limit_w == 1000)
    await controller.update_settings(**guard(simulated.plant.indoor_temp_c))
    await _until(lambda: simulated.firmware.limit_w is None)
    # The telemetry must say so, or the aggregator sees a home drawing its
    # full power against a limit it acknowledged.
    telemetry = await probe.wait_for(
        "telemetry", lambda m: m["comfort_override"] is True
    )
    assert (telemetry["limit_w"], telemetry["limit_source"]) == (None, "none")
    assert controller.snapshot.comfort_override


async def test_manual_limit_and_the_lower_cap_binding(
    controller: HomeController,
    probe: AggregatorProbe,
    simulated: SimulatedHeatPumpServer[HybridHome],
) -> None:
    await controller.update_settings(manual_limit_w=1500)
    await _until(lambda: simulated.firmware.limit_w == 1500)
    assert controller.snapshot.limit_source is LimitSource.MANUAL
    await probe.send(make_command("c-1", 1000))
    await _until(lambda: simulated.firmware.limit_w == 1000)
    await probe.send(
        Cancel(home_id=HOME, command_id="c-1", issued_at=datetime.now(UTC))
    )
    await _until(lambda: simulated.firmware.limit_w == 1500)
    with pytest.raises(ValueError, match="unknown settings"):
        await controller.update_settings(colour="blue")


async def test_bad_commands_are_rejected_with_reasons(
    controller: HomeController,
    probe: AggregatorProbe,
    simulated: SimulatedHeatPumpServer[HybridHome],
) -> None:
    await probe.send_raw(b'{"v": 1, "type": "command", "command_id": "c-bad"}')
    malformed = await probe.wait_for("ack", lambda m: m["command_id"] == "c-bad")
    assert (malformed["result"], malformed["reason_code"]) == ("rejected", "malformed")
    await probe.send_raw(b"not json at all")
    await probe.wait_for("ack", lambda m: m["command_id"] == "unknown")
    expired = make_command(
        "c-old",
        900,
        start_in_s=-3600,
        minutes=30,
        issued_at=datetime.now(UTC) - timedelta(hours=2),
    )
    await probe.send(expired)
    ack = await probe.wait_for("ack", lambda m: m["command_id"] == "c-old")
    assert ack["reason_code"] == "expired"
    await probe.send(make_command("c-new", 1000))
    await probe.wait_for("ack", lambda m: m["command_id"] == "c-new")
    replay = make_command(
        "c-replay", 500, issued_at=datetime.now(UTC) - timedelta(minutes=10)
    )
    await probe.send(replay)
    ack = await probe.wait_for("ack", lambda m: m["command_id"] == "c-replay")
    assert ack["reason_code"] == "replayed"
    await _until(lambda: simulated.firmware.limit_w == 1000)


async def test_statement_reaches_the_snapshot(
    controller: HomeController, probe: AggregatorProbe
) -> None:
    statement = Statement(
        home_id=HOME,
        issued_at=datetime.now(UTC).replace(microsecond=0),
        period="2025-02",
        delivered_kwh=3.5,
        earnings_eur=0.88,
        events=2,
    )
    await probe.client.publish(
        f"dacs/v1/{HOME}/statement",
        encode(statement),
        qos=1,
        retain=True,
    )
    await _until(lambda: controller.snapshot.statement is not None)
    assert controller.snapshot.statement == statement


async def test_limit_ends_at_expiry_without_the_broker(
    controller: HomeController,
    probe: AggregatorProbe,
    mosquitto: MosquittoBroker,
    simulated: SimulatedHeatPumpServer[HybridHome],
) -> None:
    await probe.send(make_command("c-short", 1000, minutes=1, expires_in_s=2))
    await _until(lambda: simulated.firmware.limit_w == 1000)
    mosquitto.stop()
    await _until(lambda: controller.link is not None and not controller.link.connected)
    await _until(lambda: simulated.firmware.limit_w is None, within_s=6)
    # The device's own validity timer may end it a moment before the home's tick.
    await _until(lambda: controller.snapshot.limit_source is LimitSource.NONE)


async def test_monitoring_without_an_aggregator(
    simulated: SimulatedHeatPumpServer[HybridHome],
) -> None:
    async with HeatPump("127.0.0.1", simulated.port) as heat_pump:
        home = HomeController(heat_pump, control_interval_s=0.1, poll_interval_s=0.2)
        await home.start()
        try:
            assert home.snapshot.measurements is not None
            assert not home.snapshot.aggregator_linked
            await home.update_settings(manual_limit_w=1200)
            assert simulated.firmware.limit_w == 1200
        finally:
            await home.stop()
        assert simulated.firmware.limit_w is None  # stopping releases


async def test_device_goes_away_and_comes_back(
    controller: HomeController, simulated: SimulatedHeatPumpServer[HybridHome]
) -> None:
    await simulated.stop()
    await _until(lambda: not controller.snapshot.device_available, within_s=8)
    assert controller.snapshot.device_error
    await simulated.start()
    await _until(lambda: controller.snapshot.device_available, within_s=10)


async def test_one_warning_per_outage(
    simulated: SimulatedHeatPumpServer[HybridHome], caplog: pytest.LogCaptureFixture
) -> None:
    async with HeatPump("127.0.0.1", simulated.port, timeout=1) as heat_pump:
        home = HomeController(heat_pump, control_interval_s=0.05, poll_interval_s=0.1)
        await home.start()
        try:
            await simulated.stop()
            await _until(lambda: not home.snapshot.device_available, within_s=8)
            with caplog.at_level("WARNING", logger="dacs.home.controller"):
                await home.update_settings(manual_limit_w=1200)
                await asyncio.sleep(0.6)  # a dozen control ticks with the device away
            warnings = [
                r
                for r in caplog.records
                if r.name == "dacs.home.controller" and r.levelname == "WARNING"
            ]
            assert len(warnings) <= 1
            await simulated.start()
            await _until(lambda: simulated.firmware.limit_w == 1200, within_s=10)
        finally:
            await home.stop()
