"""The real Home Assistant frontend in Chromium, as `make ha` serves it.

A real Home Assistant process with the integration, the simulated heat pump
over Modbus TCP, Mosquitto as the home broker and the home controller inside
the integration. A resident opens the link to the heat pump's device page,
signs in on the login page that link leads to, finds the participation
switch, the limit in force and the earnings there, and steps out of
flexibility with a click on the switch. The home controller's answer is read
from the home broker, where the aggregator reads it.

Screenshots go to ``artifacts/ha/`` for people to look at.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import aiomqtt
import pytest

from dacs.protocol import Participation, Preferences, decode, topic
from dacs.protocol.topics import Channel
from dacs.testbed.browser import PageWaitError, headless_chromium
from dacs.testbed.ha_frontend import (
    LOAD_TIMEOUT_S,
    click,
    device_of,
    entity_state,
    log_in,
    row_control,
    wait_for_labels,
    wait_for_state,
    wait_until_settled,
)
from dacs.testbed.home_assistant import (
    HOME_ID,
    PASSWORD,
    USERNAME,
    HomeAssistantOptions,
    home_assistant_with_heat_pump,
    missing_requirements,
    send_flex_event,
)
from dacs.testbed.servers import MosquittoBroker
from dacs.testbed.servers.ports import LOOPBACK

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "ha"
SWITCH_ENTITY = "switch.hybrid_heat_pump_flexibility_participation"
LIMIT_ENTITY = "sensor.hybrid_heat_pump_power_limit_in_force"
SOURCE_ENTITY = "sensor.hybrid_heat_pump_power_limit_source"
SWITCH = "Flexibility participation"
LIMIT = "Power limit in force"
EARNINGS = "Earnings this month"
# The home controller answers within a telemetry cycle or two.
ANSWER_TIMEOUT_S = 60.0


@asynccontextmanager
async def _preferences(broker_port: int) -> AsyncIterator[asyncio.Queue[Preferences]]:
    """Every preferences message the home controller publishes on the home broker."""
    queue: asyncio.Queue[Preferences] = asyncio.Queue()
    async with aiomqtt.Client(
        LOOPBACK, broker_port, identifier="test-aggregator"
    ) as client:
        await client.subscribe(topic(HOME_ID, Channel.PREFERENCES), qos=1)

        async def collect() -> None:
            async for message in client.messages:
                assert isinstance(message.payload, bytes)
                decoded = decode(message.payload, channel=Channel.PREFERENCES)
                assert isinstance(decoded, Preferences)
                queue.put_nowait(decoded)

        reader = asyncio.create_task(collect())
        try:
            yield queue
        finally:
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)


async def _next_participation(
    queue: asyncio.Queue[Preferences], wanted: Participation
) -> Preferences:
    async with asyncio.timeout(ANSWER_TIMEOUT_S):
        while (preferences := await queue.get()).participation is not wanted:
            pass
    return preferences


@pytest.mark.timeout(600)
async def test_a_resident_steps_out_on_the_device_page(
    tmp_path: Path, mosquitto: MosquittoBroker
) -> None:
    # No silent skip: what the frontend needs is installed by make setup.
    assert missing_requirements() == [], "run make setup"
    config_dir = tmp_path / "home-assistant"
    config_dir.mkdir()
    options = HomeAssistantOptions(config_dir=config_dir, broker_port=mosquitto.port)
    async with (
        _preferences(mosquitto.port) as preferences,
        home_assistant_with_heat_pump(options) as home_assistant,
        aiohttp.ClientSession() as session,
        headless_chromium(tmp_path / "chromium-profile") as page,
    ):
        first = await _next_participation(preferences, Participation.ON)
        assert first.home_id == HOME_ID
        # A limit in force, as during a flexibility event.
        await send_flex_event(mosquitto.port, 30)
        device_id = await device_of(
            session, home_assistant.url, home_assistant.token, SWITCH_ENTITY
        )

        # The link to the device page leads to the login page and back.
        device_page = f"/config/devices/device/{device_id}"
        await page.navigate(f"{home_assistant.url}{device_page}")
        try:
            await log_in(page, USERNAME, PASSWORD)
        except PageWaitError:
            await page.screenshot(ARTIFACTS / "login-failed.png")
            raise
        await page.wait_for(
            f"location.pathname === {device_page!r}", within_s=LOAD_TIMEOUT_S
        )
        await wait_for_labels(page, (SWITCH, LIMIT, EARNINGS))
        await page.wait_for(
            f"parseFloat(document.querySelector('home-assistant').hass.states[{LIMIT_ENTITY!r}]?.state) === 900",
            within_s=ANSWER_TIMEOUT_S,
        )
        assert await entity_state(page, SWITCH_ENTITY) == "on"
        assert await entity_state(page, SOURCE_ENTITY) == "aggregator"
        await wait_until_settled(page)
        await page.screenshot(ARTIFACTS / "device-page.png", full_page=True)

        # One click on the switch of the participation row.
        page.errors.clear()
        await click(page, row_control(SWITCH, "ha-switch, [role=switch]"))

        # The home controller steps out and tells the aggregator.
        stepped_out = await _next_participation(preferences, Participation.OFF)
        assert stepped_out.home_id == HOME_ID
        await wait_for_state(page, SWITCH_ENTITY, "off")
        # Stepping out releases the event's limit at once; the page says so.
        await wait_for_state(page, SOURCE_ENTITY, "none")
        await wait_for_labels(page, ("No limit",))
        await wait_until_settled(page)
        await page.screenshot(ARTIFACTS / "device-page-stepped-out.png", full_page=True)
        assert page.errors == []
