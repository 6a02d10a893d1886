"""The VEN against VTNs that follow the OpenADR 3 specification literally (#19)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from dacs.aggregator.openadr.ven import OpenAdrVen
from dacs.aggregator.service import AggregatorService
from dacs.testbed.grid_peers.openadr_vtn import (
    OpenAdrTestVtn,
    baseline_event,
    flex_event,
)

from . import openapi_schema
from .conftest import START, SettableClock, enroll, home_ean, make_ven, publish_nlflex

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
    await enroll(service, [home_ean(1)])
    world = publish_nlflex(vtn)
    vtn.add_event(
        baseline_event(world.program, world.group, active_kw=40, reserved_kw=0)
    )
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
