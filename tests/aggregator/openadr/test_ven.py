"""The VEN against a real VTN on 127.0.0.1, with a real aggregator service and database."""

from __future__ import annotations

from datetime import timedelta
import logging

import pytest
from sqlalchemy import select

from dacs.aggregator.domain.envelope import EnvelopeKind
from dacs.aggregator.openadr.plans import cap_event_id
from dacs.aggregator.service import AggregatorService
from dacs.aggregator.storage.tables import EventRow, OpenAdrEventRow, OpenAdrResourceRow
from dacs.testbed.grid_peers.openadr_vtn import (
    OpenAdrTestVtn,
    baseline_event,
    capacity_limit_event,
    capacity_program,
    flex_event,
    grid_emergency_event,
)

from .conftest import (
    GRID_CP,
    POINT,
    START,
    SettableClock,
    enroll,
    home_ean,
    make_ven,
    publish_nlflex,
)

HOUR = timedelta(hours=1)


async def stored(service: AggregatorService, table: type) -> list:
    async with service.sessions() as session:
        return list((await session.execute(select(table))).scalars().all())


async def test_capacity_limit_is_applied_once_and_cancelled_when_deleted(
    vtn: OpenAdrTestVtn, service: AggregatorService, clock: SettableClock
) -> None:
    await service.reload()
    program = vtn.add_program(capacity_program("evening"))
    event_id = vtn.add_event(
        capacity_limit_event(
            program, GRID_CP, start=START + HOUR, caps_kw=[30, 25, 25, 30]
        )
    )
    ven = make_ven(vtn, service, clock, capacity_program_ids=(program,))
    assert await ven.poll()
    (cap,) = service.controls[POINT].envelopes
    assert cap.kind is EnvelopeKind.DYNAMIC
    assert [i.cap_w / 1000 for i in cap.intervals] == [30, 25, 25, 30]
    (row,) = await stored(service, EventRow)
    assert row.created_by == f"openadr:{program}"
    # Polled again, and by a restarted VEN: nothing is applied twice.
    assert await ven.poll()
    assert await make_ven(vtn, service, clock, capacity_program_ids=(program,)).poll()
    assert len(await stored(service, EventRow)) == 1
    assert ven.counters.events_applied == 1
    # Deleted and recreated (events are immutable): the old one is cancelled.
    vtn.delete_event(event_id)
    vtn.add_event(
        capacity_limit_event(program, GRID_CP, start=START + HOUR, caps_kw=[20] * 4)
    )
    assert await ven.poll()
    (cap,) = service.controls[POINT].envelopes
    assert [i.cap_w / 1000 for i in cap.intervals] == [20] * 4
    rows = await stored(service, EventRow)
    assert sorted(r.cancelled_at is None for r in rows) == [False, True]
    assert ven.counters.events_cancelled == 1
    assert vtn.refused_reports == []


async def test_event_for_a_point_not_yet_registered_waits_for_it(
    vtn: OpenAdrTestVtn, service: AggregatorService, clock: SettableClock
) -> None:
    await service.reload()
    program = vtn.add_program(capacity_program("evening"))
    vtn.add_event(
        capacity_limit_event(
            program, "CP-LATER", start=START + HOUR, caps_kw=[30, 25, 25, 30]
        )
    )
    ven = make_ven(
        vtn,
        service,
        clock,
        capacity_program_ids=(program,),
        congestion_points=(f"{GRID_CP}={POINT}", "CP-LATER=tr-later"),
    )
    assert await ven.poll()
    # Not refused for good: nothing stored, nothing counted, nothing in force.
    assert await stored(service, OpenAdrEventRow) == []
    assert ven.counters.events_refused == 0
    assert "tr-later" not in service.controls
    await service.registry.add_congestion_point(
        point_id="tr-later", name="Later", rated_capacity_kw=80, grid_operator="Enexis"
    )
    await service.reload()
    assert await ven.poll()
    (cap,) = service.controls["tr-later"].envelopes
    assert [i.cap_w / 1000 for i in cap.intervals] == [30, 25, 25, 30]
    assert ven.counters.events_applied == 1


async def test_grid_emergency_stops_the_point(
    vtn: OpenAdrTestVtn, service: AggregatorService, clock: SettableClock
) -> None:
    await service.reload()
    program = vtn.add_program(capacity_program("alerts"))
    vtn.add_event(grid_emergency_event(program, GRID_CP, start=START, duration=HOUR))
    ven = make_ven(vtn, service, clock, capacity_program_ids=(program,))
    assert await ven.poll()
    (cap,) = service.controls[POINT].envelopes
    assert cap.kind is EnvelopeKind.EMERGENCY
    assert service.controls[POINT].cycle(START + timedelta(minutes=1))[0].cap_w == 0


async def test_rejected_events_are_refused_logged_and_change_nothing(
    vtn: OpenAdrTestVtn,
    service: AggregatorService,
    clock: SettableClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await service.reload()
    program = vtn.add_program(capacity_program("evening"))
    vtn.add_event(
        capacity_limit_event(
            program, GRID_CP, start=START + HOUR, caps_kw=[30], units="KWH"
        )
    )
    vtn.add_event(
        capacity_limit_event(
            program, GRID_CP, start=START + HOUR, caps_kw=[30], interval=HOUR
        )
    )
    vtn.add_raw_event({"programID": program, "intervals": "not a list"})
    ven = make_ven(vtn, service, clock, capacity_program_ids=(program,))
    with caplog.at_level(logging.WARNING, logger="dacs.aggregator.openadr"):
        assert await ven.poll()
        assert await ven.poll()
    assert service.controls[POINT].envelopes == []
    assert await stored(service, EventRow) == []
    refused = await stored(service, OpenAdrEventRow)
    assert {r.outcome for r in refused} == {"refused"}
    assert any("must be in KW" in (r.reason or "") for r in refused)
    assert any("PT15M" in (r.reason or "") for r in refused)
    assert "not an OpenADR 3.1 event" in caplog.text
    assert ven.counters.events_refused == 3  # each once, not once per poll


async def test_vtn_errors_lose_nothing_and_the_next_poll_applies(
    vtn: OpenAdrTestVtn, service: AggregatorService, clock: SettableClock
) -> None:
    await service.reload()
    program = vtn.add_program(capacity_program("evening"))
    vtn.add_event(
        capacity_limit_event(program, GRID_CP, start=START + HOUR, caps_kw=[30])
    )
    ven = make_ven(vtn, service, clock, capacity_program_ids=(program,))
    vtn.fail_next("500")
    assert not await ven.poll()
    assert ven.last_error is not None
    assert "500" in ven.last_error
    vtn.fail_next("malformed")
    assert not await ven.poll()
    assert ven.last_error is not None
    assert "not JSON" in ven.last_error
    assert service.controls[POINT].envelopes == []
    assert await ven.poll()
    assert ven.last_error is None
    assert len(service.controls[POINT].envelopes) == 1
    assert ven.counters.failed_polls == 2


async def test_vtn_down_is_a_clear_error(
    service: AggregatorService, clock: SettableClock
) -> None:
    await service.reload()
    vtn = OpenAdrTestVtn()
    await vtn.start()
    await vtn.stop()  # the port is now closed
    ven = make_ven(vtn, service, clock, capacity_program_ids=("p",))
    assert not await ven.poll()
    assert ven.last_error is not None
    assert "unreachable" in ven.last_error


async def test_token_refused_is_a_clear_error(
    vtn: OpenAdrTestVtn, service: AggregatorService, clock: SettableClock
) -> None:
    await service.reload()
    program = vtn.add_program(capacity_program("evening"))
    ven = make_ven(
        vtn, service, clock, capacity_program_ids=(program,), client_secret="wrong"
    )
    assert not await ven.poll()
    assert ven.last_error is not None
    assert "token endpoint refused" in ven.last_error
    assert vtn.token_requests >= 1


async def test_nlflex_registration_dispatch_and_reports(
    vtn: OpenAdrTestVtn, service: AggregatorService, clock: SettableClock
) -> None:
    accepted, rejected, bad = home_ean(1), home_ean(2), "871690000000000000"
    homes = await enroll(service, [accepted, rejected, bad])
    vtn.registration_policy = lambda resource: (
        ("REJECTED", "WRONG_EAN")
        if any(a["values"] == [rejected] for a in resource["attributes"])
        else ("ENROLLED", None)
    )
    world = publish_nlflex(vtn)
    program, anchor, group = world.program, world.anchor, world.group
    baseline = vtn.add_event(
        baseline_event(program, group, active_kw=40, reserved_kw=0)
    )
    ven = make_ven(vtn, service, clock, program_ids=(program,))
    assert await ven.poll()
    # Two homes registered (the third has no valid EAN18), one enrolled, one rejected.
    resources = {r.home_id: r for r in await stored(service, OpenAdrResourceRow)}
    assert set(resources) == {homes[0], homes[1]}
    assert resources[homes[0]].registration_status == "ENROLLED"
    assert (
        resources[homes[1]].registration_status,
        resources[homes[1]].rejected_reason,
    ) == (
        "REJECTED",
        "WRONG_EAN",
    )
    assert len(vtn.resources) == 2
    names = [r.body.get("reportName") for r in vtn.reports]
    assert "RESOURCE_REGISTRATION" in names
    # The baseline event was answered with a flex delta.
    assert any(
        r.body["eventID"] == baseline and r.body.get("reportName") == "FLEX_DELTA"
        for r in vtn.reports
    )
    # A FLEX dispatch: cap = baseline - FLEX, adjacent hours at the baseline; ACK sent.
    dispatch_start = START + 5 * HOUR
    flex_id = vtn.add_event(
        flex_event(
            program,
            group,
            window_start=START + 2 * HOUR,
            dispatches=[(dispatch_start, 2 * HOUR, 12.5)],
        )
    )
    assert await ven.poll()
    (cap,) = service.controls[POINT].envelopes
    assert [i.cap_w / 1000 for i in cap.intervals] == [40.0, 27.5, 40.0]
    assert cap.envelope_id == cap_event_id(
        program,
        flex_id,
        (await stored(service, OpenAdrEventRow))[-1].modified_at,
        POINT,
    )
    acks = [r for r in vtn.reports if r.body["eventID"] == flex_id]
    assert [r.body["reportName"] for r in acks] == ["ACK"]
    # After the last interval: DELIVERED_FLEX per 15 minutes, accepted by the VTN.
    clock.moment = dispatch_start + 4 * HOUR
    assert await ven.poll()
    delivered = [
        r.body for r in vtn.reports if r.body.get("reportName") == "DELIVERED_FLEX"
    ]
    assert len(delivered) == 1
    intervals = delivered[0]["resources"][0]["intervals"]
    assert [len(i["payloads"][0]["values"]) for i in intervals] == [4, 8, 4]
    assert all(v == 1.23 for i in intervals for v in i["payloads"][0]["values"])
    # Operational status: the enrolled home has no device yet -> PENDING, reported once.
    statuses = [
        r.body for r in vtn.reports if r.body.get("reportName") == "OPERATIONAL_STATUS"
    ]
    assert len(statuses) == 1
    assert statuses[0]["eventID"] == anchor
    assert [r["resourceName"] for r in statuses[0]["resources"]] == [homes[0]]
    assert await ven.poll()
    assert (
        len([r for r in vtn.reports if r.body.get("reportName") == "DELIVERED_FLEX"])
        == 1
    )
    assert vtn.refused_reports == []
    assert ven.counters.reports_withheld == 0


async def test_nlflex_program_that_breaks_the_profile_is_refused(
    vtn: OpenAdrTestVtn,
    service: AggregatorService,
    clock: SettableClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await service.reload()
    program = vtn.add_program(capacity_program("not nl-flex"))  # no PROGRAM_TYPE etc.
    vtn.add_event(
        capacity_limit_event(program, GRID_CP, start=START + HOUR, caps_kw=[30])
    )
    ven = make_ven(vtn, service, clock, program_ids=(program,))
    with caplog.at_level(logging.WARNING, logger="dacs.aggregator.openadr"):
        assert await ven.poll()
    assert "not NL-flex compliant" in caplog.text
    assert ven.counters.programs_refused == 1
    assert service.controls[POINT].envelopes == []


@pytest.mark.parametrize(
    ("accepts", "mode"),
    [("body", "body"), ("body", "auto"), ("basic", "basic"), ("basic", "auto")],
)
async def test_client_credentials_reach_a_token_endpoint_that_takes_one_way(
    service: AggregatorService, clock: SettableClock, accepts: str, mode: str
) -> None:
    await service.reload()
    async with OpenAdrTestVtn(client_auth=accepts) as vtn:  # type: ignore[arg-type]  # a str from parametrize
        program = vtn.add_program(capacity_program("evening"))
        vtn.add_event(
            capacity_limit_event(program, GRID_CP, start=START + HOUR, caps_kw=[30])
        )
        ven = make_ven(
            vtn, service, clock, capacity_program_ids=(program,), credentials_mode=mode
        )
        assert await ven.poll(), ven.last_error
        assert len(service.controls[POINT].envelopes) == 1
        # auto keeps the way that worked: one more poll asks for no new token.
        requests_so_far = vtn.token_requests
        assert await ven.poll()
        assert vtn.token_requests == requests_so_far


async def test_credentials_in_the_wrong_place_are_a_clear_error(
    service: AggregatorService, clock: SettableClock
) -> None:
    await service.reload()
    async with OpenAdrTestVtn(client_auth="body") as vtn:
        program = vtn.add_program(capacity_program("evening"))
        ven = make_ven(
            vtn,
            service,
            clock,
            capacity_program_ids=(program,),
            credentials_mode="basic",
        )
        assert not await ven.poll()
        assert ven.last_error is not None
        assert "token endpoint refused the client credentials" in ven.last_error
