"""Configuration: the aggregator's TOML file and DACS_* variables, the add-on's options.

``load_config`` must give an AggregatorConfig or ConfigError; the add-on's
``load_options`` a ConnectOptions or OptionsError. Files are written as
bytes (invalid UTF-8 included); TOML documents are mutations of the
shipped example, written back as TOML.
"""

from __future__ import annotations

from dataclasses import fields
import datetime as dt
import json
import math
from pathlib import Path
import tempfile
import tomllib
from typing import Any, get_type_hints

from hypothesis import given, strategies as st
import pytest

from dacs.aggregator.config import AggregatorConfig, ConfigError, load_config
from dacs.connect.errors import OptionsError
from dacs.connect.options import ConnectOptions, load_options

from .budget import budget
from .inputs import Raw, hostile_text, json_trees, mutations, payloads
from .properties import result_or_own_error

EXAMPLE = Path(__file__).parents[2] / "aggregator" / "aggregator.example.toml"
SEED = tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))
VARIABLES = sorted(
    f"DACS_{name}_{item.name}".upper()
    for name, section in get_type_hints(AggregatorConfig).items()
    for item in fields(section)
)


def _toml_value(value: Any) -> str:
    if isinstance(value, Raw):
        return value.text if value.text in ("nan", "inf") else json.dumps(value.text)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, dt.date | dt.datetime | dt.time):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return (
            "{"
            + ", ".join(
                f"{json.dumps(str(k))} = {_toml_value(v)}" for k, v in value.items()
            )
            + "}"
        )
    if value is None:
        return '""'
    return json.dumps(str(value))


def to_toml(document: Any) -> str:
    """A document of tables as TOML text (anything else as a top-level key)."""
    if not isinstance(document, dict):
        return f"value = {_toml_value(document)}\n"
    lines = []
    for name, table in document.items():
        if isinstance(table, dict):
            lines.append(f"[{json.dumps(str(name))}]")
            lines += [
                f"{json.dumps(str(k))} = {_toml_value(v)}" for k, v in table.items()
            ]
        else:
            lines.insert(0, f"{json.dumps(str(name))} = {_toml_value(table)}")
    return "\n".join(lines) + "\n"


def _loaded(text: bytes, environ: dict[str, str]) -> AggregatorConfig | None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "aggregator.toml"
        path.write_bytes(text)
        return result_or_own_error(lambda: load_config(path, environ), ConfigError)


toml_documents = st.one_of(
    mutations([SEED]).map(lambda d: to_toml(d).encode("utf-8", "surrogatepass")),
    st.sampled_from(
        [
            "[control]\ncycle_s = nan\n",
            "[mqtt]\nport = inf\n",
            "database = 5\n",
            'api = "x"\n',
            "[api]\nport = 99999999999999999999\n",
        ]
    ).map(str.encode),
    st.binary(max_size=200),
)
environments = st.dictionaries(
    st.sampled_from(VARIABLES),
    st.one_of(
        hostile_text,
        st.sampled_from(["nan", "inf", "-1", "1e999", "9" * 5000, "true", ""]),
    ).map(lambda t: t.replace("\x00", "")),
    max_size=3,
)


@budget()
@given(text=toml_documents, environ=environments)
def test_aggregator_config(text: bytes, environ: dict[str, str]) -> None:
    config = _loaded(text, environ)
    if config is not None:
        assert isinstance(config, AggregatorConfig)


@budget()
@given(
    options=payloads(
        [
            {
                "aggregator_url": "https://aggregator.example",
                "enrollment_code": "ABCD-EFGH-JKLM",
                "log_level": "info",
            }
        ]
    )
    | json_trees.map(lambda d: json.dumps(d, default=str).encode())
)
def test_addon_options(options: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "options.json"
        path.write_bytes(options)
        loaded = result_or_own_error(lambda: load_options(path), OptionsError)
    if loaded is not None:
        assert isinstance(loaded, ConnectOptions)


@pytest.mark.parametrize(
    "text",
    [
        b"[mqtt]\nport = inf\n",  # OverflowError
        b"[control]\ncycle_s = nan\n",  # accepted: a control loop that never ran
        b"database = 5\n",  # TypeError
        b'api = "ab"\n',  # ValueError from dict()
        b"\x8c\xea\x82\xab",  # UnicodeDecodeError
        b'[uftp]\ntime_zone = "' + b"x" * 5000 + b'"\n',  # OSError: file name too long
    ],
    ids=[
        "inf-port",
        "nan-cycle",
        "scalar-section",
        "text-section",
        "not-utf8",
        "long-zone",
    ],
)
def test_found_configuration_errors(text: bytes) -> None:
    """Each of these raised something other than ConfigError (or passed) before."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "aggregator.toml"
        path.write_bytes(text)
        with pytest.raises(ConfigError) as refused:
            load_config(path, {})
    assert len(str(refused.value)) <= 300


def test_a_long_variable_is_quoted_short() -> None:
    with pytest.raises(ConfigError) as refused:
        load_config(None, {"DACS_CONTROL_CYCLE_S": "x" * 100_000})
    assert len(str(refused.value)) <= 300


@pytest.mark.parametrize("text", [b"[" * 100_000, b"9" * 5000], ids=["deep", "digits"])
def test_found_options_errors(text: bytes) -> None:
    """RecursionError and the integer-conversion ValueError escaped load_options."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "options.json"
        path.write_bytes(text)
        with pytest.raises(OptionsError):
            load_options(path)
