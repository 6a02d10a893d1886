"""What the VEN reads from a VTN: every answer it parses, the token, the notifier binding.

The VEN's own HTTP client runs unchanged; only the socket is replaced by a
transport that answers whatever hypothesis draws, so the bytes go through
the same JSON reading, timestamp repair and model validation as a real
VTN's answer. Every call must return typed objects or raise the adapter's
own ``OpenAdrError``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Iterator
from datetime import UTC, datetime, timedelta
import json
from typing import Any
from unittest import mock

from hypothesis import given, strategies as st
from openadr3_client.oadr310.models.event.event import ExistingEvent
import pytest
import requests
from requests.adapters import HTTPAdapter

from dacs.aggregator.openadr import OpenAdrConfig
from dacs.aggregator.openadr.client import VtnClient
from dacs.aggregator.openadr.errors import OpenAdrError
from dacs.aggregator.openadr.notifier import describe, mqtt_notifier
from dacs.aggregator.openadr.plans import CapPlan, ProgramContext, Refusal
from dacs.aggregator.openadr.signals import plan_event
from dacs.testbed.grid_peers.openadr_vtn import (
    anchor_event,
    baseline_event,
    capacity_limit_event,
    flex_event,
    grid_emergency_event,
    nlflex_program,
    resource_group,
)

from .budget import budget
from .inputs import json_trees, mutations, payloads, to_json
from .properties import result_or_own_error

START = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
TOKEN_URL = "http://127.0.0.1:9/token"
CONFIG = OpenAdrConfig(
    enabled=True,
    vtn_url="http://127.0.0.1:9/openadr3/3.1.0",
    token_url=TOKEN_URL,
    client_id="ven",
    allow_insecure_http=True,
    request_timeout_s=5,
)


def _as_vtn_sends(model: Any, object_id: str) -> dict[str, Any]:
    body: dict[str, Any] = model.model_dump(
        by_alias=True, mode="json", exclude_none=True
    )
    return body | {
        "id": object_id,
        "createdDateTime": START.isoformat(),
        "modificationDateTime": START.isoformat(),
    }


EVENTS = [
    _as_vtn_sends(event, f"ev-{n}")
    for n, event in enumerate(
        [
            anchor_event("p-1"),
            baseline_event("p-1", "G-1", active_kw=40, reserved_kw=5),
            flex_event(
                "p-1",
                "G-1",
                window_start=START,
                dispatches=[(START + timedelta(hours=1), timedelta(minutes=15), 4.0)],
            ),
            capacity_limit_event("p-2", "CP-1", start=START, caps_kw=[80, 70]),
            grid_emergency_event(
                "p-2", "CP-1", start=START, duration=timedelta(hours=1)
            ),
        ]
    )
]
PROGRAM = _as_vtn_sends(nlflex_program("p-1", dso_ean="8712423014022"), "p-1")
GROUP = _as_vtn_sends(
    resource_group(
        "G-1",
        dso_ean="8712423014022",
        service_provider_ean="8712345678903",
        congestion_point_id="CP-1",
    ),
    "g-1",
)
NOTIFIERS = {
    "WEBHOOK": True,
    "MQTT": {
        "URIS": ["mqtt://127.0.0.1:1883"],
        "serialization": "JSON",
        "authentication": {"method": "OAUTH2_BEARER_TOKEN", "username": "{clientID}"},
    },
}
TOPICS = {
    "topics": {"UPDATE": "programs/p-1/events/update", "ALL": "programs/p-1/events/+"}
}
TOKEN = {"access_token": "t0k3n", "token_type": "Bearer", "expires_in": 3600}


class CannedVtn:
    """The transport under the VEN's client: one answer for the token URL, one for the rest."""

    def __init__(self) -> None:
        self.token: tuple[int, bytes] = (200, json.dumps(TOKEN).encode())
        self.answer: tuple[int, bytes] = (200, b"[]")

    def send(
        self, _adapter: HTTPAdapter, request: requests.PreparedRequest, **_: Any
    ) -> requests.Response:
        status, body = self.token if request.url == TOKEN_URL else self.answer
        response = requests.Response()
        response.status_code = status
        response._content = body
        response.url = str(request.url)
        response.request = request
        response.headers["Content-Type"] = "application/json"
        return response


@pytest.fixture(scope="module")
def vtn() -> Iterator[CannedVtn]:
    canned = CannedVtn()

    def send(
        adapter: HTTPAdapter, request: requests.PreparedRequest, **kwargs: Any
    ) -> requests.Response:
        return canned.send(adapter, request, **kwargs)

    with mock.patch.object(HTTPAdapter, "send", send):
        yield canned


type Read = Callable[[VtnClient], Coroutine[Any, Any, Any]]

READS: dict[str, tuple[Read, list[Any]]] = {
    "program": (lambda c: c.program("p-1"), [PROGRAM]),
    "events": (lambda c: c.events("p-1"), [EVENTS, EVENTS[:1]]),
    "resource_groups": (lambda c: c.resource_groups(), [[GROUP]]),
    "resources": (lambda c: c.resources("ven-1"), [[]]),
    "ven_named": (lambda c: c.ven_named("ven"), [[]]),
    "notifiers": (lambda c: c.notifiers(), [NOTIFIERS]),
    "event_topics": (lambda c: c.event_topics("p-1"), [TOPICS]),
}


def _read(vtn: CannedVtn, read: Read, status: int, body: bytes) -> Any:
    vtn.answer = (status, body)
    client = VtnClient(CONFIG, client_secret="secret")
    return asyncio.run(read(client))


@pytest.mark.parametrize("name", READS)
@budget()
@given(data=st.data())
def test_vtn_answers(vtn: CannedVtn, name: str, data: st.DataObject) -> None:
    read, seeds = READS[name]
    body = data.draw(payloads(seeds), label="body")
    status = data.draw(
        st.sampled_from([200, 200, 200, 201, 400, 404, 500]), label="status"
    )
    result_or_own_error(lambda: _read(vtn, read, status, body), OpenAdrError)


@budget()
@given(token=payloads([TOKEN]), status=st.sampled_from([200, 400, 401, 500]))
def test_token_answers(vtn: CannedVtn, token: bytes, status: int) -> None:
    vtn.token = (status, token)
    try:
        result_or_own_error(
            lambda: _read(vtn, READS["program"][0], 200, json.dumps(PROGRAM).encode()),
            OpenAdrError,
        )
    finally:
        vtn.token = (200, json.dumps(TOKEN).encode())


CONTEXTS = [
    ProgramContext(
        program_id=program_id,
        nlflex=nlflex,
        congestion_points={"CP-1": "tr-1"},
        now=START,
        emergency_max_duration=timedelta(hours=6),
    )
    for program_id, nlflex in (("p-1", True), ("p-2", False))
]


@budget()
@given(document=mutations(EVENTS), context=st.sampled_from(CONTEXTS))
def test_plan_event(document: Any, context: ProgramContext) -> None:
    """An event that parses as OpenADR 3.1 is planned or refused, never raises."""
    try:
        event = ExistingEvent.model_validate_json(to_json(document))
    except (ValueError, TypeError):  # not an event: the client refuses it alone
        return
    assert isinstance(plan_event(event, context), CapPlan | Refusal)


@budget()
@given(details=mutations([NOTIFIERS]) | json_trees)
def test_notifier_binding(details: Any) -> None:
    result_or_own_error(
        lambda: mqtt_notifier(
            details if isinstance(details, dict) else None, client_id="ven"
        ),
        OpenAdrError,
    )


@budget()
@given(
    payload=payloads(
        [{"objectType": "EVENT", "operation": "PUT", "object": {"id": "e"}}]
    )
)
def test_notification_description(payload: bytes) -> None:
    assert isinstance(describe(payload), str)


def test_an_event_the_library_cannot_build_is_refused_alone(vtn: CannedVtn) -> None:
    """Found by test_plan_event: a payload value that is an object made the
    library raise TypeError, which refused the whole events answer."""
    broken = EVENTS[1] | {"id": "ev-broken"}
    broken["intervals"] = [
        {"id": 0, "payloads": [{"type": "ACTIVE_BASELINE", "values": [{"v": 1}]}]}
    ]
    parsed, refused = _read(
        vtn, READS["events"][0], 200, json.dumps([EVENTS[0], broken]).encode()
    )
    assert [event.id for event in parsed] == ["ev-0"]
    assert [raw.event_id for raw in refused] == ["ev-broken"]
    assert "not an OpenADR 3.1 event" in refused[0].reason


def test_text_no_log_or_database_can_hold_is_refused(vtn: CannedVtn) -> None:
    """A NUL or a lone surrogate refuses the answer, or in an events answer the one event."""
    groups = READS["resource_groups"][0]
    for name, what in (("g\ud800", "lone surrogate"), ("g\x00", "control character")):
        body = json.dumps([GROUP | {"resourceGroupName": name}]).encode()
        with pytest.raises(OpenAdrError, match=what):
            _read(vtn, groups, 200, body)
    broken = EVENTS[1] | {"id": "ev-\udc00", "eventName": "e\x1b"}
    parsed, refused = _read(
        vtn, READS["events"][0], 200, json.dumps([EVENTS[0], broken]).encode()
    )
    assert [event.id for event in parsed] == ["ev-0"]
    assert refused[0].event_id == "'ev-\\udc00'"
    assert "control character" in refused[0].reason
    # A line break or a tab is text, not a refusal.
    body = json.dumps([GROUP | {"resourceGroupName": "line\nline\tend"}]).encode()
    (group,) = _read(vtn, groups, 200, body)
    assert group.resource_group_name == "line\nline\tend"
