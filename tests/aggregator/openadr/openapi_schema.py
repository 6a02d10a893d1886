"""The official OpenADR 3 OpenAPI files (tests/data/openadr3) as JSON Schema validators.

OpenAPI 3.0 schemas are JSON Schema with two differences that matter here:
``nullable: true`` (JSON Schema spells it as a "null" type) and no way to
forbid unknown properties across ``allOf``. The conversion turns the first
into ``null`` alternatives; in strict mode it merges each ``allOf`` into one
object schema and closes every object schema (``additionalProperties:
false``), so a field the schema does not name is an error too.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache
from pathlib import Path
import re
from typing import Any

import jsonschema
import yaml

SPEC_DIR = Path(__file__).resolve().parents[2] / "data" / "openadr3"
VERSIONS = ("3.0.1", "3.1.0")


def _merged(node: dict[str, Any], components: dict[str, Any]) -> dict[str, Any]:
    """An ``allOf`` of object schemas as one object schema, so it can be closed."""
    out = {k: v for k, v in node.items() if k != "allOf"}
    properties: dict[str, Any] = dict(out.get("properties", {}))
    required: list[str] = list(out.get("required", []))
    for listed in node["allOf"]:
        part = listed
        if "$ref" in part:
            part = components[part["$ref"].rsplit("/", 1)[1]]
        if "allOf" in part:
            part = _merged(part, components)
        for name, schema in part.get("properties", {}).items():
            # The first part defines a property both name: 3.1.0's ven and
            # resource join objectMetadata (objectType VEN/RESOURCE) with a
            # request whose objectType is BL_VEN_REQUEST/BL_RESOURCE_REQUEST,
            # which no object could satisfy at once; the metadata is what a
            # VTN stores, so it wins.
            properties.setdefault(name, schema)
        required += [r for r in part.get("required", []) if r not in required]
    return out | {"type": "object", "properties": properties, "required": required}


def _convert(node: Any, components: dict[str, Any], *, strict: bool) -> Any:
    if isinstance(node, list):
        return [_convert(item, components, strict=strict) for item in node]
    if not isinstance(node, dict):
        return node
    if strict and "allOf" in node:
        node = _merged(node, components)
    out = {
        key: _convert(value, components, strict=strict)
        for key, value in node.items()
        # examples and defaults are documentation (YAML reads some as datetimes)
        if key not in ("nullable", "discriminator", "example", "default")
    }
    if out.get("exclusiveMaximum") is True:  # OpenAPI 3.0's boolean form
        out["exclusiveMaximum"] = out.pop("maximum")
    if strict and "properties" in out:
        out.setdefault("additionalProperties", False)
    if node.get("nullable") is True:
        if "enum" in out:
            out["enum"] = [*out["enum"], None]
        return {"anyOf": [out, {"type": "null"}]}
    return out


@cache
def _document(version: str) -> dict[str, Any]:
    text = (SPEC_DIR / version / "openadr3.yaml").read_text(encoding="utf-8")
    loaded: dict[str, Any] = yaml.safe_load(text)
    return loaded


@cache
def _validator(
    version: str, ref: str, *, strict: bool
) -> jsonschema.Draft202012Validator:
    document = _document(version)
    schema = {
        "$ref": ref,
        "components": _convert(
            document["components"], document["components"]["schemas"], strict=strict
        ),
    }
    return jsonschema.Draft202012Validator(schema)


def _operation(version: str, method: str, path: str) -> dict[str, Any]:
    for template, item in _document(version)["paths"].items():
        pattern = "^" + re.sub(r"\{[^/]+\}", "[^/]+", template) + "$"
        if re.match(pattern, path) and method.lower() in item:
            operation: dict[str, Any] = item[method.lower()]
            return operation
    raise KeyError(f"OpenADR {version} has no {method} {path}")


def request_schema(version: str, method: str, path: str) -> str:
    """The $ref of the JSON request body of an operation."""
    operation = _operation(version, method, path)
    ref: str = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    return ref


def response_schema(version: str, method: str, path: str, status: int) -> str:
    """The $ref (or array item $ref, marked ``[]``) of a JSON answer."""
    operation = _operation(version, method, path)
    response = operation["responses"][str(status)]
    if "$ref" in response:  # 3.1.0 names shared answers in components/responses
        name = response["$ref"].rsplit("/", 1)[1]
        response = _document(version)["components"]["responses"][name]
    schema = response["content"]["application/json"]["schema"]
    if schema.get("type") == "array":
        return "[]" + str(schema["items"]["$ref"])
    return str(schema["$ref"])


def problems(
    version: str, ref: str, body: Any, *, strict: bool = True
) -> Iterator[str]:
    """Each way ``body`` breaks the schema ``ref`` of that OpenADR version."""
    items = body if ref.startswith("[]") else [body]
    validator = _validator(version, ref.removeprefix("[]"), strict=strict)
    for item in items:
        for error in validator.iter_errors(item):
            where = ".".join(str(p) for p in error.absolute_path) or "."
            yield f"{where}: {error.message}"


def request_problems(
    version: str, method: str, path: str, body: Any, *, strict: bool = True
) -> list[str]:
    """How a request body breaks the operation's schema (empty: it conforms)."""
    return list(
        problems(version, request_schema(version, method, path), body, strict=strict)
    )
