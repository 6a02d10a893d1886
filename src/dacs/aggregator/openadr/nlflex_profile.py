"""The NL-flex DER profile v1.0.0 (``nlflex10``) as a check that returns reasons.

The plugin is not registered in openadr3-client's global registry: there it
would make one non-compliant event fail the parsing of a whole event list (so
good events would be lost with it) and would also reject the plain OpenADR
capacity programs. Instead each object is checked here, one at a time, with
the plugin's own validators.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from openadr3_client._models.common.interval import Interval
from openadr3_client.oadr310.models.event.event import Event
from openadr3_client.oadr310.models.report.report import Report
from openadr3_client_nlflex_compliance.nlflex10 import (  # type: ignore[import-untyped]  # the plugin ships no py.typed
    Nlflex10ValidatorPlugin,
    validate_flex_delivery_report_compliant,
    validate_flex_dispatch_event_compliant,
)

_PLUGIN = Nlflex10ValidatorPlugin.setup()

PROFILE_NAME = "nlflex10"


def _messages(errors: Sequence[Any] | None) -> tuple[str, ...]:
    return tuple(str(error["type"]) for error in errors or ())


def violations(model: object) -> tuple[str, ...]:
    """What the profile rejects in ``model`` (empty when compliant)."""
    found: list[str] = []
    for validator in _PLUGIN.get_model_validators(type(model)):
        found.extend(_messages(validator.validate(model)))
    return tuple(found)


def dispatch_violations(
    event: Event, *, max_duration: timedelta | None, max_callable_kw: float | None
) -> tuple[str, ...]:
    """A FLEX event checked against the resource group it targets as well."""
    return _messages(
        validate_flex_dispatch_event_compliant(
            event, max_duration=max_duration, max_callable_kw=max_callable_kw
        )
    )


def delivery_report_violations(
    report: Report, event_intervals: Sequence[Interval[Any]]
) -> tuple[str, ...]:
    """A DELIVERED_FLEX report checked against the intervals of its FLEX event too."""
    cross = _messages(
        validate_flex_delivery_report_compliant(report, event_intervals=event_intervals)
    )
    return tuple(dict.fromkeys((*violations(report), *cross)))
