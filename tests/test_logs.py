"""Log output: readable text or JSON lines with the fields operators filter on."""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys

import pytest

from dacs.logs import (
    LOG_FORMAT_ENV,
    JsonLogFormatter,
    LogFormat,
    configure_logging,
    log_format_from_env,
)


@pytest.fixture
def restore_logging() -> object:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield root
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)
    for name in ("pymodbus", "amqtt", "alembic"):
        logging.getLogger(name).setLevel(logging.NOTSET)


def test_json_lines_carry_extra_fields_and_exceptions(restore_logging: object) -> None:
    stream = io.StringIO()
    configure_logging(log_format=LogFormat.JSON, stream=stream)
    log = logging.getLogger("dacs.aggregator.service")
    log.info(
        "command sent to %s", "h-0001", extra={"home_id": "h-0001", "limit_w": 800}
    )
    try:
        _lose_the_broker()
    except RuntimeError:
        log.exception("publish failed", extra={"event_id": "ev-1"})
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["message"] == "command sent to h-0001"
    assert first["level"] == "info"
    assert first["logger"] == "dacs.aggregator.service"
    assert first["home_id"] == "h-0001"
    assert first["limit_w"] == 800
    assert first["ts"].endswith("+00:00")
    assert second["level"] == "error"
    assert second["event_id"] == "ev-1"
    assert "RuntimeError: broker gone" in second["exception"]


def _lose_the_broker() -> None:
    raise RuntimeError("broker gone")


def test_values_json_cannot_hold_are_written_as_text() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "m", None, None)
    record.where = {1, 2}  # a set has no JSON form
    assert json.loads(JsonLogFormatter().format(record))["where"] == "{1, 2}"


def test_chatty_libraries_are_quiet_unless_verbose(restore_logging: object) -> None:
    stream = io.StringIO()
    configure_logging(stream=stream)
    logging.getLogger("amqtt.broker").info("Listener bound")
    logging.getLogger("dacs.demo").info("homes started")
    assert "Listener bound" not in stream.getvalue()
    assert "dacs.demo: homes started" in stream.getvalue()
    configure_logging(verbose=True, stream=stream)
    logging.getLogger("amqtt.broker").debug("packet in")
    assert "packet in" in stream.getvalue()


def test_log_format_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(LOG_FORMAT_ENV, raising=False)
    assert log_format_from_env() is LogFormat.TEXT
    monkeypatch.setenv(LOG_FORMAT_ENV, " JSON ")
    assert log_format_from_env() is LogFormat.JSON
    monkeypatch.setenv(LOG_FORMAT_ENV, "xml")
    with pytest.raises(ValueError, match="DACS_LOG_FORMAT='xml' is not a log format"):
        log_format_from_env()


def test_the_command_writes_json_lines() -> None:
    # A subcommand that logs and exits at once: a broker ACL for a home that is not valid.
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "dacs",
            "--log-format",
            "json",
            "aggregator",
            "serve",
            "--config",
            "/nonexistent/aggregator.toml",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    lines = [
        json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")
    ]
    assert lines, result.stderr
    assert all({"ts", "level", "logger", "message"} <= line.keys() for line in lines)


def test_the_command_refuses_an_unknown_format_from_the_environment() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "dacs", "aggregator", "serve"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={"PATH": "/usr/bin:/bin", LOG_FORMAT_ENV: "xml"},
    )
    assert result.returncode == 2
    assert "is not a log format" in result.stderr
