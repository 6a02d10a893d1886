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


_COMMON_REF = "common.json#/$defs/"


def _inline(node: Any, definitions: dict[str, Any]) -> Any:
    """Replace references into common.json by the definitions themselves.

    Resolving a ``$ref`` through the registry costs more than the rest of the
    validation together (URL joins and JSON pointers on every message).
    """
    if isinstance(node, dict):
        reference = node.get("$ref")
        if (
            isinstance(reference, str)
            and reference.startswith(_COMMON_REF)
            and len(node) == 1
        ):
            return _inline(
                definitions[reference.removeprefix(_COMMON_REF)], definitions
            )
        return {key: _inline(value, definitions) for key, value in node.items()}
    if isinstance(node, list):
        return [_inline(item, definitions) for item in node]
    return node


@cache
def _registry() -> Registry[Any]:
    resources_by_id = [
        (document["$id"], Resource.from_contents(document))
        for document in _documents().values()
    ]
    return Registry().with_resources(resources_by_id)


@cache
def _validator(name: str) -> jsonschema.Draft202012Validator:
    inlined = _inline(_documents()[name], _documents()["common"]["$defs"])
    # The registry stays as a fallback for any reference not into common.json.
    return jsonschema.Draft202012Validator(inlined, registry=_registry())


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
