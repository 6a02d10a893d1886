"""The protocol's JSON Schemas, shipped in ``schemas/`` and loaded once."""

from __future__ import annotations

from functools import cache
from importlib import resources
import json
from typing import Any

import jsonschema
from referencing import Registry, Resource

from .errors import ProtocolError

SCHEMA_BASE = "https://dacs-hw.org/schemas/home/v1/"
SCHEMA_NAMES = (
    "command",
    "cancel",
    "ack",
    "telemetry",
    "status",
    "preferences",
    "statement",
    "enrollment-request",
    "enrollment-response",
    "error",
)


@cache
def _documents() -> dict[str, dict[str, Any]]:
    folder = resources.files(__package__).joinpath("schemas")
    return {
        name: json.loads(folder.joinpath(f"{name}.json").read_text(encoding="utf-8"))
        for name in (*SCHEMA_NAMES, "common")
    }


@cache
def _registry() -> Registry[Any]:
    resources_by_id = [
        (document["$id"], Resource.from_contents(document))
        for document in _documents().values()
    ]
    return Registry().with_resources(resources_by_id)


@cache
def _validator(name: str) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(_documents()[name], registry=_registry())


def schema(name: str) -> dict[str, Any]:
    """The JSON Schema of one message type (e.g. ``"command"``)."""
    return _documents()[name]


def validate(document: Any, name: str) -> None:
    """Raise ProtocolError("malformed") when ``document`` breaks schema ``name``."""
    errors = sorted(_validator(name).iter_errors(document), key=lambda e: list(e.path))
    if errors:
        first = errors[0]
        where = "/".join(str(p) for p in first.path) or "(message)"
        raise ProtocolError("malformed", f"{name}: {where}: {first.message}")
