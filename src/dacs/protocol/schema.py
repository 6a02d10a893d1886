"""The protocol's JSON Schemas, shipped in ``schemas/`` and loaded once.

Every document is checked twice over, cheaply: a compiled validator
(jsonschema-rs, about 1 us per telemetry message) answers valid or not, and
only a document it refuses goes to the reference validator (``jsonschema``,
about 100 us), which words the error and has the last say. The reference
validator deciding every refusal keeps the accepted set exactly what it was
with ``jsonschema`` alone, where the two read a schema differently (Python's
``$`` also matches before a final newline; ``NaN`` passes ``minimum``).
"""

from __future__ import annotations

from functools import cache
from importlib import resources
import json
from typing import Any

import jsonschema
import jsonschema_rs
from referencing import Registry, Resource

from .errors import ProtocolError

SCHEMA_BASE = "https://dacs-hw.org/schemas/home/v1/"
SCHEMA_NAMES = (
    "command",
    "cancel",
    "broker_move",
    "ack",
    "telemetry",
    "status",
    "preferences",
    "statement",
    "receipt",
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


def _inlined(name: str) -> dict[str, Any]:
    inlined: dict[str, Any] = _inline(
        _documents()[name], _documents()["common"]["$defs"]
    )
    return inlined


@cache
def _validator(name: str) -> jsonschema.Draft202012Validator:
    """The reference validator: slow, words the errors, decides every refusal."""
    # The registry stays as a fallback for any reference not into common.json.
    return jsonschema.Draft202012Validator(_inlined(name), registry=_registry())


@cache
def _fast_validator(name: str) -> jsonschema_rs.Validator:
    """The compiled validator that answers the common case: a valid document."""
    registry = jsonschema_rs.Registry(
        [(document["$id"], document) for document in _documents().values()]
    )
    # offline: every reference is in the registry; never fetch over a network.
    return jsonschema_rs.Draft202012Validator(
        _inlined(name), registry=registry, validate_formats=False, offline=True
    )


def schema(name: str) -> dict[str, Any]:
    """The JSON Schema of one message type (e.g. ``"command"``)."""
    return _documents()[name]


def preload() -> None:
    """Read every schema file and build every validator now.

    Schemas are otherwise read on first use; a caller inside an event loop
    (Home Assistant) calls this from an executor so that first use does no
    file I/O.
    """
    for name in SCHEMA_NAMES:
        _fast_validator(name)
        _validator(name)


def validate(document: Any, name: str) -> None:
    """Raise ProtocolError("malformed") when ``document`` breaks schema ``name``.

    ``document`` is JSON data: dicts, lists, strings, numbers, booleans and
    None, as ``json.loads`` returns them.
    """
    try:
        valid = _fast_validator(name).is_valid(document)
    except ValueError:
        # A value jsonschema-rs cannot read (a non-string key, say): the
        # reference validator decides alone.
        valid = False
    if not valid:
        explain(document, name)


def explain(document: Any, name: str) -> None:
    """Validate with the reference validator only; raise on its first error.

    ``validate`` does this for every document the fast validator refuses;
    tests use it to hold the two to the same verdicts.
    """
    errors = sorted(_validator(name).iter_errors(document), key=lambda e: list(e.path))
    if errors:
        first = errors[0]
        where = "/".join(str(p) for p in first.path) or "(message)"
        raise ProtocolError("malformed", f"{name}: {where}: {first.message}")
