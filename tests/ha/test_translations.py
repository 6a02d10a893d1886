"""The integration's files agree with each other: translations, icons, actions."""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

from awesomeversion import AwesomeVersion
from homeassistant.util.package import parse_requirement_safe
import yaml

from custom_components.dacs_hw import PLATFORMS
from custom_components.dacs_hw.binary_sensor import BINARY_SENSORS
from custom_components.dacs_hw.button import PAUSE
from custom_components.dacs_hw.climate import HEATING
from custom_components.dacs_hw.number import MANUAL_LIMIT, NUMBERS
from custom_components.dacs_hw.sensor import SENSORS
from custom_components.dacs_hw.switch import PARTICIPATION
from scripts import release

INTEGRATION = Path(__file__).parents[2] / "custom_components" / "dacs_hw"


def _load(name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((INTEGRATION / name).read_text("utf-8"))
    return document


def _keys(tree: dict[str, Any], prefix: str = "") -> set[str]:
    keys: set[str] = set()
    for key, value in tree.items():
        keys.add(prefix + key)
        if isinstance(value, dict):
            keys |= _keys(value, f"{prefix}{key}.")
    return keys


def test_dutch_translates_everything() -> None:
    """nl.json has exactly the keys of en.json, and no English left over."""
    english, dutch = _load("translations/en.json"), _load("translations/nl.json")
    assert _keys(english) == _keys(dutch)
    assert (
        dutch["entity"]["switch"]["participation"]["name"]
        != (english["entity"]["switch"]["participation"]["name"])
    )


def test_no_references_in_a_custom_integration() -> None:
    """Custom integrations cannot use [%key:...] references."""
    for name in ("translations/en.json", "translations/nl.json"):
        assert "[%key:" not in (INTEGRATION / name).read_text("utf-8")


def test_every_entity_is_translated_and_has_an_icon() -> None:
    """Each translation key of an entity description has a name and an icon."""
    english = _load("translations/en.json")["entity"]
    icons = _load("icons.json")["entity"]
    platforms = {
        "binary_sensor": BINARY_SENSORS,
        "button": (PAUSE,),
        "number": (*NUMBERS, MANUAL_LIMIT),
        "sensor": SENSORS,
        "switch": (PARTICIPATION,),
    }
    for platform, descriptions in platforms.items():
        for description in descriptions:
            key = description.translation_key
            assert key is not None, description.key
            assert english[platform][key]["name"], key
            if description.device_class is None:
                assert key in icons[platform], key
    assert HEATING.translation_key in english["climate"]
    assert {platform.value for platform in PLATFORMS} == {
        "binary_sensor",
        "button",
        "climate",
        "number",
        "sensor",
        "switch",
    }


def test_enum_states_are_translated() -> None:
    """Every option of an enum sensor has a translated state and an icon."""
    english = _load("translations/en.json")["entity"]["sensor"]
    icons = _load("icons.json")["entity"]["sensor"]
    for description in SENSORS:
        if description.options:
            states = english[description.translation_key]["state"]
            assert set(states) == set(description.options)
            assert set(icons[description.translation_key]["state"]) == set(
                description.options
            )


def test_actions_are_described() -> None:
    """services.yaml, the translations and icons.json name the same actions."""
    services = yaml.safe_load((INTEGRATION / "services.yaml").read_text("utf-8"))
    english = _load("translations/en.json")["services"]
    icons = _load("icons.json")["services"]
    assert set(services) == set(english) == set(icons)
    for action, spec in services.items():
        assert set(spec["fields"]) == set(english[action]["fields"])


def test_manifest() -> None:
    """domain and name first, then the rest in alphabetical order; the release's wheel."""
    manifest = _load("manifest.json")
    keys = list(manifest)
    assert keys[:2] == ["domain", "name"]
    assert keys[2:] == sorted(keys[2:])
    assert manifest["integration_type"] == "device"
    # What HACS asks of a custom integration's manifest.
    for key in ("codeowners", "documentation", "issue_tracker", "version"):
        assert manifest[key], key
    assert AwesomeVersion(manifest["version"]).valid
    # One requirement: the wheel of this version's GitHub release (docs/release.md).
    (requirement,) = manifest["requirements"]
    assert requirement == release.integration_requirement(manifest["version"])
    # Home Assistant reads it as a plain pin, so an installed wheel satisfies it.
    parsed = parse_requirement_safe(requirement)
    assert parsed is not None
    assert parsed.url is None
    assert str(parsed) == f"dacs-hw=={manifest['version']}"


def test_brand_icon() -> None:
    """brand/icon.png is a 256x256 PNG."""
    data = (INTEGRATION / "brand" / "icon.png").read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert int.from_bytes(data[16:20]) == 256
    assert int.from_bytes(data[20:24]) == 256


def _flow_keys(source: str) -> dict[str, set[str]]:
    """The step ids, form errors and abort reasons the config flow's code names."""
    found: dict[str, set[str]] = {"step": set(), "error": set(), "abort": set()}
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and isinstance(node.value, ast.Constant):
            if node.arg == "step_id":
                found["step"].add(node.value.value)
            elif node.arg == "reason":
                found["abort"].add(node.value.value)
        elif (
            isinstance(node, ast.Assign)
            and isinstance(node.value, ast.Constant)
            and any(
                isinstance(t, ast.Subscript)
                and isinstance(t.value, ast.Name)
                and t.value.id == "errors"
                for t in node.targets
            )
        ):
            found["error"].add(node.value.value)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and (
            isinstance(node.returns, ast.Name | ast.BinOp)
            and "str" in ast.unparse(node.returns)
        ):
            # The helpers that answer with a form error.
            found["error"] |= {
                ret.value.value
                for ret in ast.walk(node)
                if isinstance(ret, ast.Return)
                and isinstance(ret.value, ast.Constant)
                and isinstance(ret.value.value, str)
            }
    return found


def test_every_step_error_and_abort_of_the_config_flow_is_translated() -> None:
    """What the flow shows has words in both languages; every menu option is a step."""
    found = _flow_keys((INTEGRATION / "config_flow.py").read_text("utf-8"))
    assert {"reconfigure_s2", "s2"} <= found["step"]
    assert {"different_s2_device", "no_s2_device", "s2_unsupported"} <= found["error"]
    for language in ("en", "nl"):
        translations = _load(f"translations/{language}.json")
        config = translations["config"]
        steps = set(config["step"]) | set(translations["options"]["step"])
        assert found["step"] <= steps, language
        assert found["error"] <= set(config["error"]), language
        assert found["abort"] <= set(config["abort"]), language
        for step in config["step"].values():
            assert set(step.get("menu_options", {})) <= set(config["step"]), language
