"""The real Home Assistant frontend in Chromium, as `make ha` serves it.

A real Home Assistant process with the integration, the simulated heat pump
over Modbus TCP, Mosquitto as the home broker and the home controller inside
the integration; a resident logs in through the login form, opens the heat
pump's device page and steps out of flexibility with a click on the
participation switch. The home controller's answer is read from the home
broker, where the aggregator would read it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
import json
from pathlib import Path
from typing import Any

import aiomqtt
import pytest

from dacs.protocol import Participation, Preferences, decode, topic
from dacs.protocol.topics import Channel
from dacs.testbed.browser import Page, headless_chromium
from dacs.testbed.servers import MosquittoBroker
from dacs.testbed.servers.home_assistant import (
    HOME_ID,
    PASSWORD,
    USERNAME,
    HomeAssistantOptions,
    home_assistant_with_heat_pump,
    missing_requirements,
    send_flex_event,
)
from dacs.testbed.servers.ports import LOOPBACK

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "ha"
DEVICE = "Hybrid heat pump"
SWITCH = "Flexibility participation"
LIMIT = "Power limit in force"
EARNINGS = "Earnings this month"

# Home Assistant's frontend is web components: every lookup walks the
# shadow roots. Rows of the device page are the entity rows of its cards.
DEEP = """
const deepAll = (selector, root = document) => {
  const found = [...root.querySelectorAll(selector)];
  for (const element of root.querySelectorAll('*')) {
    if (element.shadowRoot) found.push(...deepAll(selector, element.shadowRoot));
  }
  return found;
};
const textOf = (element) => (element.innerText ?? element.textContent ?? '').trim();
const named = (name) => deepAll('*').find(e => !e.shadowRoot && e.children.length === 0 && textOf(e) === name);
// From a row's label up through its ancestors (and shadow hosts) to the first
// one that holds a match of the selector: the control of that row.
const controlOf = (name, selector) => {
  for (let node = named(name); node; node = node.parentNode ?? node.host) {
    if (node.querySelectorAll) {
      const hit = deepAll(selector, node).find(e => e.getBoundingClientRect().width > 0);
      if (hit) return hit;
    }
  }
  return null;
};
"""


def _js(body: str) -> str:
    return f"(() => {{ {DEEP} {body} }})()"


async def _center(page: Page, finder: str) -> dict[str, float] | None:
    """The viewport centre of the element ``finder`` returns, scrolled into view."""
    center: dict[str, float] | None = await page.evaluate(
        _js(
            f"const element = {finder}; if (!element) return null;"
            "element.scrollIntoView({block: 'center'});"
            "const box = element.getBoundingClientRect();"
            "if (!box.width || !box.height) return null;"
            "return {x: box.x + box.width / 2, y: box.y + box.height / 2};"
        )
    )
    return center


async def _type_into(page: Page, selector: str, text: str) -> None:
    """Focus an input of the page and type into it as a keyboard does."""
    await page.wait_for(_js(f"return deepAll({selector!r}).length > 0"), within_s=30)
    await page.evaluate(_js(f"deepAll({selector!r})[0].focus()"))
    await page.send("Input.insertText", text=text)


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
                decoded = decode(bytes(message.payload), channel=Channel.PREFERENCES)  # type: ignore[arg-type]
                assert isinstance(decoded, Preferences)
                queue.put_nowait(decoded)

        reader = asyncio.create_task(collect())
        try:
            yield queue
        finally:
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)


async def _next_participation(
    queue: asyncio.Queue[Preferences], wanted: Participation, within_s: float
) -> Preferences:
    async with asyncio.timeout(within_s):
        while (preferences := await queue.get()).participation is not wanted:
            pass
    return preferences


async def _state(page: Page, entity_id: str) -> Any:
    """What the frontend's connection holds for one entity."""
    return await page.evaluate(
        f"document.querySelector('home-assistant')?.hass?.states[{entity_id!r}]?.state"
    )


@pytest.mark.timeout(150)
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
        headless_chromium(tmp_path / "chromium-profile") as page,
    ):
        first = await _next_participation(preferences, Participation.ON, 30)
        assert first.home_id == HOME_ID
        await send_flex_event(mosquitto.port, 30)

        # The login form, filled in and sent as a person does.
        await page.navigate(f"{home_assistant.url}/")
        await page.wait_for("location.pathname === '/auth/authorize'", within_s=30)
        await _type_into(page, "input[name=username]", USERNAME)
        await _type_into(page, "input[name=password]", PASSWORD)
        await page.screenshot(ARTIFACTS / "login.png")
        log_in = await _center(
            page, "deepAll('ha-button').find(b => textOf(b) === 'Log in')"
        )
        assert log_in is not None
        await page.click_at(log_in["x"], log_in["y"])
        await page.wait_for(
            "!!document.querySelector('home-assistant')?.hass?.states", within_s=30
        )

        # The heat pump's device page, found by its name in the device registry.
        device_id = await page.wait_for(
            "Object.values(document.querySelector('home-assistant').hass.devices)"
            f".find(d => (d.name_by_user || d.name) === {DEVICE!r})?.id",
            within_s=30,
        )
        await page.navigate(f"{home_assistant.url}/config/devices/device/{device_id}")
        for name in (SWITCH, LIMIT, EARNINGS):
            await page.wait_for(_js(f"return !!named({name!r})"), within_s=30)
        switch_id = "switch.hybrid_heat_pump_flexibility_participation"
        assert await _state(page, switch_id) == "on"
        await asyncio.sleep(1)  # the cards' last layout pass
        await page.screenshot(ARTIFACTS / "device-page.png", full_page=True)
        toggle = await _center(page, f"controlOf({SWITCH!r}, 'ha-switch')")
        assert toggle is not None, "no participation toggle on the device page"
        page.errors.clear()
        await page.click_at(toggle["x"], toggle["y"])

        # The home controller steps out and tells the aggregator.
        stepped_out = await _next_participation(preferences, Participation.OFF, 30)
        assert stepped_out.home_id == HOME_ID
        await page.wait_for(
            "document.querySelector('home-assistant').hass.states"
            f"[{switch_id!r}].state === 'off'",
            within_s=20,
        )
        await asyncio.sleep(1)
        await page.screenshot(ARTIFACTS / "device-page-stepped-out.png", full_page=True)
        assert not [e for e in page.errors if "participation" in json.dumps(e)]
