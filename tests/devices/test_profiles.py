"""Profiles are data: every shipped file validates, broken files are refused clearly."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from dacs.devices import ProfileError, builtin_profiles, get_profile, load_profile_file
from dacs.devices.modbus_profile import RegisterTable, parse_profile
from dacs.devices.models import OperatingMode

PROFILE_DIR = Path(__file__).parents[2] / "src" / "dacs" / "devices" / "profiles"


def _document(profile_id: str) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(
        (PROFILE_DIR / f"{profile_id}.yaml").read_text()
    )
    return document


def test_shipped_profiles() -> None:
    """The four required profiles ship, each with sources and a safety floor."""
    profiles = builtin_profiles()
    assert set(profiles) == {"dacs", "nibe_s", "daikin_homehub", "sg_ready"}
    for profile in profiles.values():
        assert profile.sources, profile.id
        assert "safety_floor_w" in profile.capabilities
        assert OperatingMode.NORMAL in profile.modes or profile.power_limit is not None


def test_nibe_facts() -> None:
    """NIBE: 6007 in 0.1 kW from 1.1 kW, enabled through 2741/3032, power in input 2305."""
    nibe = get_profile("nibe_s")
    assert nibe.power_limit is not None
    point = nibe.power_limit.point
    assert (point.table, point.address, point.scale, point.min) == (
        RegisterTable.HOLDING,
        6007,
        100.0,
        1100,
    )
    assert {(w.address, w.value) for w in nibe.power_limit.enable} == {
        (3032, 1),
        (2741, 1),
    }
    power = nibe.measurements["electric_power_w"]
    assert (power.table, power.address, power.low_word_first) == (
        RegisterTable.INPUT,
        2305,
        True,
    )
    assert nibe.capabilities["safety_floor_w"] >= 1100


def test_daikin_facts() -> None:
    """Daikin Home Hub: SG mode in holding 55, power in input 50 (PDU addresses)."""
    daikin = get_profile("daikin_homehub")
    assert daikin.modes[OperatingMode.GAS_ONLY][0].address == 55
    assert daikin.measurements["electric_power_w"].address == 50


def test_sg_ready_is_manual_only() -> None:
    """A relay module cannot be identified: the profile is never autodetected."""
    assert get_profile("sg_ready").detect_order is None
    assert get_profile("sg_ready").power_limit is None


def test_unknown_profile_names_the_known_ones() -> None:
    with pytest.raises(ProfileError, match=r"unknown device profile 'acme'.*dacs"):
        get_profile("acme")


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.pop("sources"), "'sources' is a required property"),
        (lambda d: d.update(id="Bad Id"), "does not match"),
        (
            lambda d: d["measurements"].update(
                power_w={"table": "input", "address": 1, "type": "uint16"}
            ),
            "Additional properties",
        ),
        (
            lambda d: d["measurements"]["electric_power_w"].update(table="eeprom"),
            "is not one of",
        ),
        (
            lambda d: d["measurements"]["electric_power_w"].update(address=70000),
            "is greater than",
        ),
        (
            lambda d: d["control"]["power_limit"].pop("unlimited_raw"),
            "could never be lifted",
        ),
        (lambda d: d["control"]["modes"].pop("gas_only"), "gas_only is missing"),
        (
            lambda d: d["measurements"]["flow_temp_c"].update(min=100, max=0),
            "min 100 > max 0",
        ),
        (lambda d: d["identity"]["serial"].pop("count"), "needs a count"),
    ],
)
def test_invalid_profiles_are_refused(mutate: Any, message: str) -> None:
    """Each kind of mistake in a profile file is reported with where and why."""
    document = copy.deepcopy(_document("dacs"))
    if "gas_only is missing" in message:
        document["capabilities"]["supports_gas_only"] = True
    mutate(document)
    with pytest.raises(ProfileError, match=message):
        parse_profile(document, "test.yaml")


def test_profile_file_errors(tmp_path: Path) -> None:
    """Unreadable or non-YAML files give a ProfileError naming the file."""
    with pytest.raises(ProfileError, match=r"missing\.yaml"):
        load_profile_file(tmp_path / "missing.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("id: [unclosed\n")
    with pytest.raises(ProfileError, match=r"broken\.yaml"):
        load_profile_file(broken)


def test_loading_a_copy_from_disk(tmp_path: Path) -> None:
    """A profile file outside the package loads the same as the built-in one."""
    copy_path = tmp_path / "mine.yaml"
    copy_path.write_text((PROFILE_DIR / "daikin_homehub.yaml").read_text())
    assert load_profile_file(copy_path) == get_profile("daikin_homehub")
