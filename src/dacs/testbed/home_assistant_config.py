"""What the Home Assistant harness writes before Home Assistant starts.

configuration.yaml and the ``.storage`` documents Home Assistant would
otherwise write itself after questions in the frontend.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
import json
from typing import Any

from homeassistant.components.http.config import (
    HTTP_STORAGE_SCHEMA,
    STORAGE_KEY as HTTP_STORAGE_KEY,
    STORAGE_MINOR_VERSION as HTTP_STORAGE_MINOR_VERSION,
    STORAGE_VERSION as HTTP_STORAGE_VERSION,
)

from .servers.ports import LOOPBACK

CORE_YAML = """\
homeassistant:
  name: DACS-HW demo
  latitude: 52.1009
  longitude: 5.1762
  elevation: 2
  unit_system: metric
  time_zone: Europe/Amsterdam
  currency: EUR
  country: NL
  language: en

"""
HTTP_YAML = """\
http:
  server_host: 127.0.0.1
  server_port: {port}

"""
INTEGRATIONS_YAML = """\
# What a resident clicks through, and nothing that calls out to the internet
# (default_config would add cloud, zeroconf, weather and more).
frontend:
config:
history:
logbook:
energy:

logger:
  default: warning
  logs:
    custom_components.dacs_hw: info
    dacs: info
"""
# A configuration.yaml with everything in YAML (the release test's). The
# harness keeps http out of YAML and writes it to .storage instead: since
# 2026.10 Home Assistant moves a YAML http section into storage as a trial
# that the frontend asks to confirm, and undoes it after five minutes.
CONFIGURATION_YAML = CORE_YAML + HTTP_YAML + INTEGRATIONS_YAML
# The top-level keys above: the integrations configuration.yaml sets up.
CONFIGURED = (
    "homeassistant",
    "http",
    "frontend",
    "config",
    "history",
    "logbook",
    "energy",
    "logger",
)


def storage_document(
    key: str, version: int, data: Mapping[str, Any], minor: int = 1
) -> str:
    """A ``.storage`` file as Home Assistant writes it."""
    return json.dumps(
        {"version": version, "minor_version": minor, "key": key, "data": data},
        indent=2,
        default=str,
    )


def http_storage(port: int) -> str:
    """The http store with 127.0.0.1:``port`` as the confirmed (stable) config."""
    stable = HTTP_STORAGE_SCHEMA({"server_host": [LOOPBACK], "server_port": port})
    return storage_document(
        HTTP_STORAGE_KEY,
        HTTP_STORAGE_VERSION,
        {
            "stable": {
                **stable,
                "created_at": datetime.now(UTC).isoformat(),
                "error": None,
                "error_message": None,
            },
            "pending": None,
            # Nothing in YAML to migrate: storage is the source of truth.
            "yaml_migration_done": True,
        },
        HTTP_STORAGE_MINOR_VERSION,
    )
