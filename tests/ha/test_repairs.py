"""Repair issues: a heat pump ignoring its limit, a lost link, no power limit."""

from __future__ import annotations

from datetime import timedelta
from unittest.mock import patch

from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.dacs_hw.const import CONF_TELEMETRY_INTERVAL, DOMAIN
from dacs.testbed.servers import MosquittoBroker

from .conftest import Simulator, wait_for


def _issue(
    issue_registry: ir.IssueRegistry, issue: str, entry: MockConfigEntry
) -> ir.IssueEntry | None:
    return issue_registry.async_get_issue(DOMAIN, f"{issue}_{entry.entry_id}")


@pytest.fixture(autouse=True)
def short_repair_delays() -> object:
    """Raise issues after a second instead of minutes."""
    with (
        patch(
            "custom_components.dacs_hw.issues.LIMIT_NOT_FOLLOWED_AFTER",
            timedelta(seconds=1),
        ),
        patch(
            "custom_components.dacs_hw.issues.AGGREGATOR_LOST_AFTER",
            timedelta(seconds=1),
        ),
    ):
        yield


@pytest.mark.parametrize("linked", [False])
@pytest.mark.usefixtures("init_integration")
async def test_heat_pump_not_following_its_limit(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    simulator: Simulator,
    issue_registry: ir.IssueRegistry,
) -> None:
    """Drawing far above the limit for too long raises an issue; obeying clears it."""
    coordinator = mock_config_entry.runtime_data.coordinator
    # A cold house: the heat pump runs flat out, well above 900 W.
    await coordinator.async_set_room_setpoint(26)
    simulator.advance(120)
    simulator.firmware.faults.ignore_limit = True
    await coordinator.async_update_preferences(manual_limit_w=900)
    await wait_for(
        lambda: (
            _issue(issue_registry, "limit_not_followed", mock_config_entry) is not None
        )
    )
    issue = _issue(issue_registry, "limit_not_followed", mock_config_entry)
    assert issue.severity is ir.IssueSeverity.ERROR
    assert issue.translation_placeholders["limit"] == "900"

    simulator.firmware.faults.ignore_limit = False
    simulator.advance(60)
    await wait_for(
        lambda: _issue(issue_registry, "limit_not_followed", mock_config_entry) is None
    )


async def test_aggregator_link_lost(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    broker: MosquittoBroker,
    issue_registry: ir.IssueRegistry,
) -> None:
    """The broker gone for too long raises an issue; its return clears it."""
    # No telemetry in flight when the broker dies: aiomqtt (2.5) then fails to
    # register a write on the closed socket and logs an error from a callback.
    mock_config_entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(
        mock_config_entry,
        options={**mock_config_entry.options, CONF_TELEMETRY_INTERVAL: 300},
    )
    assert await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    link = mock_config_entry.runtime_data.controller.link
    assert link is not None
    assert await link.wait_connected(10)

    broker.stop()
    await wait_for(
        lambda: _issue(issue_registry, "aggregator_lost", mock_config_entry) is not None
    )
    assert (
        hass.states.get("binary_sensor.hybrid_heat_pump_aggregator_connection").state
        == "off"
    )
    broker.start()
    await wait_for(
        lambda: _issue(issue_registry, "aggregator_lost", mock_config_entry) is None,
        within_s=10,
    )
    assert await hass.config_entries.async_unload(mock_config_entry.entry_id)


@pytest.mark.parametrize(("profile", "linked"), [("sg_ready", False)])
async def test_profile_without_power_limit(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    simulator: Simulator,
    issue_registry: ir.IssueRegistry,
) -> None:
    """A relay module can only switch to gas: say so; the issue goes with the entry."""
    mock_config_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    issue = _issue(issue_registry, "no_power_limit", mock_config_entry)
    assert issue is not None
    assert issue.translation_placeholders["gas_only"] == "yes"
    # The manual limit still works: as gas-only.
    coordinator = mock_config_entry.runtime_data.coordinator
    await coordinator.async_update_preferences(manual_limit_w=1000)
    assert simulator.firmware.mode.value == "gas_only"

    assert await hass.config_entries.async_unload(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    assert _issue(issue_registry, "no_power_limit", mock_config_entry) is None
