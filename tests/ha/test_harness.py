"""The Home Assistant test harness runs current Home Assistant core."""

from __future__ import annotations

from awesomeversion import AwesomeVersion
from homeassistant.const import __version__ as ha_version
from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component


async def test_current_home_assistant(hass: HomeAssistant) -> None:
    """The harness boots Home Assistant 2026.10 or newer and loads components."""
    assert AwesomeVersion(ha_version) >= AwesomeVersion("2026.10.0")
    assert await async_setup_component(hass, "homeassistant", {})
    assert hass.state.value == "RUNNING"
