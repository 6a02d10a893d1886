"""Configuration from TOML plus environment variables, with clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from dacs.aggregator.config import ConfigError, load_config


def test_defaults() -> None:
    config = load_config()
    assert config.database.url.startswith("sqlite")
    assert config.control.cycle_s == 30


def test_file_and_environment(tmp_path: Path) -> None:
    path = tmp_path / "aggregator.toml"
    path.write_text(
        '[database]\nurl = "postgresql://dacs@127.0.0.1/dacs"\n'
        '[api]\nport = 9000\noperator_tokens = ["a", "b"]\n'
        "[enrollment]\nbroker_tls = false\n"
    )
    config = load_config(
        path,
        {
            "DACS_API_PORT": "9100",
            "DACS_API_READER_TOKENS": "r1, r2",
            "DACS_MQTT_PASSWORD": "secret",
            "DACS_CONTROL_CYCLE_S": "5",
        },
    )
    assert config.database.url == "postgresql://dacs@127.0.0.1/dacs"
    assert config.api.port == 9100
    assert config.api.operator_tokens == ("a", "b")
    assert config.api.reader_tokens == ("r1", "r2")
    assert config.enrollment.broker_tls is False
    assert config.mqtt.password == "secret"
    assert "secret" not in repr(config)
    assert config.control.cycle_s == 5.0


@pytest.mark.parametrize(
    ("setting", "default", "in_file", "in_environment"),
    [
        ("credentials_mode", "auto", "body", "basic"),
        ("version", "auto", "3.0.1", "3.1.0"),  # #19: the VTN's OpenADR version
    ],
)
def test_openadr_choices(
    tmp_path: Path, setting: str, default: str, in_file: str, in_environment: str
) -> None:
    assert getattr(load_config().openadr, setting) == default
    path = tmp_path / "aggregator.toml"
    path.write_text(f"[openadr]\n{setting} = '{in_file}'\n")
    assert getattr(load_config(path).openadr, setting) == in_file
    environ = {f"DACS_OPENADR_{setting.upper()}": in_environment}
    assert getattr(load_config(path, environ).openadr, setting) == in_environment


@pytest.mark.parametrize(
    ("text", "environ", "message"),
    [
        ("[nonsense]\nx = 1\n", {}, "unknown section"),
        ("[api]\nprot = 1\n", {}, r"\[api\]: unknown setting\(s\) prot"),
        ("[api]\nport = 'eighty'\n", {}, "api.port"),
        ("", {"DACS_ENROLLMENT_BROKER_TLS": "maybe"}, "DACS_ENROLLMENT_BROKER_TLS"),
        ("[api\n", {}, "aggregator.toml"),
        (
            "[openadr]\ncredentials_mode = 'header'\n",
            {},
            r"\[openadr\]: openadr.credentials_mode is 'header'",
        ),
        ("", {"DACS_OPENADR_CREDENTIALS_MODE": "both"}, "credentials_mode"),
        ("[mqtt]\nreceipt_interval_s = -1\n", {}, r"\[mqtt\]: receipt_interval_s"),
        ("", {"DACS_MQTT_RECONNECT_MAX_S": "0.1"}, r"\[mqtt\]: reconnect_max_s"),
        (
            "[openadr]\nversion = '3.0'\n",
            {},
            r"\[openadr\]: openadr.version is '3.0'; use one of auto, 3.0.1, 3.1.0",
        ),
        ("", {"DACS_OPENADR_VERSION": "3.2.0"}, "openadr.version"),
        # A NUL through a TOML escape; a variable's bytes that are not UTF-8.
        ('[database]\nurl = "postgresql://x\\u0000"\n', {}, "control character"),
        ("", {"DACS_DATABASE_URL": "postgresql://x\udcff"}, "lone surrogate"),
    ],
)
def test_errors_name_the_setting(
    tmp_path: Path, text: str, environ: dict[str, str], message: str
) -> None:
    path = tmp_path / "aggregator.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_config(path, environ)
