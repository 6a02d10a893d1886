"""Take the guides' screenshots of Home Assistant's real frontend.

Runs what ``make ha`` runs (a throwaway Home Assistant, the simulated heat
pump, a Mosquitto home broker; ``dacs.testbed.home_assistant``) and drives
headless Chromium through the pages the resident and installer guides show,
the way tests/ha_frontend does. The PNGs are scaled down and reduced to a
palette so they stay small in the repository.

    .venv/bin/python scripts/ha_screenshots.py [--out docs/images]
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
import sys
import tempfile

import aiohttp
from PIL import Image

from dacs.testbed.browser import Page, Viewport, headless_chromium
from dacs.testbed.ha_frontend import (
    LOAD_TIMEOUT_S,
    button,
    click,
    device_of,
    fill_in_login,
    open_in_app,
    row_control,
    row_label,
    send_login,
    wait_for_labels,
    wait_for_state,
    wait_until_connected,
    wait_until_settled,
)
from dacs.testbed.home_assistant import (
    PASSWORD,
    USERNAME,
    HomeAssistantOptions,
    home_assistant_with_heat_pump,
    send_flex_event,
)
from dacs.testbed.servers import MosquittoBroker

REPOSITORY = Path(__file__).resolve().parents[1]
SWITCH_ENTITY = "switch.hybrid_heat_pump_flexibility_participation"
SWITCH = "Flexibility participation"
# Wide enough for the device page's three columns.
VIEWPORT = Viewport(width=1280, height=1000)
SCALE = 0.75
COLOURS = 96


def shrink(path: Path) -> None:
    """Scale a screenshot down and store it with a palette (flat UI colours)."""
    with Image.open(path) as image:
        size = (round(image.width * SCALE), round(image.height * SCALE))
        small = image.convert("RGB").resize(size, Image.Resampling.LANCZOS)
    small.quantize(colors=COLOURS, method=Image.Quantize.MEDIANCUT).save(
        path, optimize=True
    )


async def shoot(page: Page, path: Path) -> None:
    """A viewport screenshot of the drawn page, shrunk."""
    await wait_until_settled(page)
    await page.screenshot(path)
    await asyncio.to_thread(shrink, path)
    print(
        f"wrote {path.relative_to(REPOSITORY) if path.is_relative_to(REPOSITORY) else path}"
    )


async def take(out: Path, work: Path) -> None:
    """Walk through the guides' pages and write one PNG for each."""
    with MosquittoBroker() as broker:
        options = HomeAssistantOptions(
            config_dir=work / "config", broker_port=broker.port
        )
        options.config_dir.mkdir()
        async with (
            home_assistant_with_heat_pump(options) as home_assistant,
            headless_chromium(work / "chromium", viewport=VIEWPORT) as page,
        ):
            await send_flex_event(broker.port, 30)
            async with aiohttp.ClientSession() as session:
                device_id = await device_of(
                    session, home_assistant.url, home_assistant.token, SWITCH_ENTITY
                )
            try:
                await walk_through(page, home_assistant.url, device_id, out)
            except Exception:
                # What the page showed when it went wrong, for the person running this.
                await page.screenshot(out / "failed.png")
                raise


async def walk_through(page: Page, url: str, device_id: str, out: Path) -> None:
    """The pages of the guides: the resident's link to the device page first."""
    await page.navigate(f"{url}/config/devices/device/{device_id}")
    await fill_in_login(page, USERNAME, PASSWORD)
    await shoot(page, out / "ha-login.png")
    await send_login(page)
    await wait_until_connected(page)

    # Resident: the device page during a flexibility event, then stepped out.
    await wait_for_labels(page, (SWITCH, "Power limit in force"), LOAD_TIMEOUT_S)
    await wait_for_state(page, SWITCH_ENTITY, "on")
    await shoot(page, out / "resident-device-page.png")
    await click(page, row_control(SWITCH, "ha-switch, [role=switch]"))
    await wait_for_state(page, SWITCH_ENTITY, "off")
    await wait_for_labels(page, ("No limit",))
    await shoot(page, out / "resident-stepped-out.png")

    # Installer: the integration's page with the heat pump's entry.
    await open_in_app(page, "/config/integrations/integration/dacs_hw")
    await wait_for_labels(page, ("Add device",))
    await shoot(page, out / "installer-integration.png")

    # Installer: adding a heat pump, the config flow's first two steps.
    await open_in_app(page, "/config/integrations/dashboard/add?domain=dacs_hw")
    await click(page, button("OK"))  # "Do you want to set up DACS-HW ...?"
    modbus = "Modbus TCP (directly or through a gateway)"
    await wait_for_labels(page, (modbus,))
    await shoot(page, out / "installer-add-heat-pump.png")
    await click(page, row_label(modbus))
    await wait_for_labels(page, ("Connect your hybrid heat pump",))
    await shoot(page, out / "installer-modbus-step.png")


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument(
        "--out",
        type=Path,
        default=REPOSITORY / "docs" / "images",
        help="where the PNGs go",
    )
    arguments = parser.parse_args(argv)
    arguments.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="dacs-shots-") as work:
        asyncio.run(take(arguments.out.resolve(), Path(work)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
