"""The add-on's options, as the Supervisor writes them to ``/data/options.json``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
import json
import logging
from pathlib import Path
import re
from typing import Any
from urllib.parse import urlsplit

from dacs.excerpt import bounded, quoted
from dacs.text import forbidden_character

from .errors import OptionsError

DEFAULT_OPTIONS_PATH = Path("/data/options.json")
# The same rule as the enrollment request's JSON Schema.
ENROLLMENT_CODE_PATTERN = re.compile(r"^[A-Z0-9]{4}(?:-[A-Z0-9]{4}){2}$")


class LogLevel(StrEnum):
    """How much the service logs."""

    DEBUG = "debug"
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"

    @property
    def logging_level(self) -> int:
        """The matching level of the ``logging`` module."""
        return logging.getLevelNamesMapping()[self.name]


@dataclass(frozen=True, kw_only=True)
class ConnectOptions:
    """What the resident configured.

    ``aggregator_url`` and ``enrollment_code`` are only needed to enroll;
    once enrolled, the add-on keeps working with both left empty.
    """

    aggregator_url: str | None = None
    enrollment_code: str | None = None
    log_level: LogLevel = LogLevel.INFO


def load_options(path: Path = DEFAULT_OPTIONS_PATH) -> ConnectOptions:
    """Read and validate the options file."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise OptionsError(f"options file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as err:
        raise OptionsError(f"cannot read options file {path}: {err}") from err
    except (ValueError, RecursionError) as err:
        # JSONDecodeError, a number of 5,000 digits, nesting past the stack.
        reason = str(err) if isinstance(err, ValueError) else "nested too deeply"
        raise OptionsError(
            bounded(f"options file {path} is not JSON: {reason}")
        ) from err
    if not isinstance(document, dict):
        raise OptionsError(f"options file {path} must hold a JSON object")
    return parse_options(document)


def parse_options(document: Mapping[str, Any]) -> ConnectOptions:
    """Validate options given as a mapping (unknown keys are ignored)."""
    return ConnectOptions(
        aggregator_url=parse_aggregator_url(document.get("aggregator_url")),
        enrollment_code=parse_enrollment_code(document.get("enrollment_code")),
        log_level=_log_level(document.get("log_level")),
    )


def parse_aggregator_url(value: Any) -> str | None:
    """An https base URL without trailing slash, or None when not set."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str):
        raise OptionsError(
            "aggregator_url must be text, e.g. https://aggregator.example"
        )
    url = value.strip().rstrip("/")
    what = forbidden_character(url)
    if what is not None:
        raise OptionsError(f"aggregator_url {quoted(url)} holds {what}")
    parts = urlsplit(url)
    if parts.scheme != "https":
        raise OptionsError(
            f"aggregator_url {quoted(url)} must start with https:// "
            "(enrollment sends credentials and needs an encrypted connection)"
        )
    if not parts.hostname:
        raise OptionsError(f"aggregator_url {quoted(url)} has no host name")
    if parts.query or parts.fragment:
        raise OptionsError(
            f"aggregator_url {quoted(url)} must not contain '?' or '#': give the base address"
        )
    return url


def parse_enrollment_code(value: Any) -> str | None:
    """The code in upper case, or None when not set."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise OptionsError("enrollment_code must be text of the form XXXX-XXXX-XXXX")
    code = value.strip().upper()
    if not code:
        return None
    if not ENROLLMENT_CODE_PATTERN.fullmatch(code):
        raise OptionsError(
            f"enrollment_code {quoted(value)} is not of the form XXXX-XXXX-XXXX "
            "(letters and digits, groups of four separated by '-')"
        )
    return code


def _log_level(value: Any) -> LogLevel:
    if value is None:
        return LogLevel.INFO
    try:
        return LogLevel(str(value).lower())
    except ValueError:
        choices = ", ".join(level.value for level in LogLevel)
        raise OptionsError(
            f"log_level {quoted(value)} is not one of {choices}"
        ) from None
