"""Hostile inputs for every decoder: JSON-like trees, literals Python's json reads, bytes.

``Raw`` stands for a literal that ``json.dumps`` would never write (``NaN``,
``1e999``, an integer of 5,000 digits); ``to_json`` writes a tree with such
literals in it. ``mutations`` takes a valid document and breaks one part of
it (replaces a value, drops or adds a key), so the decoder gets past its
first checks and meets the bad value where it reads it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
import json
import math
from typing import Any

from hypothesis import strategies as st


@dataclass(frozen=True)
class Raw:
    """A JSON literal written as is."""

    text: str


HOSTILE_LITERALS = (
    "NaN",
    "-NaN",
    "Infinity",
    "-Infinity",
    "1e999",
    "-1e999",
    "1e308",
    "-0",
    "1" + "0" * 400,  # 10**400
    "9" * 5000,  # beyond Python's integer-conversion limit
    "0." + "0" * 5000 + "1",
    "1" * 25 + ".5",
)
CONTROL_CHARACTERS = "\x00\x01\x07\x08\x0b\x0c\x1b\x7f\x85\u2028\u2029\ufeff"

MAX_MESSAGE_CHARS = 300
"""The longest error message a refusal may carry: a value is never echoed whole."""

hostile_numbers = st.one_of(
    st.sampled_from(HOSTILE_LITERALS).map(Raw),
    st.integers(),
    st.integers(min_value=2**63 - 2, max_value=2**64 + 2),
    st.integers(min_value=10**300, max_value=10**400),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, -1, 1e-320, 1.7976931348623157e308, 10**20, -(10**20)]),
)
hostile_text = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=st.sampled_from(CONTROL_CHARACTERS + "ab"), max_size=12),
    st.sampled_from(["", " ", "null", "0", "true", "\ud800", "h-0001\x00"]),
    st.integers(min_value=1_000, max_value=200_000).map(lambda n: "x" * n),
    st.characters(codec="utf-8").map(lambda c: c * 70_000),
)
hostile_scalars = st.one_of(st.none(), st.booleans(), hostile_numbers, hostile_text)


def _containers(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.lists(children, max_size=5),
        st.dictionaries(
            hostile_text | st.sampled_from(["v", "type", "id"]), children, max_size=5
        ),
    )


json_trees = st.recursive(hostile_scalars, _containers, max_leaves=20)
"""Any JSON-like value: scalars, lists and objects, with hostile leaves."""


def deeply_nested(depth: int, *, objects: bool) -> str:
    """``depth`` levels of arrays or objects around one number."""
    if objects:
        return '{"a":' * depth + "1" + "}" * depth
    return "[" * depth + "1" + "]" * depth


nesting = st.builds(
    deeply_nested,
    st.sampled_from([100, 1_000, 10_000, 100_000]),
    objects=st.booleans(),
)
"""JSON text nested far past any real message (and past Python's recursion limit)."""


def to_json(value: Any) -> str:
    """A tree as JSON text, ``Raw`` literals as they are and every other float exact."""
    if isinstance(value, Raw):
        return value.text
    if isinstance(value, dict):
        items = (f"{json.dumps(str(k))}:{to_json(v)}" for k, v in value.items())
        return "{" + ",".join(items) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(to_json(v) for v in value) + "]"
    if isinstance(value, float) and math.isnan(value):
        return "NaN"
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 10**4000:
        return str(value)[:4000]
    return json.dumps(value)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*prefix, index))
    return found


def _replaced(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    head, *rest = path
    if isinstance(value, dict):
        return {**value, head: _replaced(value[head], tuple(rest), new)}
    copy = list(value)
    copy[head] = _replaced(value[head], tuple(rest), new)
    return copy


def _dropped(value: Any, path: tuple[Any, ...]) -> Any:
    *parents, last = path
    container = value
    for step in parents:
        container = container[step]
    if isinstance(container, dict):
        smaller = {k: v for k, v in container.items() if k != last}
    else:
        smaller = [v for i, v in enumerate(container) if i != last]
    return _replaced(value, tuple(parents), smaller)


@st.composite
def mutations(draw: st.DrawFn, seeds: Sequence[Any]) -> Any:
    """A valid document with one to three parts broken."""
    document = draw(st.sampled_from(seeds))
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        paths = _paths(document)
        path = draw(st.sampled_from(paths))
        action = draw(st.sampled_from(["replace", "replace", "drop", "add"]))
        if action == "drop" and path:
            document = _dropped(document, path)
        elif action == "add":
            extra = {draw(hostile_text): draw(json_trees)}
            target = document
            for step in path:
                target = target[step]
            if isinstance(target, dict):
                document = _replaced(document, path, {**target, **extra})
        else:
            document = _replaced(document, path, draw(json_trees))
    return document


def _byte_mutation(data: st.DrawFn, payload: bytes) -> bytes:
    position = data(st.integers(min_value=0, max_value=max(len(payload) - 1, 0)))
    how = data(st.sampled_from(["cut", "flip", "insert"]))
    if how == "cut":
        return payload[:position]
    if how == "flip":
        return (
            payload[:position]
            + data(st.binary(min_size=1, max_size=4))
            + payload[position + 1 :]
        )
    return (
        payload[:position]
        + data(st.sampled_from([b"\xff", b"\xc3", b"\x00", b"\xed\xa0\x80"]))
        + payload[position:]
    )


def payloads(seeds: Sequence[Any]) -> st.SearchStrategy[bytes]:
    """Bytes a peer may send in place of one of ``seeds`` (JSON documents)."""

    @st.composite
    def byte_mutations(draw: st.DrawFn) -> bytes:
        return _byte_mutation(draw, to_json(draw(st.sampled_from(seeds))).encode())

    return st.one_of(
        mutations(seeds).map(lambda d: to_json(d).encode("utf-8", "surrogatepass")),
        mutations(seeds).map(lambda d: to_json(d).encode("utf-8", "surrogatepass")),
        json_trees.map(lambda d: to_json(d).encode("utf-8", "surrogatepass")),
        byte_mutations(),
        nesting.map(str.encode),
        st.binary(max_size=200),
    )
