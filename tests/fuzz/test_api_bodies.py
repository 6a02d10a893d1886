"""The aggregator API's request bodies: every model the handlers read a body with.

``parse`` must give the typed body or BadRequestError (the API's 400); an
event body it accepts must also make its capacity envelope (the handler
does that next) or refuse it as a ValueError, which the API answers 400.
The bytes-to-JSON step runs in a real app in test_api_openapi.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given, strategies as st
import pytest

from dacs.aggregator.api.errors import BadRequestError
from dacs.aggregator.api.requests import (
    EVENT_BODIES,
    CodesCreate,
    CongestionPointCreate,
    EventBody,
    EventHeader,
    Measurement,
    RequestBody,
    parse,
)

from .budget import budget
from .inputs import json_trees, mutations
from .properties import result_or_own_error

START = "2026-12-01T12:00:00Z"
SEEDS: dict[type[RequestBody], list[dict[str, Any]]] = {
    CongestionPointCreate: [
        {
            "id": "tr-1",
            "name": "Street",
            "rated_capacity_kw": 250,
            "grid_operator": "Enexis",
            "ean": "871234567890123451",
        }
    ],
    EventHeader: [{"id": "ev-1", "kind": "manual"}],
    EVENT_BODIES["manual"]: [
        {
            "id": "ev-1",
            "kind": "manual",
            "intervals": [
                {"start": START, "end": "2026-12-01T13:00:00Z", "cap_kw": 80}
            ],
        }
    ],
    EVENT_BODIES["dynamic"]: [
        {"kind": "dynamic", "start": START, "caps_kw": [80, 70.5, 60]}
    ],
    EVENT_BODIES["emergency"]: [
        {"kind": "emergency", "start": START, "duration_minutes": 30}
    ],
    Measurement: [{"ts": START, "load_kw": 123.4}],
    CodesCreate: [
        {"congestion_point_id": "tr-1", "count": 3, "valid_days": 7, "note": "street"}
    ],
}


@pytest.mark.parametrize("model", SEEDS, ids=lambda m: m.__name__)
@budget()
@given(data=st.data())
def test_request_bodies(model: type[RequestBody], data: st.DataObject) -> None:
    document = data.draw(mutations(SEEDS[model]) | json_trees, label="body")
    body = result_or_own_error(lambda: parse(model, document), BadRequestError)
    if isinstance(body, EventBody):
        result_or_own_error(lambda: body.envelope("ev-1", origin="api"), ValueError)
