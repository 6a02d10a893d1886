"""The examples work with the integration: blueprints validate, the dashboard's entities exist."""

from __future__ import annotations

from pathlib import Path
import re
from typing import Any
from unittest.mock import patch

from homeassistant.components.automation.config import (
    AUTOMATION_BLUEPRINT_SCHEMA,
    async_validate_config_item,
)
from homeassistant.components.blueprint.models import Blueprint, BlueprintInputs
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from homeassistant.setup import async_setup_component
from homeassistant.util.yaml import load_yaml_dict
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import WebSocketGenerator

EXAMPLES = Path(__file__).parents[2] / "examples"
BLUEPRINTS = EXAMPLES / "blueprints" / "automation" / "dacs_hw"


# An entity ID wherever a card may name one: `entity:`, a plain row of
# `entities:`, a condition's or an action's `entity_id`.
ENTITY_ID = re.compile(r"^[a-z_]+\.[a-z0-9_]+$")


def _entity_ids(node: Any) -> set[str]:
    """Every entity ID a dashboard's cards refer to."""
    if isinstance(node, str):
        return {node} if ENTITY_ID.match(node) else set()
    if isinstance(node, dict):
        # Keys such as `type` or `format` take words, never entity IDs.
        return set().union(*(_entity_ids(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(_entity_ids(item) for item in node))
    return set()


def test_entity_ids_are_found_in_every_place_a_card_names_one() -> None:
    """Rows given as plain strings and conditions count; words do not."""
    card = {
        "type": "entities",
        "entities": ["sensor.a", {"entity": "switch.b", "format": "time"}],
        "conditions": [{"condition": "state", "entity": "binary_sensor.c"}],
        "tap_action": {"action": "call-service", "target": {"entity_id": ["button.d"]}},
        "title": "Heat pump",
    }
    assert _entity_ids(card) == {"sensor.a", "switch.b", "binary_sensor.c", "button.d"}


@pytest.mark.usefixtures("init_integration")
async def test_dashboard_loads_and_every_entity_it_names_exists(
    hass: HomeAssistant,
    hass_ws_client: WebSocketGenerator,
    entity_registry: er.EntityRegistry,
    mock_config_entry: MockConfigEntry,
) -> None:
    """Home Assistant loads the example dashboard; each entity it shows is ours.

    The heat pump is set up as a resident would have it (linked, default
    entities only): an entity renamed, removed or disabled by default shows
    up here, not as a broken card on someone's wall.
    """
    assert await async_setup_component(
        hass,
        "lovelace",
        {
            "lovelace": {
                "dashboards": {
                    "dacs-hw": {
                        "mode": "yaml",
                        "filename": str(EXAMPLES / "dashboard.yaml"),
                        "title": "Heat pump and grid",
                    }
                }
            }
        },
    )
    client = await hass_ws_client(hass)
    await client.send_json_auto_id({"type": "lovelace/config", "url_path": "dacs-hw"})
    response = await client.receive_json()
    assert response["success"], response
    dashboard = response["result"]
    assert dashboard["views"]

    wanted = _entity_ids(dashboard)
    # The resident's ways out are on it.
    assert {
        "switch.hybrid_heat_pump_flexibility_participation",
        "button.hybrid_heat_pump_pause_flexibility_for_4_hours",
    } <= wanted
    problems: dict[str, str] = {}
    for entity_id in sorted(wanted):
        entry = entity_registry.async_get(entity_id)
        if entry is None:
            problems[entity_id] = "no such entity"
        elif entry.config_entry_id != mock_config_entry.entry_id:
            problems[entity_id] = f"belongs to {entry.platform}"
        elif entry.disabled_by is not None:
            problems[entity_id] = f"disabled by {entry.disabled_by}"
        elif hass.states.get(entity_id) is None:
            problems[entity_id] = "no state"
    assert not problems


@pytest.mark.parametrize(
    ("name", "inputs"),
    [
        (
            "pause_while_guests.yaml",
            {"guest_mode": "input_boolean.guests", "heat_pump": "entry-id"},
        ),
        (
            "notify_flex_event.yaml",
            {"heat_pump": "entry-id", "phone": "device-id"},
        ),
    ],
)
async def test_blueprints_make_valid_automations(
    hass: HomeAssistant, name: str, inputs: dict[str, str]
) -> None:
    """Each blueprint is valid and makes a valid automation from its inputs."""
    path = BLUEPRINTS / name
    blueprint = Blueprint(
        load_yaml_dict(str(path)),
        path=str(path),
        expected_domain="automation",
        schema=AUTOMATION_BLUEPRINT_SCHEMA,
    )
    assert blueprint.validate() is None
    config = BlueprintInputs(
        blueprint,
        {"use_blueprint": {"path": f"dacs_hw/{name}", "input": inputs}},
    ).async_substitute()
    assert await async_setup_component(hass, "homeassistant", {})

    async def _device_action(_hass: HomeAssistant, action: Any) -> Any:
        # mobile_app cannot load in this test environment; its notify action
        # must at least carry the fields the app's schema requires.
        assert action["domain"] == "mobile_app"
        assert action["type"] == "notify"
        assert action["message"]
        return action

    with patch(
        "homeassistant.helpers.script.device_action.async_validate_action_config",
        _device_action,
    ):
        validated = await async_validate_config_item(hass, name, config)
    assert validated is not None
    assert validated.validation_status.value == "ok", validated.validation_error
