"""The VEN against VTNs that follow the OpenADR 3 specification literally (#19)."""

from __future__ import annotations

from datetime import timedelta
import logging
from typing import Any

import aiohttp
import pytest

from dacs.aggregator.openadr.monitoring import Reachability
from dacs.aggregator.openadr.ven import OpenAdrVen
from dacs.aggregator.service import AggregatorService
from dacs.testbed.grid_peers.openadr_vtn import (
    OpenAdrTestVtn,
    anchor_event,
    capacity_limit_event,
    capacity_program,
    flex_event,
    nlflex_program,
)

from . import openapi_schema
from .conftest import (
    DSO_EAN,
    GRID_CP,
    POINT,
    START,
    SettableClock,
    make_ven,
    nlflex_with_baseline,
)

HOUR = timedelta(hours=1)
VERSIONS = openapi_schema.VERSIONS


def null_paths(body: Any, path: str = "") -> list[str]:
    """Where a JSON document holds null."""
    if body is None:
        return [path or "."]
    if isinstance(body, dict):
        return [p for k, v in body.items() for p in null_paths(v, f"{path}.{k}")]
    if isinstance(body, list):
        return [p for i, v in enumerate(body) for p in null_paths(v, f"{path}[{i}]")]
    return []


async def run_nlflex_flow(
    vtn: OpenAdrTestVtn, service: AggregatorService, clock: SettableClock
) -> OpenAdrVen:
    """Registration, a baseline, a FLEX dispatch and its delivery: every body the VEN sends."""
    world = await nlflex_with_baseline(vtn, service)
    dispatch_start = START + 5 * HOUR
    vtn.add_event(
        flex_event(
            world.program,
            world.group,
            window_start=START + 2 * HOUR,
            dispatches=[(dispatch_start, 2 * HOUR, 12.5)],
        )
    )
    ven = make_ven(vtn, service, clock, program_ids=(world.program,))
    assert await ven.poll(), ven.last_error
    clock.moment = dispatch_start + 4 * HOUR
    assert await ven.poll(), ven.last_error
    return ven


async def test_no_body_the_ven_sends_holds_null(
    vtn: OpenAdrTestVtn, service: AggregatorService, clock: SettableClock
) -> None:
    """#19 item 2: an absent intervalPeriod (or any optional field) is left out, not null."""
    await run_nlflex_flow(vtn, service, clock)
    paths = {r.path for r in vtn.received}
    assert {"/vens", "/resources", "/reports"} <= paths
    names = {r.body.get("reportName") for r in vtn.received if r.path == "/reports"}
    assert {"RESOURCE_REGISTRATION", "FLEX_DELTA", "ACK", "DELIVERED_FLEX"} <= names
    nulls = {
        f"{r.method} {r.path} {p}" for r in vtn.received for p in null_paths(r.body)
    }
    assert nulls == set()
    assert vtn.refused_reports == []


async def test_every_body_the_ven_sends_follows_the_openadr_310_schema(
    vtn: OpenAdrTestVtn, service: AggregatorService, clock: SettableClock
) -> None:
    """Every field present is allowed, none is null where the 3.1.0 schema forbids it."""
    await run_nlflex_flow(vtn, service, clock)
    assert len(vtn.received) >= 6
    found = {
        f"{r.method} {r.path}: {problem}"
        for r in vtn.received
        for problem in openapi_schema.request_problems(
            "3.1.0", r.method, r.path, r.body
        )
    }
    assert found == set()


async def test_bodies_against_openadr_301_differ_only_where_31_changed_the_objects(
    vtn: OpenAdrTestVtn, service: AggregatorService, clock: SettableClock
) -> None:
    """The VEN speaks 3.1.0; against 3.0.1 only 3.1's own changes stand out.

    3.0.1 puts resources under /vens/{venID}/resources, requires a report's
    programID and has no VEN_VEN_REQUEST/VEN_RESOURCE_REQUEST object types.
    """
    await run_nlflex_flow(vtn, service, clock)
    objects = {"/vens": "ven", "/resources": "resource", "/reports": "report"}
    found = {
        f"{r.path}: {problem}"
        for r in vtn.received
        for problem in openapi_schema.problems(
            "3.0.1", f"#/components/schemas/{objects[r.path]}", r.body, strict=False
        )
    }
    assert found == {
        "/vens: objectType: 'VEN_VEN_REQUEST' is not one of ['VEN']",
        "/resources: objectType: 'VEN_RESOURCE_REQUEST' is not one of ['RESOURCE']",
        "/reports: .: 'programID' is a required property",
    }


def publish_capacity_limit(vtn: OpenAdrTestVtn) -> str:
    """A capacity program with one IMPORT_CAPACITY_LIMIT event; returns the program."""
    program = vtn.add_program(capacity_program("evening"))
    vtn.add_event(
        capacity_limit_event(program, GRID_CP, start=START + HOUR, caps_kw=[30, 25])
    )
    return program


async def test_vtn_without_resource_groups_still_gets_its_events_applied(
    strict_vtn: OpenAdrTestVtn,
    service: AggregatorService,
    clock: SettableClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """#19 item 3: GET /resource_groups answering 404 fails no poll; the cap is applied."""
    await service.reload()
    vtn = strict_vtn
    nlflex = vtn.add_program(nlflex_program("dso-sp", dso_ean=DSO_EAN))
    vtn.add_event(anchor_event(nlflex))
    capacity = publish_capacity_limit(vtn)
    ven = make_ven(
        vtn, service, clock, program_ids=(nlflex,), capacity_program_ids=(capacity,)
    )
    with caplog.at_level(logging.WARNING, logger="dacs.aggregator.openadr"):
        assert await ven.poll(), ven.last_error
        assert await ven.poll(), ven.last_error
    (cap,) = service.controls[POINT].envelopes
    assert [i.cap_w / 1000 for i in cap.intervals] == [30, 25]
    assert ven.status.reachability is Reachability.CONNECTED
    assert ven.status.lines == [
        "VTN connected",
        "resource groups not offered by this VTN",
    ]
    assert caplog.text.count("resource groups not offered by this VTN") == 1


async def test_vtn_without_report_upload_keeps_applying_events(
    vtn: OpenAdrTestVtn, service: AggregatorService, clock: SettableClock
) -> None:
    """#19 item 3: POST /reports answering 404 turns reports off, not the poll."""
    world = await nlflex_with_baseline(vtn, service)
    capacity = publish_capacity_limit(vtn)
    vtn.not_offered.add("/reports")
    ven = make_ven(
        vtn,
        service,
        clock,
        program_ids=(world.program,),
        capacity_program_ids=(capacity,),
    )
    assert await ven.poll(), ven.last_error
    assert await ven.poll(), ven.last_error
    assert len(service.controls[POINT].envelopes) == 1
    assert "report upload not offered by this VTN" in ven.status.lines
    assert vtn.reports == []
    posted = [r for r in vtn.received if r.path == "/reports"]
    assert len(posted) == 1  # tried once, then the capability is off
    assert ven.counters.reports_sent == 0


async def test_status_tells_unreachable_from_refused_credentials(
    vtn: OpenAdrTestVtn, service: AggregatorService, clock: SettableClock
) -> None:
    """#19 item 3: three different answers, three different statuses."""
    await service.reload()
    program = publish_capacity_limit(vtn)
    refused = make_ven(
        vtn, service, clock, capacity_program_ids=(program,), client_secret="wrong"
    )
    assert not await refused.poll()
    assert refused.status.lines == ["VTN refused our credentials"]
    working = make_ven(vtn, service, clock, capacity_program_ids=(program,))
    assert await working.poll(), working.last_error
    assert working.status.reachability is Reachability.CONNECTED
    await vtn.stop()
    assert not await working.poll()
    assert working.status.lines == ["VTN unreachable"]


async def test_zone_less_timestamps_are_read_as_utc_warned_and_counted(
    caplog: pytest.LogCaptureFixture,
    strict_vtn: OpenAdrTestVtn,
    service: AggregatorService,
    clock: SettableClock,
) -> None:
    """#19 item 4: a VTN that stamps objects without a zone still has its events applied."""
    vtn = strict_vtn
    await service.reload()
    program = publish_capacity_limit(vtn)
    (event,) = vtn.events.values()
    assert "+" not in event["modificationDateTime"]
    assert not event["modificationDateTime"].endswith("Z")
    ven = make_ven(vtn, service, clock, capacity_program_ids=(program,))
    with caplog.at_level(logging.WARNING, logger="dacs.aggregator.openadr"):
        assert await ven.poll(), ven.last_error
        assert await ven.poll(), ven.last_error
    assert len(service.controls[POINT].envelopes) == 1
    assert ven.counters.naive_timestamps >= 4  # program and event, twice each
    assert caplog.text.count("timestamps without a time zone") == 1


async def test_unknown_extra_fields_are_ignored(
    vtn: OpenAdrTestVtn, service: AggregatorService, clock: SettableClock
) -> None:
    """#19 item 4: fields a later OpenADR version (or a vendor) adds are no reason to refuse."""
    await service.reload()
    program = vtn.add_program(capacity_program("evening"))
    event = capacity_limit_event(program, GRID_CP, start=START + HOUR, caps_kw=[30])
    body = event.model_dump(by_alias=True, mode="json", exclude_none=True)
    body["vendorExtension"] = {"region": "NL"}
    body["intervals"][0]["confidenceBand"] = [0.9, 1.1]
    vtn.add_raw_event(body)
    vtn.programs[program]["futureField"] = True
    ven = make_ven(vtn, service, clock, capacity_program_ids=(program,))
    assert await ven.poll(), ven.last_error
    assert len(service.controls[POINT].envelopes) == 1
    assert ven.counters.events_refused == 0


async def test_strict_vtn_refuses_what_the_specification_forbids() -> None:
    """The strict test VTN itself: form-body credentials only, null and unknown shapes 400."""
    async with OpenAdrTestVtn(strict=True) as vtn, aiohttp.ClientSession() as http:
        basic = aiohttp.BasicAuth(vtn.client_id, vtn.client_secret)
        form = {"grant_type": "client_credentials"}
        async with http.post(vtn.token_url, data=form, auth=basic) as answer:
            assert answer.status == 401
        credentials = form | {
            "client_id": vtn.client_id,
            "client_secret": vtn.client_secret,
        }
        async with http.post(vtn.token_url, data=credentials) as answer:
            assert answer.status == 200
            token = (await answer.json())["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        report = {
            "eventID": "e",
            "clientName": "c",
            "resources": [
                {"resourceName": "r", "intervalPeriod": None, "intervals": []}
            ],
        }
        async with http.post(
            f"{vtn.base_url}/reports", json=report, headers=headers
        ) as answer:
            assert answer.status == 400
            assert "resources.0.intervalPeriod" in (await answer.json())["detail"]
        report["resources"] = [{"resourceName": "r", "intervals": [], "extra": 1}]
        async with http.post(
            f"{vtn.base_url}/reports", json=report, headers=headers
        ) as answer:
            assert answer.status == 400
            assert "unknown property" in (await answer.json())["detail"]
        async with http.get(
            f"{vtn.base_url}/resource_groups", headers=headers
        ) as answer:
            assert answer.status == 404


async def test_every_answer_of_the_strict_vtn_follows_the_openadr_310_schema(
    strict_vtn: OpenAdrTestVtn, service: AggregatorService, clock: SettableClock
) -> None:
    """What the VEN accepts from a specification-literal VTN is what 3.1.0 defines."""
    await run_nlflex_flow(strict_vtn, service, clock)
    checked = [
        a
        for a in strict_vtn.answered
        if a.status in (200, 201) and not a.path.startswith("/resource_groups")
    ]
    assert {a.path for a in checked} >= {"/vens", "/resources", "/reports", "/events"}
    found = {
        f"{a.method} {a.path}: {problem}"
        for a in checked
        for problem in openapi_schema.problems(
            "3.1.0",
            openapi_schema.response_schema("3.1.0", a.method, a.path, a.status),
            a.body,
        )
    }
    assert found == set()
