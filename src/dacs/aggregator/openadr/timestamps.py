"""Tolerant reading of the VTN's timestamps: one without a zone is read as UTC.

OpenADR 3 says every timestamp is RFC 3339, which always carries a zone. Some
VTNs stamp ``createdDateTime``/``modificationDateTime`` (or an interval's
``start``) in local time without one; refusing those objects would refuse
every event such a VTN sends. Reading them as UTC keeps the events; the VEN
warns once and counts each one (``naive_timestamps``) so the operator can
ask the grid operator to fix its VTN.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any


def _is_timestamp_key(key: str) -> bool:
    return key.endswith("DateTime") or key == "start"


def _with_zone(value: str) -> str | None:
    """``value`` with ``+00:00`` when it is a zone-less ISO timestamp; else None."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is not None:
        return None
    return moment.replace(tzinfo=UTC).isoformat()


def assume_utc(body: Any) -> tuple[Any, int]:
    """A copy of a JSON answer with each zone-less timestamp read as UTC, and how many."""
    if isinstance(body, list):
        items = [assume_utc(item) for item in body]
        return [item for item, _ in items], sum(n for _, n in items)
    if not isinstance(body, dict):
        return body, 0
    out: dict[str, Any] = {}
    found = 0
    for key, value in body.items():
        fixed = (
            _with_zone(value)
            if isinstance(value, str) and _is_timestamp_key(key)
            else None
        )
        if fixed is not None:
            out[key] = fixed
            found += 1
            continue
        out[key], inner = assume_utc(value)
        found += inner
    return out, found
