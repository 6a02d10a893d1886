"""The integration's files agree with each other: translations, icons, actions."""

from __future__ import annotations

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
