"""Diagnostics: everything an installer needs, nothing that identifies the home."""

from __future__ import annotations

from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator
from syrupy.assertion import SnapshotAssertion
from syrupy.filters import props

from .conftest import HOME, SERIAL


@pytest.mark.usefixtures("init_integration")
async def test_diagnostics(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    mock_config_entry: MockConfigEntry,
    snapshot: SnapshotAssertion,
) -> None:
    """The diagnostics, with passwords, serial and home id redacted."""
    diagnostics = await get_diagnostics_for_config_entry(
        hass, hass_client, mock_config_entry
    )
    text = str(diagnostics)
    assert SERIAL not in text
    assert HOME not in text
    # What changes between runs: ports, clocks, messages in flight.
    assert diagnostics == snapshot(
        exclude=props(
            "port",
            "time",
            "valid_until",
            "queued",
            "telemetry_seq",
            "telemetry_unreceipted",
            "telemetry_resent",
            "receipts_seen",
        )
    )
