"""Logging for the ``dacs`` command: readable text, or one JSON object per line.

JSON lines are for log collectors (Loki, Elasticsearch, journald with a
parser): every record carries its time, level, logger and message, plus any
fields passed with ``extra=`` (``home_id``, ``event_id``, ...), so operators
can filter by home or event without parsing sentences.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
import json
import logging
import os
import sys
from typing import Any, TextIO

# Libraries that narrate routine work at INFO (connections, plugin loading,
# state-machine transitions); shown only with --verbose.
CHATTY_LIBRARIES = (
    "pymodbus",
    "alembic",
    "amqtt",
    "transitions",
    "aiosqlite",
    "uvicorn",
    "uvicorn.access",
    "urllib3",
    "shapeshifter-uftp",
    "shapeshifter_uftp",
    "openadr3_client",
)

LOG_FORMAT_ENV = "DACS_LOG_FORMAT"

# Attributes every LogRecord has; anything else on a record came from ``extra=``.
_RECORD_ATTRIBUTES = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys()
) | {"message", "asctime", "taskName"}


class LogFormat(StrEnum):
    """How log records are written."""

    TEXT = "text"
    JSON = "json"


class JsonLogFormatter(logging.Formatter):
    """Format each record as one JSON object on one line."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as a JSON line; values JSON cannot hold are written as text."""
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _RECORD_ATTRIBUTES and key not in entry:
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


def log_format_from_env(default: LogFormat = LogFormat.TEXT) -> LogFormat:
    """The format named by ``DACS_LOG_FORMAT``; an unknown name is an error."""
    value = os.environ.get(LOG_FORMAT_ENV, "").strip().lower()
    if not value:
        return default
    try:
        return LogFormat(value)
    except ValueError:
        choices = ", ".join(f.value for f in LogFormat)
        raise ValueError(
            f"{LOG_FORMAT_ENV}={value!r} is not a log format (choose {choices})"
        ) from None


def configure_logging(
    *,
    verbose: bool = False,
    log_format: LogFormat = LogFormat.TEXT,
    stream: TextIO | None = None,
) -> None:
    """Send records to ``stream`` (stderr) in the chosen format, replacing other handlers."""
    handler = logging.StreamHandler(stream or sys.stderr)
    if log_format is LogFormat.JSON:
        handler.setFormatter(JsonLogFormatter())
    else:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
        )
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    for name in CHATTY_LIBRARIES:
        logging.getLogger(name).setLevel(logging.NOTSET if verbose else logging.WARNING)


def tame_library_logger(name: str) -> None:
    """Undo a library's own logging setup, so the application's settings apply.

    shapeshifter-uftp adds a handler and sets DEBUG on import, and uvicorn
    installs its own handlers when a server is configured; both would print
    every signed message. Their records then go through the root logger, at
    WARNING unless the application logs at DEBUG.
    """
    logger = logging.getLogger(name)
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
    logger.propagate = True
    verbose = logging.getLogger().getEffectiveLevel() <= logging.DEBUG
    logger.setLevel(logging.NOTSET if verbose else logging.WARNING)
