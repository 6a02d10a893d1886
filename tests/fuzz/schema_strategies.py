"""Hypothesis strategies from JSON Schemas (the subset the OpenAPI document uses).

What schemathesis and hypothesis-jsonschema do, small: ``$ref`` into the
document's components, ``oneOf``/``anyOf``, ``enum``/``const``, types with
their bounds, ``pattern`` and ``format: date-time``, arrays and objects.
Values satisfy the schema; the fuzz tests break them afterwards.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hypothesis import strategies as st

_MAX_ITEMS = 5
_MOMENTS = st.datetimes(
    min_value=datetime(2020, 1, 1),  # noqa: DTZ001 - hypothesis adds the zone
    max_value=datetime(2035, 1, 1),  # noqa: DTZ001
    timezones=st.just(UTC),
)


def from_schema(
    schema: dict[str, Any], document: dict[str, Any]
) -> st.SearchStrategy[Any]:
    """Values valid under ``schema``; ``$ref`` resolved in ``document``."""
    if "$ref" in schema:
        return st.deferred(
            lambda: from_schema(_resolve(schema["$ref"], document), document)
        )
    if "const" in schema:
        return st.just(schema["const"])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    for combinator in ("oneOf", "anyOf"):
        if combinator in schema:
            return st.one_of(
                [from_schema(option, document) for option in schema[combinator]]
            )
    kind = schema.get("type")
    if isinstance(kind, list):
        return st.one_of([from_schema({**schema, "type": k}, document) for k in kind])
    match kind:
        case "object" | None if "properties" in schema:
            return _object(schema, document)
        case "array":
            return st.lists(
                from_schema(schema.get("items", {}), document),
                min_size=schema.get("minItems", 0),
                max_size=min(
                    schema.get("maxItems", _MAX_ITEMS),
                    max(_MAX_ITEMS, schema.get("minItems", 0)),
                ),
            )
        case "string":
            return _string(schema)
        case "integer":
            return st.integers(schema.get("minimum"), schema.get("maximum"))
        case "number":
            return st.floats(
                schema.get("minimum"),
                schema.get("maximum"),
                allow_nan=False,
                allow_infinity=False,
            )
        case "boolean":
            return st.booleans()
        case "null":
            return st.none()
    return st.none() | st.booleans() | st.integers() | st.text(max_size=10)


def _resolve(reference: str, document: dict[str, Any]) -> dict[str, Any]:
    node: Any = document
    for part in reference.removeprefix("#/").split("/"):
        node = node[part]
    resolved: dict[str, Any] = node
    return resolved


def _string(schema: dict[str, Any]) -> st.SearchStrategy[str]:
    if schema.get("format") == "date-time":
        return _MOMENTS.map(lambda moment: moment.isoformat().replace("+00:00", "Z"))
    if "pattern" in schema:
        return st.from_regex(schema["pattern"], fullmatch=True).filter(
            lambda s: (
                schema.get("minLength", 0) <= len(s) <= schema.get("maxLength", 10**6)
            )
        )
    return st.text(
        min_size=schema.get("minLength", 0),
        max_size=min(schema.get("maxLength", 20), 20),
    )


@st.composite
def _object(
    draw: st.DrawFn, schema: dict[str, Any], document: dict[str, Any]
) -> dict[str, Any]:
    required = set(schema.get("required", ()))
    value = {}
    for name, child in schema.get("properties", {}).items():
        if name in required or draw(st.booleans()):
            value[name] = draw(from_schema(child, document))
    return value
