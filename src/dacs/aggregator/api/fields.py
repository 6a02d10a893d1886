"""The rules for the fields of the API's request bodies, as pydantic metadata.

Each rule is one check and the JSON Schema that describes it, both from the
same parameters, so the OpenAPI document and what the handlers accept cannot
drift apart. A refusal names the field and says what it must be; the words
are the API's own (they predate the models), and a field that is absent is
refused as if it were ``null``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
import math
import re
from typing import Any

from pydantic import GetCoreSchemaHandler, ValidationInfo
from pydantic_core import CoreSchema, PydanticCustomError, core_schema

from dacs.text import forbidden_character

IDENTIFIER = r"^[A-Za-z0-9._-]{1,64}$"
"""Ids of congestion points and events: what is safe in a URL and a topic."""

_IDENTIFIER = re.compile(IDENTIFIER)
_TEXT_LENGTH = 200


def refusal(message: str) -> PydanticCustomError:
    """A field's refusal; its message is what the API answers."""
    return PydanticCustomError("malformed", "{message}", {"message": message})


def _key(info: ValidationInfo) -> str:
    return repr(info.field_name)


class _Rule:
    """A field read by :meth:`check` and described by :meth:`described`."""

    __slots__ = ()

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        """Pydantic's hook: validate with the check, document with the description."""
        return core_schema.with_info_plain_validator_function(
            self.check, json_schema_input_schema=self.described()
        )

    def described(self) -> CoreSchema:
        """What the field accepts, as the schema the JSON Schema is made from."""
        raise NotImplementedError

    def check(self, value: Any, info: ValidationInfo) -> Any:
        """The value as the handler uses it, or a refusal that names the field."""
        raise NotImplementedError


@dataclass(frozen=True, slots=True)
class Number(_Rule):
    """A finite JSON number (not a boolean) >= ``minimum``, and <= ``maximum`` if set."""

    minimum: float = 0.0
    maximum: float | None = None
    above_maximum: str = ""  # the refusal when it is above the maximum

    def described(self) -> CoreSchema:
        """A number with its bounds."""
        return core_schema.float_schema(ge=self.minimum, le=self.maximum)

    def check(self, value: Any, info: ValidationInfo) -> float:
        """The number as a float, or a refusal that names the field."""
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not _finite(value)
            or value < self.minimum
        ):
            raise refusal(f"{_key(info)} must be a number >= {self.minimum:g}")
        if self.maximum is not None and value > self.maximum:
            raise refusal(self.above_maximum)
        return float(value)


@dataclass(frozen=True, slots=True)
class Numbers(_Rule):
    """A list of ``min_items`` to ``max_items`` JSON numbers in ``minimum``..``maximum``."""

    min_items: int
    max_items: int
    minimum: float = 0.0
    maximum: float | None = None

    def described(self) -> CoreSchema:
        """An array of bounded numbers."""
        return core_schema.list_schema(
            core_schema.float_schema(ge=self.minimum, le=self.maximum),
            min_length=self.min_items,
            max_length=self.max_items,
        )

    def check(self, value: Any, info: ValidationInfo) -> tuple[int | float, ...]:
        """The numbers as sent (converted where they are used), or a refusal."""
        if (
            not isinstance(value, list)
            or not self.min_items <= len(value) <= self.max_items
            or not all(
                isinstance(item, int | float)
                and not isinstance(item, bool)
                and _finite(item)
                and item >= self.minimum
                and (self.maximum is None or item <= self.maximum)
                for item in value
            )
        ):
            upper = "" if self.maximum is None else f" and <= {self.maximum:g}"
            raise refusal(
                f"{_key(info)} must be a list of {self.min_items} to"
                f" {self.max_items} numbers >= {self.minimum:g}{upper}"
            )
        return tuple(value)


@dataclass(frozen=True, slots=True)
class Items:
    """A list of ``min_items`` to ``max_items`` objects, each read by its own model."""

    min_items: int
    max_items: int
    what: str  # the items' name in the refusal, e.g. "intervals"

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        """Check the list's length first, then each item with its model."""
        return core_schema.with_info_before_validator_function(
            self.check,
            core_schema.tuple_variable_schema(
                handler.generate_schema(_item_type(source)),
                min_length=self.min_items,
                max_length=self.max_items,
            ),
        )

    def check(self, value: Any, info: ValidationInfo) -> Any:
        """The list, if it has the right length; its items are read next."""
        if not isinstance(value, list) or not (
            self.min_items <= len(value) <= self.max_items
        ):
            raise refusal(
                f"{_key(info)} must be a list of {self.min_items} to"
                f" {self.max_items} {self.what}"
            )
        return value


def _item_type(source: Any) -> Any:
    """``X`` from ``tuple[X, ...]``."""
    return source.__args__[0]


@dataclass(frozen=True, slots=True)
class Text(_Rule):
    """A non-empty text of at most 200 characters, optionally of an id's characters.

    With ``optional``, ``null`` (or an absent field) reads as ``None``.
    """

    identifier: bool = False
    optional: bool = False

    def described(self) -> CoreSchema:
        """A bounded string, or null when optional."""
        text = core_schema.str_schema(
            min_length=1,
            max_length=_TEXT_LENGTH,
            pattern=IDENTIFIER if self.identifier else None,
        )
        return core_schema.nullable_schema(text) if self.optional else text

    def check(self, value: Any, info: ValidationInfo) -> str | None:
        """The text, or a refusal that names the field."""
        if value is None and self.optional:
            return None
        if not isinstance(value, str) or not value or len(value) > _TEXT_LENGTH:
            raise refusal(
                f"{_key(info)} must be a non-empty text of at most"
                f" {_TEXT_LENGTH} characters"
            )
        if self.identifier and not _IDENTIFIER.fullmatch(value):
            raise refusal(_identifier_refusal(info))
        what = forbidden_character(value)
        if what is not None:
            raise refusal(f"{_key(info)} holds {what}")
        return value


@dataclass(frozen=True, slots=True)
class OptionalIdentifier(_Rule):
    """An id the client may leave out: ``null``, ``""`` (any false value) is none."""

    def described(self) -> CoreSchema:
        """An id or null."""
        return core_schema.nullable_schema(core_schema.str_schema(pattern=IDENTIFIER))

    def check(self, value: Any, info: ValidationInfo) -> str | None:
        """The id, None for none, or a refusal that names the field."""
        if not value:
            return None
        if not isinstance(value, str) or not _IDENTIFIER.fullmatch(value):
            raise refusal(_identifier_refusal(info))
        return value


def _identifier_refusal(info: ValidationInfo) -> str:
    return f"{_key(info)} may contain only letters, digits, '.', '_' and '-'"


@dataclass(frozen=True, slots=True)
class Moment(_Rule):
    """An RFC 3339 time with a time zone; read in UTC."""

    def described(self) -> CoreSchema:
        """A date-time string."""
        return core_schema.datetime_schema()

    def check(self, value: Any, info: ValidationInfo) -> datetime:
        """The time in UTC, or a refusal that names the field."""
        try:
            moment = (
                datetime.fromisoformat(value)
                if isinstance(value, str) and "T" in value
                else None
            )
        except ValueError:
            moment = None
        if moment is None or moment.tzinfo is None:
            raise refusal(f"{_key(info)} must be an RFC 3339 time with a time zone")
        return moment.astimezone(UTC)


def _finite(value: float) -> bool:
    """True for a number a float can hold: not NaN, not infinite, not a 400-digit int."""
    try:
        return math.isfinite(value)
    except OverflowError:
        return False
