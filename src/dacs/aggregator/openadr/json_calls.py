"""One JSON call to the VTN: GET or POST, the answer checked, timestamps read as UTC.

Blocking (the client runs them off the event loop); an optional endpoint
that answers 404/405/501 raises VtnCapabilityError rather than failing the
poll.
"""

from __future__ import annotations

from collections.abc import Callable
import logging
from typing import Any

from openadr3_client._models.common.creation_guarded import CreationGuarded
from pydantic import BaseModel
import requests

from dacs.text import find_forbidden

from .connection import NOT_OFFERED
from .errors import VtnCapabilityError, VtnResponseError
from .monitoring import OnceWarnings, OpenAdrCounters
from .timestamps import assume_utc

_LOGGER = logging.getLogger(__name__)


class JsonCalls:
    """GET and POST JSON through one of the library's authorised interfaces."""

    def __init__(self, counters: OpenAdrCounters, warnings: OnceWarnings) -> None:
        """Count zone-less timestamps in ``counters``; warn once through ``warnings``."""
        self._counters = counters
        self._warnings = warnings

    def read(
        self,
        interface: Any,
        path: str,
        params: dict[str, Any] | None = None,
        *,
        capability: str | None = None,
        text_checked_per_item: bool = False,
    ) -> Any:
        """GET ``path`` as JSON, zone-less timestamps read as UTC.

        With ``capability``, an answer of 404/405/501 means the VTN does not
        offer that optional part: VtnCapabilityError, not a failed poll.
        With ``text_checked_per_item`` the caller refuses each item whose text
        holds a forbidden character (see ``answer``) on its own.
        """
        response = interface.session.get(f"{interface.base_url}/{path}", params=params)
        return self.answer(
            response, capability, text_checked_per_item=text_checked_per_item
        )

    def answer(
        self,
        response: requests.Response,
        capability: str | None,
        *,
        text_checked_per_item: bool = False,
    ) -> Any:
        """The answer's JSON; VtnCapabilityError for a missing ``capability``.

        A string holding a control character other than a line break or tab,
        or a lone surrogate, refuses the answer (VtnResponseError).
        """
        if capability is not None and response.status_code in NOT_OFFERED:
            raise VtnCapabilityError(
                capability,
                f"{capability} not offered by this VTN (it answered "
                f"{response.status_code} to {response.request.method} {response.url})",
            )
        response.raise_for_status()
        body, naive = assume_utc(response.json())
        # Text the VTN sends ends up in logs, the ledger and the API: a NUL
        # or a lone surrogate would fail there, far from its cause.
        found = None if text_checked_per_item else find_forbidden(body, lines=True)
        if found is not None:
            raise VtnResponseError(
                f"{response.request.method} {response.url}: the answer's"
                f" {found[0]} holds {found[1]}"
            )
        if naive:
            self._counters.naive_timestamps += naive
            self._warnings.warn(
                _LOGGER,
                "naive-timestamps",
                "the VTN sends timestamps without a time zone (first in %s); "
                "reading them as UTC (counted in naive_timestamps)",
                response.url,
            )
        return body

    def read_list[T: BaseModel](
        self,
        interface: Any,
        path: str,
        model: type[T],
        params: dict[str, Any] | None = None,
        *,
        capability: str | None = None,
        shape: Callable[[Any], Any] = lambda item: item,
    ) -> tuple[T, ...]:
        """GET a list; ``shape`` puts each item in 3.1.0's shape before parsing."""
        items = self.read(interface, path, params, capability=capability)
        if not isinstance(items, list):
            raise TypeError(f"the {path} answer is not a JSON list")
        return tuple(model.model_validate(shape(item)) for item in items)

    def create[T: BaseModel](
        self,
        interface: Any,
        path: str,
        new: CreationGuarded,
        answer: type[T],
        *,
        body: Callable[[dict[str, Any]], dict[str, Any]],
        shape: Callable[[Any], Any],
        capability: str | None = None,
    ) -> T:
        """POST ``new`` in the VTN's version (``body``); its answer in 3.1.0's (``shape``)."""
        with new.with_creation_guard():
            response = interface.session.post(
                f"{interface.base_url}/{path}", json=body(strict_body(new))
            )
            return answer.model_validate(shape(self.answer(response, capability)))


def strict_body(model: BaseModel) -> dict[str, Any]:
    """A new object as OpenADR 3 JSON: camelCase names, absent fields left out.

    The library would send every absent optional field as JSON null, which
    the OpenADR 3 schema forbids for most (``intervalPeriod``, ``targets``
    of a report's interval ...): absent stays absent.
    """
    body: dict[str, Any] = model.model_dump(
        by_alias=True, mode="json", exclude_none=True
    )
    return body
