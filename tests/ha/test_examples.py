"""The examples work with the integration: blueprints validate, the dashboard's entities exist."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from unittest.mock import patch

from homeassistant.components.automation.config import (
    AUTOMATION_BLUEPRINT_SCHEMA,
    async_validate_config_item,
)
from homeassistant.components.blueprint.models import Blueprint, BlueprintInputs
from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
from homeassistant.util.yaml import load_yaml_dict
import pytest
import yaml

EXAMPLES = Path(__file__).parents[2] / "examples"
BLUEPRINTS = EXAMPLES / "blueprints" / "automation" / "dacs_hw"


def _entity_ids(node: Any) -> set[str]:
    """Every ``entity:`` value in a dashboard."""
    found: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "entity" and isinstance(value, str):
                found.add(value)
            else:
                found |= _entity_ids(value)
    elif isinstance(node, list):
        for item in node:
            found |= _entity_ids(item)
    return found


@pytest.mark.usefixtures("entity_registry_enabled_by_default", "init_integration")
async def test_dashboard_entities_exist(hass: HomeAssistant) -> None:
    """Every entity the example dashboard shows is one the integration creates."""
    dashboard = yaml.safe_load((EXAMPLES / "dashboard.yaml").read_text("utf-8"))
    wanted = _entity_ids(dashboard)
    assert wanted
    missing = {entity_id for entity_id in wanted if hass.states.get(entity_id) is None}
    assert not missing


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
