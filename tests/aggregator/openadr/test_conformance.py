"""The VEN against VTNs that follow the OpenADR 3 specification literally (#19)."""

from __future__ import annotations

from datetime import timedelta
import logging
from typing import Any

import aiohttp
import pytest

from dacs.aggregator.openadr.client import VtnClient
from dacs.aggregator.openadr.monitoring import Reachability
from dacs.aggregator.openadr.ven import OpenAdrVen
from dacs.aggregator.service import AggregatorService
from dacs.testbed.grid_peers.openadr_vtn import (
    Answer,
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
    ven_config,
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


def publish_capacity_limit(vtn: OpenAdrTestVtn) -> str:
    """A capacity program with one IMPORT_CAPACITY_LIMIT event; returns the program."""
    program = vtn.add_program(capacity_program("evening"))
    vtn.add_event(
        capacity_limit_event(program, GRID_CP, start=START + HOUR, caps_kw=[30, 25])
    )
    return program


def nlflex_and_capacity_ven(
    vtn: OpenAdrTestVtn,
    service: AggregatorService,
    clock: SettableClock,
    nlflex: str,
    capacity: str,
) -> OpenAdrVen:
    """A VEN on one NL-flex and one capacity program."""
    return make_ven(
        vtn, service, clock, program_ids=(nlflex,), capacity_program_ids=(capacity,)
    )


async def run_nlflex_flow(
    vtn: OpenAdrTestVtn, service: AggregatorService, clock: SettableClock
) -> OpenAdrVen:
    """Registration, a baseline, a FLEX dispatch and its delivery, a capacity limit.

    Every body the VEN sends, and every kind of answer it reads.
    """
    world = await nlflex_with_baseline(vtn, service)
    capacity = publish_capacity_limit(vtn)
    dispatch_start = START + 5 * HOUR
    vtn.add_event(
        flex_event(
            world.program,
            world.group,
            window_start=START + 2 * HOUR,
            dispatches=[(dispatch_start, 2 * HOUR, 12.5)],
        )
    )
    ven = nlflex_and_capacity_ven(vtn, service, clock, world.program, capacity)
    assert await ven.poll(), ven.last_error
    clock.moment = dispatch_start + 4 * HOUR
    assert await ven.poll(), ven.last_error
    assert ven.version == vtn.version
    caps = [
        [i.cap_w / 1000 for i in e.intervals] for e in service.controls[POINT].envelopes
    ]
    assert [30, 25] in caps  # the capacity limit is in force
    return ven


async def test_no_body_the_ven_sends_holds_null(
    any_vtn: OpenAdrTestVtn, service: AggregatorService, clock: SettableClock
) -> None:
    """#19 item 2: an absent intervalPeriod (or any optional field) is left out, not null."""
    vtn = any_vtn
    await run_nlflex_flow(vtn, service, clock)
    paths = {r.path for r in vtn.received}
    assert {"/vens", "/reports"} <= paths
    names = {r.body.get("reportName") for r in vtn.received if r.path == "/reports"}
    assert {"RESOURCE_REGISTRATION", "FLEX_DELTA", "ACK", "DELIVERED_FLEX"} <= names
    nulls = {
        f"{r.method} {r.path} {p}" for r in vtn.received for p in null_paths(r.body)
    }
    assert nulls == set()
    assert vtn.refused_reports == []


async def test_every_body_the_ven_sends_follows_the_schema_of_its_version(
    any_vtn: OpenAdrTestVtn, service: AggregatorService, clock: SettableClock
) -> None:
    """Every field present is allowed, none is null where the version's schema forbids it.

    3.0.1: resources under /vens/{venID}/resources, no VEN_VEN_REQUEST /
    VEN_RESOURCE_REQUEST object types, every report names its programID.
    """
    vtn = any_vtn
    await run_nlflex_flow(vtn, service, clock)
    resources = "/vens/*/resources" if vtn.version == "3.0.1" else "/resources"
    posted = {
        "/vens/*/resources"
        if r.path.endswith("/resources") and r.path != "/resources"
        else r.path
        for r in vtn.received
    }
    assert posted == {"/vens", resources, "/reports"}
    assert len(vtn.received) >= 6
    found = {
        f"{r.method} {r.path}: {problem}"
        for r in vtn.received
        for problem in openapi_schema.request_problems(
            vtn.version, r.method, r.path, r.body
        )
    }
    assert found == set()


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
    ven = nlflex_and_capacity_ven(vtn, service, clock, world.program, capacity)
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


def without_extensions(vtn: OpenAdrTestVtn, answer: Answer) -> Any:
    """An answer less what the NL-flex extension adds outside the OpenAPI files.

    ``GET /resource_groups`` is the extension's own endpoint (no OpenADR
    version defines it: the caller leaves it out); on a 3.0.1 VTN the
    extension also keeps ``reportIntervals`` on report descriptors, which
    the NL-flex profile requires and only 3.1.0 defines.
    """
    if vtn.version != "3.0.1" or not vtn.offers_nlflex or answer.path != "/events":
        return answer.body
    return [
        event
        | {
            "reportDescriptors": [
                {k: v for k, v in d.items() if k != "reportIntervals"}
                for d in event["reportDescriptors"]
            ]
        }
        if "reportDescriptors" in event
        else event
        for event in answer.body
    ]


def answer_problems(vtn: OpenAdrTestVtn, answers: list[Answer]) -> set[str]:
    """How the VTN's answers break the schema of its version (empty: they conform)."""
    found: set[str] = set()
    for answer in answers:
        try:
            ref = openapi_schema.response_schema(
                vtn.version, answer.method, answer.path, answer.status
            )
        except KeyError:  # a status the operation does not define
            found.add(f"{answer.method} {answer.path}: status {answer.status}")
            continue
        found |= {
            f"{answer.method} {answer.path}: {problem}"
            for problem in openapi_schema.problems(
                vtn.version, ref, without_extensions(vtn, answer)
            )
        }
    return found


async def test_every_answer_the_ven_accepts_follows_the_schema_of_its_version(
    any_vtn: OpenAdrTestVtn, service: AggregatorService, clock: SettableClock
) -> None:
    """What the VEN reads from a VTN of either version, as is or strict, is what it defines.

    Only the NL-flex extension (not in either OpenAPI file) is left out.
    """
    vtn = any_vtn
    await run_nlflex_flow(vtn, service, clock)
    checked = [
        a
        for a in vtn.answered
        if a.status in (200, 201) and not a.path.startswith("/resource_groups")
    ]
    paths = {"/vens", "/reports", "/events"}
    assert {a.path for a in checked} >= paths
    assert any(a.path.endswith("/resources") for a in checked)
    assert answer_problems(vtn, checked) == set()


async def test_notifier_answers_follow_the_openadr_310_schema(
    vtn: OpenAdrTestVtn, service: AggregatorService, clock: SettableClock
) -> None:
    """GET /notifiers and the topics of a program's events, as the VEN reads them."""
    await service.reload()
    program = publish_capacity_limit(vtn)
    vtn.mqtt_broker_uri = "mqtt://127.0.0.1:1883"  # listed, not connected to
    client = VtnClient(ven_config(vtn), client_secret=vtn.client_secret)
    assert await client.notifiers() is not None
    assert set(await client.event_topics(program)) >= {"UPDATE", "DELETE"}
    notifier_answers = [a for a in vtn.answered if a.path.startswith("/notifiers")]
    assert len(notifier_answers) == 2
    assert answer_problems(vtn, notifier_answers) == set()


async def test_a_strict_301_vtn_with_a_capacity_program_conforms_with_nothing_left_out(
    service: AggregatorService, clock: SettableClock
) -> None:
    """OpenADR 3.0.1 without any extension: VEN object, events, the cap applied.

    Every body and every answer, errors included, against the 3.0.1 schema.
    """
    await service.reload()
    async with OpenAdrTestVtn(strict=True, version="3.0.1") as vtn:
        program = publish_capacity_limit(vtn)
        ven = make_ven(vtn, service, clock, capacity_program_ids=(program,))
        assert await ven.poll(), ven.last_error
        assert await ven.poll(), ven.last_error
        (cap,) = service.controls[POINT].envelopes
        assert [i.cap_w / 1000 for i in cap.intervals] == [30, 25]
        assert ven.status.lines == ["VTN connected"]
        assert {a.path for a in vtn.answered} == {
            "/vens",
            f"/programs/{program}",
            "/events",
        }
        assert answer_problems(vtn, vtn.answered) == set()
        assert [r.path for r in vtn.received] == ["/vens"]
        assert (
            openapi_schema.request_problems(
                "3.0.1", "POST", "/vens", vtn.received[0].body
            )
            == []
        )


@pytest.mark.parametrize("version", ["3.0.1", "3.1.0"])
async def test_auto_finds_the_version_and_the_token_url(
    version: str, service: AggregatorService, clock: SettableClock
) -> None:
    """openadr.version = auto: GET /resources tells 3.1.0 from 3.0.1; 3.0.1's token URL is /auth/token."""
    await service.reload()
    async with OpenAdrTestVtn(version=version) as vtn:  # type: ignore[arg-type]  # a str from parametrize
        program = publish_capacity_limit(vtn)
        ven = make_ven(
            vtn,
            service,
            clock,
            capacity_program_ids=(program,),
            version="auto",
            token_url=None,
        )
        assert await ven.poll(), ven.last_error  # 3.0.1: the token from /auth/token
        assert ven.version == version
        assert len(service.controls[POINT].envelopes) == 1
        # 3.1.0 names its token URL; 3.0.1 has no /auth/server (404), so /auth/token.
        assert vtn.request_paths[:3] == ["/auth/server", "/auth/token", "/resources"]


async def test_a_301_vtn_refuses_what_only_310_defines() -> None:
    """The 3.0.1 test VTN itself: 3.1 object types, reports without programID, 3.1 paths."""
    async with OpenAdrTestVtn(version="3.0.1") as vtn, aiohttp.ClientSession() as http:
        form = {
            "grant_type": "client_credentials",
            "client_id": vtn.client_id,
            "client_secret": vtn.client_secret,
        }
        async with http.post(vtn.token_url, data=form) as answer:
            token = (await answer.json())["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        base = vtn.base_url
        ven = {"objectType": "VEN_VEN_REQUEST", "venName": "v"}
        async with http.post(f"{base}/vens", json=ven, headers=headers) as answer:
            assert answer.status == 400
            assert "VEN_VEN_REQUEST" in (await answer.json())["detail"]
        async with http.post(
            f"{base}/vens", json={"venName": "v"}, headers=headers
        ) as answer:
            assert answer.status == 201
            ven_id = (await answer.json())["id"]
        resource = {"resourceName": "r", "venID": ven_id}
        async with http.post(
            f"{base}/resources", json=resource, headers=headers
        ) as answer:
            assert answer.status == 404
        async with http.post(
            f"{base}/vens/{ven_id}/resources",
            json=resource | {"objectType": "VEN_RESOURCE_REQUEST"},
            headers=headers,
        ) as answer:
            assert answer.status == 400
        report = {"eventID": "e", "clientName": "c", "resources": []}
        async with http.post(f"{base}/reports", json=report, headers=headers) as answer:
            assert answer.status == 400
            assert "programID" in (await answer.json())["detail"]
        for path in ("/auth/server", "/notifiers"):
            async with http.get(f"{base}{path}", headers=headers) as answer:
                assert answer.status == 404
