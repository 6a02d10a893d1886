"""The app package in addon/, checked against the Supervisor's rules.

The Supervisor validates an app's config.yaml when it loads a repository; a
mistake there hides the app from the store. These checks follow its rules
(supervisor/apps/validate.py and options.py): required keys, the slug and
version formats, the architectures it still builds for, ports, and the
option schema language.
"""

from __future__ import annotations

import os
from pathlib import Path
import re
import shlex
import struct
import subprocess
import tomllib
from typing import Any
from urllib.parse import urlsplit
import zlib

import pytest
import yaml

from dacs.cli import build_parser
from dacs.connect import DISCOVERY_SERVICE, LogLevel, OptionsError
from dacs.connect.addon import DEFAULT_STATUS_PORT
from dacs.connect.options import parse_enrollment_code

REPOSITORY = Path(__file__).resolve().parents[2]
ADDON = REPOSITORY / "addon"
S6 = ADDON / "rootfs" / "etc" / "s6-overlay" / "s6-rc.d"

SLUG = re.compile(r"^[-_.A-Za-z0-9]+$")
PORT_KEY = re.compile(r"^\d+(?:/tcp|/udp)?$")
ARCHITECTURES = {"amd64", "aarch64"}
# The option schema language: a type, optional bounds, optional "?".
_NUMBER = r"-?\d*\.?\d+"
SCHEMA_TYPE = re.compile(
    r"^(?:"
    r"bool|email|url|port"
    r"|device(?:\(subsystem=[a-z]+\))?"
    r"|(?:str|password)(?:\((?:\d+)?,(?:\d+)?\))?"
    r"|int(?:\((?:-?\d+)?,(?:-?\d+)?\))?"
    rf"|float(?:\((?:{_NUMBER})?,(?:{_NUMBER})?\))?"
    r"|match\((?P<match>.+)\)"
    r"|list\((?P<list>[^|()]+(?:\|[^|()]+)*)\)"
    r")(?P<optional>\?)?$"
)


def _config() -> dict[str, Any]:
    document = yaml.safe_load((ADDON / "config.yaml").read_text())
    assert isinstance(document, dict)
    return document


def _accepts(schema_type: str, value: Any) -> bool:
    """Whether the Supervisor would accept ``value`` for ``schema_type``."""
    parsed = SCHEMA_TYPE.fullmatch(schema_type)
    assert parsed, schema_type
    if parsed["match"] is not None:
        # The Supervisor uses voluptuous' Match, i.e. re.match.
        return re.match(parsed["match"], str(value)) is not None
    if parsed["list"] is not None:
        return str(value) in parsed["list"].split("|")
    if schema_type.startswith("url"):
        parts = urlsplit(str(value))
        return bool(parts.scheme and parts.netloc)
    if schema_type.startswith("bool"):
        return isinstance(value, bool)
    if schema_type.startswith(("str", "password")):
        return isinstance(value, str)
    return True


def test_required_keys_and_formats() -> None:
    config = _config()
    for key in ("name", "version", "slug", "description", "arch"):
        assert config.get(key), f"config.yaml needs {key}"
    assert config["name"] == "DACS Connect"
    assert config["slug"] == "dacs_connect"
    assert SLUG.fullmatch(config["slug"])
    assert isinstance(config["version"], str)  # quoted: 0.10 must not become 0.1
    assert re.fullmatch(r"\d+\.\d+\.\d+", config["version"])
    assert f"## {config['version']}" in (ADDON / "CHANGELOG.md").read_text()
    assert config["arch"]
    assert set(config["arch"]) <= ARCHITECTURES
    assert config["init"] is False  # s6-overlay v3 is the init
    assert urlsplit(config["url"]).scheme == "https"
    assert config["discovery"] == [DISCOVERY_SERVICE]
    assert config["ingress"] is True
    assert config["ingress_port"] == DEFAULT_STATUS_PORT
    assert config["panel_icon"].startswith("mdi:")
    for key, value in config["ports"].items():
        assert PORT_KEY.fullmatch(key)
        assert value is None or 1 <= value <= 65535
    assert config["ports"] == {"1883/tcp": None}  # internal unless the user maps it
    assert set(config["ports_description"]) <= set(config["ports"])
    assert "watchdog" not in config  # the Dockerfile's HEALTHCHECK instead
    assert "image" not in config  # built locally from the Dockerfile


def test_options_and_schema_match() -> None:
    config = _config()
    options, schema = config["options"], config["schema"]
    assert set(options) == set(schema)
    for key, schema_type in schema.items():
        assert isinstance(schema_type, str), key
        assert SCHEMA_TYPE.fullmatch(schema_type), f"{key}: {schema_type!r}"
        default = options[key]
        if default is None:
            # Null: the resident must fill it in before the first start.
            assert not schema_type.endswith("?"), key
        else:
            assert _accepts(schema_type, default), (key, default)
    assert schema["aggregator_url"] == "url"
    log_levels = SCHEMA_TYPE.fullmatch(schema["log_level"])
    assert log_levels
    assert log_levels["list"].split("|") == [level.value for level in LogLevel]


@pytest.mark.parametrize(
    "code",
    [
        "ABCD-EFGH-2345",
        "abcd-efgh-2345",
        "",
        "ABCD-EFGH",
        "ABCD_EFGH_2345",
        "ÄBCD-EFGH-2345",
    ],
)
def test_enrollment_code_schema_agrees_with_the_service(code: str) -> None:
    """What the Supervisor lets through, the service accepts, and vice versa."""
    schema_type = _config()["schema"]["enrollment_code"]
    try:
        parse_enrollment_code(code)
    except OptionsError:
        accepted_by_service = False
    else:
        accepted_by_service = True
    assert _accepts(schema_type, code) is accepted_by_service


def test_translations_cover_every_option() -> None:
    config = _config()
    english = yaml.safe_load((ADDON / "translations" / "en.yaml").read_text())
    dutch = yaml.safe_load((ADDON / "translations" / "nl.yaml").read_text())
    for translation in (english, dutch):
        assert set(translation["configuration"]) == set(config["schema"])
        for entry in translation["configuration"].values():
            assert entry["name"].strip()
            assert entry["description"].strip()
        assert set(translation["network"]) == set(config["ports"])
    for key in config["schema"]:
        assert (
            english["configuration"][key]["name"] != dutch["configuration"][key]["name"]
        )
    assert dutch["configuration"]["enrollment_code"]["name"] == "Aanmeldcode"
    docs = (ADDON / "DOCS.md").read_text()
    for key in config["schema"]:
        assert f"### Option: `{key}`" in docs


def test_only_one_config_yaml_in_the_repository() -> None:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=REPOSITORY,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    # The Supervisor takes any of these names for an app's configuration.
    configs = [
        p
        for p in listed
        if Path(p).name in {"config.yaml", "config.yml", "config.json"}
    ]
    assert configs == ["addon/config.yaml"]
    assert (REPOSITORY / "repository.yaml").is_file()


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", path
    offset, chunks, image = 8, [], b""
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        kind = data[offset + 4 : offset + 8]
        body = data[offset + 8 : offset + 8 + length]
        (crc,) = struct.unpack(">I", data[offset + 8 + length : offset + 12 + length])
        assert zlib.crc32(kind + body) & 0xFFFFFFFF == crc, (path, kind)
        chunks.append(kind)
        image += body if kind == b"IDAT" else b""
        offset += 12 + length
    assert chunks[0] == b"IHDR"
    assert chunks[-1] == b"IEND"
    width, height, depth, colour = struct.unpack(">IIBB", data[16:26])
    channels = {2: 3, 6: 4}[colour]
    assert len(zlib.decompress(image)) == height * (1 + width * channels * depth // 8)
    return width, height


def test_icon_and_logo_are_pngs_of_the_right_size() -> None:
    assert _png_size(ADDON / "icon.png") == (128, 128)
    assert _png_size(ADDON / "logo.png") == (250, 100)


def test_s6_services() -> None:
    services = {p.name: p for p in S6.iterdir() if p.name != "user"}
    assert set(services) == {"init-config", "mosquitto", "dacs-connect"}
    for name, directory in services.items():
        kind = (directory / "type").read_text().strip()
        if kind == "longrun":
            for script in ("run", "finish"):
                path = directory / script
                assert os.access(path, os.X_OK), path
                assert path.read_text().startswith("#!/command/with-contenv bashio\n")
        else:
            assert kind == "oneshot", name
            up = (directory / "up").read_text().strip()
            target = ADDON / "rootfs" / up.lstrip("/")
            assert os.access(target, os.X_OK), target
        for dependency in (directory / "dependencies.d").iterdir():
            assert dependency.name == "base" or dependency.name in services
    assert {p.name for p in (S6 / "user" / "contents.d").iterdir()} == set(services)
    # Start order: prepare the files, then the broker, then the service.
    assert [p.name for p in (S6 / "mosquitto" / "dependencies.d").iterdir()] == [
        "init-config"
    ]
    assert [p.name for p in (S6 / "dacs-connect" / "dependencies.d").iterdir()] == [
        "mosquitto"
    ]


@pytest.mark.parametrize("service", ["init-config", "dacs-connect"])
def test_s6_scripts_call_existing_commands(service: str) -> None:
    """The flags in the run scripts are ones the ``dacs`` command knows."""
    script = (S6 / service / "run").read_text().replace("\\\n", " ")
    command = next(
        line for line in script.splitlines() if line.startswith("exec dacs ")
    )
    arguments = shlex.split(command)[2:]
    parsed = build_parser().parse_args(arguments)
    assert parsed.data_dir == Path("/data")
    assert parsed.broker_user == "root"
    if service == "dacs-connect":
        assert parsed.status_port == DEFAULT_STATUS_PORT
        assert parsed.restart_command == "s6-svc -r /run/service/mosquitto"
    mosquitto = (S6 / "mosquitto" / "run").read_text()
    assert "exec mosquitto -c /data/mosquitto/mosquitto.conf" in mosquitto


def test_dockerfile() -> None:
    dockerfile = (ADDON / "Dockerfile").read_text()
    # The base image is named in FROM itself (build.yaml/BUILD_FROM is retired).
    base = re.search(r"^FROM (\S+)$", dockerfile, re.MULTILINE)
    assert base
    assert base[1].startswith("ghcr.io/home-assistant/base-python:3.14-alpine")
    assert "BUILD_FROM" not in dockerfile
    assert "apk add --no-cache" in dockerfile
    assert "mosquitto" in dockerfile
    health = re.search(r"^HEALTHCHECK .*\n\s+CMD (.+)$", dockerfile, re.MULTILINE)
    assert health
    assert f"http://127.0.0.1:{DEFAULT_STATUS_PORT}/api/health" in health[1]
    pinned = re.search(r"^ARG DACS_HW_VERSION=(\S+)$", dockerfile, re.MULTILINE)
    project = tomllib.loads((REPOSITORY / "pyproject.toml").read_text())["project"]
    assert pinned
    assert pinned[1] == project["version"]
