"""The add-on's options file."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from dacs.connect import (
    ConnectOptions,
    LogLevel,
    OptionsError,
    load_options,
    parse_options,
)


def test_options_from_the_supervisor(tmp_path: Path) -> None:
    path = tmp_path / "options.json"
    path.write_text(
        json.dumps(
            {
                "aggregator_url": " https://aggregator.example/ ",
                "enrollment_code": "abcd-efgh-2345",
                "log_level": "debug",
                "unknown": "ignored",
            }
        )
    )
    assert load_options(path) == ConnectOptions(
        aggregator_url="https://aggregator.example",
        enrollment_code="ABCD-EFGH-2345",
        log_level=LogLevel.DEBUG,
    )
    assert LogLevel.DEBUG.logging_level == logging.DEBUG
    # Once enrolled, both may be left empty.
    assert (
        parse_options({"aggregator_url": None, "enrollment_code": ""})
        == ConnectOptions()
    )


@pytest.mark.parametrize(
    ("document", "match"),
    [
        ({"aggregator_url": "http://aggregator.example"}, "https://"),
        ({"aggregator_url": "https://"}, "no host name"),
        ({"aggregator_url": "https://a.example/?x=1"}, "must not contain"),
        ({"aggregator_url": 42}, "must be text"),
        ({"aggregator_url": "https://a\ud800.example"}, "lone surrogate"),
        ({"aggregator_url": "https://a.example\x00"}, "control character"),
        ({"enrollment_code": "ABCD-EFGH"}, "XXXX-XXXX-XXXX"),
        ({"enrollment_code": "ABCD-EFGH-23%5"}, "XXXX-XXXX-XXXX"),
        ({"enrollment_code": 1234}, "must be text"),
        ({"log_level": "loud"}, "debug, info, warning, error"),
    ],
)
def test_invalid_options_say_which_and_why(
    document: dict[str, object], match: str
) -> None:
    with pytest.raises(OptionsError, match=match):
        parse_options(document)


def test_unreadable_options_file(tmp_path: Path) -> None:
    with pytest.raises(OptionsError, match="does not exist"):
        load_options(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(OptionsError, match="not JSON"):
        load_options(tmp_path / "bad.json")
    (tmp_path / "list.json").write_text("[]")
    with pytest.raises(OptionsError, match="JSON object"):
        load_options(tmp_path / "list.json")
