"""End to end inside Home Assistant: aggregator -> broker -> home -> heat pump, and back."""

from __future__ import annotations

from datetime import UTC, datetime

from homeassistant.const import STATE_OFF, STATE_ON, STATE_UNKNOWN
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_capture_events,
)

from custom_components.dacs_hw.const import (
    EVENT_FLEX_EVENT_ENDED,
    EVENT_FLEX_EVENT_STARTED,
)
from dacs.protocol import Cancel, format_time, parse_time
from tests.home.conftest import AggregatorProbe, make_command

from .conftest import HOME, SERIAL, Simulator, wait_for

LIMIT = "sensor.hybrid_heat_pump_power_limit_in_force"
SOURCE = "sensor.hybrid_heat_pump_power_limit_source"
CURTAILED = "binary_sensor.hybrid_heat_pump_curtailment_active"
REASON = "sensor.hybrid_heat_pump_flexibility_event"
ENDS = "sensor.hybrid_heat_pump_flexibility_event_ends"
NEXT = "sensor.hybrid_heat_pump_next_flexibility_event"
SWITCH = "switch.hybrid_heat_pump_flexibility_participation"


@pytest.mark.usefixtures("init_integration")
async def test_flex_event_from_the_aggregator(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    device_registry: dr.DeviceRegistry,
    simulator: Simulator,
    probe: AggregatorProbe,
) -> None:
    """A command limits the heat pump; entities, events and the broker all show it."""
    started = async_capture_events(hass, EVENT_FLEX_EVENT_STARTED)
    ended = async_capture_events(hass, EVENT_FLEX_EVENT_ENDED)
    command = make_command("c-e2e", 1000, minutes=30)

    await probe.send(command)
    ack = await probe.wait_for("ack", lambda m: m["command_id"] == "c-e2e")
    assert (ack["result"], ack["reason_code"]) == ("accepted", "ok")
    await wait_for(lambda: simulator.firmware.limit_w == 1000)
    await wait_for(lambda: hass.states.get(LIMIT).state == "1000.0")
    assert hass.states.get(SOURCE).state == "aggregator"
    assert hass.states.get(CURTAILED).state == STATE_ON
    assert hass.states.get(REASON).state == "congestion"
    # Timestamp sensors show whole seconds.
    assert dt_util.parse_datetime(hass.states.get(ENDS).state) == (
        command.ends_at.replace(microsecond=0)
    )
    telemetry = await probe.wait_for("telemetry", lambda m: m["limit_w"] == 1000)
    assert telemetry["limit_source"] == "aggregator"
    assert telemetry["command_id"] == "c-e2e"

    await hass.async_block_till_done()
    device = device_registry.async_get_device_by_identifier(
        ("dacs_hw", SERIAL), mock_config_entry.entry_id
    )
    assert device is not None
    assert len(started) == 1
    assert started[0].data == {
        "config_entry_id": mock_config_entry.entry_id,
        "device_id": device.id,
        "command_id": "c-e2e",
        "reason": "congestion",
        # The protocol carries times to the millisecond.
        "start": parse_time(format_time(command.envelope[0].start)).isoformat(),
        "end": parse_time(format_time(command.ends_at)).isoformat(),
        "lowest_limit_w": 1000,
    }

    await probe.send(
        Cancel(home_id=HOME, command_id="c-e2e", issued_at=datetime.now(UTC))
    )
    await wait_for(lambda: simulator.firmware.limit_w is None)
    await wait_for(lambda: hass.states.get(SOURCE).state == "none")
    await hass.async_block_till_done()
    assert len(ended) == 1
    assert ended[0].data["command_id"] == "c-e2e"
    assert hass.states.get(CURTAILED).state == STATE_OFF
    assert hass.states.get(REASON).state == "none"
    assert hass.states.get(ENDS).state == STATE_UNKNOWN


@pytest.mark.usefixtures("init_integration")
async def test_opting_out_during_an_event(
    hass: HomeAssistant, simulator: Simulator, probe: AggregatorProbe
) -> None:
    """The switch off ends the event at once, tells the aggregator and refuses more."""
    ended = async_capture_events(hass, EVENT_FLEX_EVENT_ENDED)
    await probe.send(make_command("c-1", 900))
    await wait_for(lambda: simulator.firmware.limit_w == 900)
    mark = probe.mark()
    await hass.services.async_call(
        "switch", "turn_off", {"entity_id": SWITCH}, blocking=True
    )
    assert simulator.firmware.limit_w is None
    await hass.async_block_till_done()
    assert len(ended) == 1
    await probe.wait_for(
        "preferences", lambda m: m["participation"] == "off", since=mark
    )

    await probe.send(make_command("c-2", 900))
    ack = await probe.wait_for("ack", lambda m: m["command_id"] == "c-2")
    assert (ack["result"], ack["reason_code"]) == ("rejected", "opted_out")
    assert simulator.firmware.limit_w is None


@pytest.mark.usefixtures("init_integration")
async def test_next_event_announced(
    hass: HomeAssistant, probe: AggregatorProbe
) -> None:
    """A command that starts later shows as the next flexibility event."""
    command = make_command("c-later", 1000, start_in_s=3600)
    await probe.send(command)
    await wait_for(lambda: hass.states.get(NEXT).state != STATE_UNKNOWN)
    assert dt_util.parse_datetime(hass.states.get(NEXT).state) == (
        command.envelope[0].start.replace(microsecond=0)
    )
    assert hass.states.get(CURTAILED).state == STATE_OFF
    assert hass.states.get(REASON).state == "none"
    assert hass.states.get(ENDS).state == STATE_UNKNOWN


@pytest.mark.usefixtures("init_integration")
async def test_comfort_guard(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    simulator: Simulator,
    probe: AggregatorProbe,
) -> None:
    """Below the comfort floor the limit goes and the override shows."""
    await probe.send(make_command("c-1", 1000))
    await wait_for(lambda: simulator.firmware.limit_w == 1000)
    await hass.services.async_call(
        "number",
        "set_value",
        {"entity_id": "number.hybrid_heat_pump_comfort_floor", "value": 22},
        blocking=True,
    )
    await wait_for(lambda: simulator.firmware.limit_w is None)
    await wait_for(
        lambda: (
            hass.states.get("binary_sensor.hybrid_heat_pump_comfort_override").state
            == STATE_ON
        )
    )
    assert hass.states.get(CURTAILED).state == STATE_OFF
