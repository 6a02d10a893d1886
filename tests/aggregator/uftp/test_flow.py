"""The AGR flow over real HTTP: FlexRequest -> FlexOffer -> FlexOrder -> cap event -> settlement."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from shapeshifter_uftp import (
    AcceptedRejected,
    DPrognosis,
    FlexOffer,
    FlexOfferOption,
    FlexOfferOptionISP,
    FlexOrderResponse,
    FlexRequestResponse,
    FlexSettlementResponse,
)
from shapeshifter_uftp.uftp import AcceptedDisputed
from sqlalchemy import select
from xsdata.models.datatype import XmlDate, XmlDuration

from dacs.aggregator.domain.delivery import IntervalDelivery
from dacs.aggregator.domain.envelope import EnvelopeKind
from dacs.aggregator.service import AggregatorService
from dacs.aggregator.settlement.config import SettlementConfig
from dacs.aggregator.settlement.remuneration import cost_eur_per_kwh
from dacs.aggregator.storage.tables import EventRow, UftpFlexOrderRow
from dacs.aggregator.uftp.isp import ISP_DURATION, isp_at, isp_count, isp_start
from dacs.testbed.grid_peers.gopacs_dso import RequestedIsp, offer_problem

from . import uftp_schema
from .conftest import (
    ADDRESS,
    DSO_DOMAIN,
    POINT,
    Keys,
    UftpWorld,
    add_synthetic_homes,
    table_counts,
    uftp_world,
)

ZONE = ZoneInfo("Europe/Amsterdam")


def current_isps(now: datetime, count: int = 2) -> tuple[datetime, list[int]]:
    """Today's period and the current ISP plus the following ones (within the day)."""
    period, first = isp_at(now, ZONE)
    last = min(first + count - 1, isp_count(period, ZONE))
    return period, list(range(first, last + 1))  # type: ignore[return-value]


async def _offer(
    world: UftpWorld, reduction_w: int = 4000
) -> tuple[object, FlexOffer, list[int]]:
    period, numbers = current_isps(world.service.clock.now())
    request = await world.dso.request_flexibility(
        congestion_point=ADDRESS,
        period=period,  # type: ignore[arg-type]
        isps=[RequestedIsp(isp=n, reduction_w=reduction_w) for n in numbers],
        now=world.service.clock.now(),
    )
    response = await world.dso.wait_for(
        FlexRequestResponse, lambda r: r.flex_request_message_id == request.message_id
    )
    assert response.result == AcceptedRejected.ACCEPTED
    offer = await world.dso.wait_for(
        FlexOffer, lambda o: o.flex_request_message_id == request.message_id
    )
    return request, offer, numbers


async def test_request_gets_priced_offer_options(world: UftpWorld) -> None:
    _, offer, numbers = await _offer(world)
    options = {o.option_reference: o for o in offer.offer_options}
    assert set(options) == {"P100", "P50"}
    full = options["P100"]
    assert [(i.start, i.power) for i in full.isps] == [(n, -4000) for n in numbers]
    # 4 kW (1 kWh) in each ISP, priced at what the dearest home taken costs us
    # (its 0.30 ask, plus the gas its boiler burns instead) and the 0.02 margin.
    settlement = SettlementConfig()
    dearest = cost_eur_per_kwh(0.30, None, settlement)
    assert dearest > 0.30 + 0.3  # the gas is most of it
    assert float(full.price) == pytest.approx(
        (dearest + 0.02) * 1.0 * len(numbers), abs=1e-4
    )
    half = options["P50"]
    assert [(i.start, i.power) for i in half.isps] == [(n, -2000) for n in numbers]
    # The cheapest home asks 0.20, below the tariff: it is paid the 0.25 tariff.
    cheapest = cost_eur_per_kwh(0.20, None, settlement)
    assert cheapest == pytest.approx(cost_eur_per_kwh(0.25, None, settlement))
    assert float(half.price) == pytest.approx(
        (cheapest + 0.02) * 0.5 * len(numbers), abs=1e-4
    )
    assert offer.congestion_point == ADDRESS
    assert offer.currency == "EUR"


async def test_order_becomes_cap_event_and_prognosis(world: UftpWorld) -> None:
    _, offer, numbers = await _offer(world)
    order = await world.dso.order_offer(offer, "P100")
    response = await world.dso.wait_for(
        FlexOrderResponse, lambda r: r.flex_order_message_id == order.message_id
    )
    assert response.result == AcceptedRejected.ACCEPTED
    events = world.service.controls[POINT].envelopes
    event = next(e for e in events if e.envelope_id == f"uftp-{order.message_id}")
    assert event.kind is EnvelopeKind.DYNAMIC
    # Forecast: four homes at 2 kW (no other load seen yet) minus the 4 kW ordered.
    assert [i.cap_w for i in event.intervals] == [4000.0] * len(numbers)
    period = offer.period.to_date()
    assert event.intervals[0].start == isp_start(period, numbers[0], ZONE)
    assert (
        event.intervals[-1].end == isp_start(period, numbers[-1], ZONE) + ISP_DURATION
    )
    async with world.service.sessions() as session:
        stored = await session.get(EventRow, event.envelope_id)
    assert stored is not None
    assert stored.created_by == f"uftp:{DSO_DOMAIN}"
    prognosis = await world.dso.wait_for(DPrognosis)
    powers = {i.start: i.power for i in prognosis.isps}
    assert len(powers) == isp_count(period, ZONE)
    assert all(powers[n] == 4000 for n in numbers)
    assert prognosis.revision == 1


async def test_settlement_compares_delivered_flex(
    bare_service: AggregatorService, tmp_path: Path, keys: Keys
) -> None:
    async def delivered(
        point: str, start: datetime, end: datetime
    ) -> Sequence[IntervalDelivery]:
        assert point == POINT
        # The settlement's figures come per ISP, as the compliance answer's do.
        quarters = int((end - start) / ISP_DURATION)
        return [
            IntervalDelivery(
                start=start + n * ISP_DURATION,
                end=start + (n + 1) * ISP_DURATION,
                baseline_kw=8.0,
                measured_kw=4.05,
                delivered_kw=3.95,
            )
            for n in range(quarters)
        ]

    add_synthetic_homes(bare_service, bare_service.clock.now(), [0.1, 0.2, 0.3, 0.4])
    async with uftp_world(bare_service, tmp_path, keys, delivered=delivered) as world:
        _, offer, numbers = await _offer(world)
        order = await world.dso.order_offer(offer, "P100")
        await world.dso.wait_for(FlexOrderResponse)
        period = offer.period.to_date()
        good = world.dso.settlement_for(
            [(order, dict.fromkeys(numbers, 4000))],
            period_start=period,
            period_end=period,
            baseline_w=dict.fromkeys(numbers, 9000),
        )
        await world.dso.send(good)
        answer = await world.dso.wait_for(
            FlexSettlementResponse,
            lambda r: r.flex_settlement_message_id == good.message_id,
        )
        assert answer.result == AcceptedRejected.ACCEPTED
        (settled,) = good.flex_order_settlements
        assert {(i.baseline_power, i.actual_power) for i in settled.isps} == {
            (9000, 5000)
        }
        for message in (good, answer):  # the settlement messages, both XSDs
            for version in uftp_schema.VERSIONS:
                assert uftp_schema.problems(message, version) == [], version
        [status] = answer.flex_order_settlement_statuses
        assert status.order_reference == order.order_reference
        assert status.disposition == AcceptedDisputed.ACCEPTED
        short = world.dso.settlement_for(
            [(order, dict.fromkeys(numbers, 1000))],
            period_start=period,
            period_end=period,
        )
        await world.dso.send(short)
        disputed = await world.dso.wait_for(
            FlexSettlementResponse,
            lambda r: r.flex_settlement_message_id == short.message_id,
        )
        [status] = disputed.flex_order_settlement_statuses
        assert status.disposition == AcceptedDisputed.DISPUTED
        assert "3950 W" in (status.dispute_reason or "")
        async with bare_service.sessions() as session:
            row = (await session.execute(select(UftpFlexOrderRow))).scalar_one()
        assert row.settlement is not None
        assert row.settlement["disposition"] == "Disputed"


async def test_settlement_reads_the_delivered_flex_once_per_order(
    bare_service: AggregatorService, tmp_path: Path, keys: Keys
) -> None:
    """#19 item 8: one read of delivered flexibility for an order, not one per ISP.

    Each read fits the street's baselines on a week of telemetry; one per
    ISP made the demo's 14-ISP settlement outlast the DSO's 30 s timeout.
    """
    calls: list[tuple[datetime, datetime]] = []

    async def delivered(
        point: str, start: datetime, end: datetime
    ) -> Sequence[IntervalDelivery]:
        calls.append((start, end))
        quarters = int((end - start) / ISP_DURATION)
        return [
            IntervalDelivery(
                start=start + n * ISP_DURATION,
                end=start + (n + 1) * ISP_DURATION,
                baseline_kw=8.0,
                measured_kw=8.0 - (3.0 + n),
                delivered_kw=3.0 + n,
            )
            for n in range(quarters)
        ]

    add_synthetic_homes(bare_service, bare_service.clock.now(), [0.1, 0.2, 0.3, 0.4])
    async with uftp_world(bare_service, tmp_path, keys, delivered=delivered) as world:
        _, offer, numbers = await _offer(world)
        assert len(numbers) >= 2
        order = await world.dso.order_offer(offer, "P100")
        await world.dso.wait_for(FlexOrderResponse)
        period = offer.period.to_date()
        settlement = world.dso.settlement_for(
            [(order, {n: 3000 + 1000 * i for i, n in enumerate(numbers)})],
            period_start=period,
            period_end=period,
        )
        await world.dso.send(settlement)
        answer = await world.dso.wait_for(FlexSettlementResponse)
        [status] = answer.flex_order_settlement_statuses
        assert status.disposition == AcceptedDisputed.ACCEPTED, status.dispute_reason
        assert calls == [
            (
                isp_start(period, numbers[0], ZONE),
                isp_start(period, numbers[-1], ZONE) + ISP_DURATION,
            )
        ]


async def test_offer_survives_a_restart(
    bare_service: AggregatorService, tmp_path: Path, keys: Keys
) -> None:
    add_synthetic_homes(bare_service, bare_service.clock.now(), [0.1, 0.2, 0.3, 0.4])
    async with uftp_world(bare_service, tmp_path, keys) as world:
        _, offer, _ = await _offer(world)
    # A new agent (a restarted aggregator) still knows the offer it made.
    async with uftp_world(bare_service, tmp_path, keys) as world:
        order = await world.dso.order_offer(offer, "P50")
        response = await world.dso.wait_for(FlexOrderResponse)
        assert response.flex_order_message_id == order.message_id
        assert response.result == AcceptedRejected.ACCEPTED


async def test_repeated_request_is_answered_again_and_changes_nothing(
    world: UftpWorld,
) -> None:
    request, _, _ = await _offer(world)
    await world.agent.outbox.idle()
    before = await table_counts(world.service)
    first = world.dso.of_type(FlexRequestResponse)
    await world.dso.send(request)  # the same MessageID and content
    await world.dso.wait_for(
        FlexRequestResponse,
        lambda r: len(world.dso.of_type(FlexRequestResponse)) > len(first),
    )
    await world.agent.outbox.idle()
    again = world.dso.of_type(FlexRequestResponse)[-1]
    assert again.message_id == first[-1].message_id  # the very same response
    assert again.result == AcceptedRejected.ACCEPTED
    assert len(world.dso.of_type(FlexOffer)) == 1
    assert await table_counts(world.service) == before


async def test_no_flexibility_means_no_offer(
    bare_service: AggregatorService, tmp_path: Path, keys: Keys
) -> None:
    async with uftp_world(bare_service, tmp_path, keys) as world:
        period, numbers = current_isps(world.service.clock.now())
        request = await world.dso.request_flexibility(
            congestion_point=ADDRESS,
            period=period,  # type: ignore[arg-type]
            isps=[RequestedIsp(isp=n, reduction_w=3000) for n in numbers],
            now=world.service.clock.now(),
        )
        response = await world.dso.wait_for(FlexRequestResponse)
        assert response.flex_request_message_id == request.message_id
        assert response.result == AcceptedRejected.ACCEPTED
        await world.agent.outbox.idle()
        assert world.dso.of_type(FlexOffer) == []


async def test_d_prognosis_on_demand(world: UftpWorld) -> None:
    period, _ = current_isps(world.service.clock.now())
    message_id = await world.agent.send_d_prognosis(POINT, period, DSO_DOMAIN)  # type: ignore[arg-type]
    prognosis = await world.dso.wait_for(
        DPrognosis, lambda p: p.message_id == message_id
    )
    assert prognosis.congestion_point == ADDRESS
    assert {i.power for i in prognosis.isps} == {8000}
    second = await world.agent.send_d_prognosis(POINT, period, DSO_DOMAIN)  # type: ignore[arg-type]
    assert (
        await world.dso.wait_for(DPrognosis, lambda p: p.message_id == second)
    ).revision == 2


async def test_every_message_of_the_flow_follows_the_uftp_xsd_and_its_rules(
    world: UftpWorld,
) -> None:
    """#19 items 7-8 and the XSDs: each message both ways, and the answers the DSO owes."""
    request, offer, _ = await _offer(world)
    order = await world.dso.order_offer(offer, "P100")
    await world.dso.wait_for(
        FlexOrderResponse, lambda r: r.flex_order_message_id == order.message_id
    )
    prognosis = await world.dso.wait_for(DPrognosis)
    # One clock: the request was stamped before it expires.
    assert request.time_stamp is not None
    assert request.time_stamp < request.expiration_date_time
    # The DSO answered the offer and the D-Prognosis, and accepted the offer
    # (it expires within its ISPs).
    async with asyncio.timeout(10):
        while len(world.dso.responses_sent) < 2:  # noqa: ASYNC110 - a list the DSO's thread fills
            await asyncio.sleep(0.02)
    answers = {type(m).__name__: m for m in world.dso.responses_sent}
    assert answers["FlexOfferResponse"].flex_offer_message_id == offer.message_id
    assert answers["FlexOfferResponse"].result == AcceptedRejected.ACCEPTED
    assert answers["DPrognosisResponse"].d_prognosis_message_id == prognosis.message_id
    sent_by_agr = world.dso.received
    assert {type(m).__name__ for m in sent_by_agr} >= {
        "FlexRequestResponse",
        "FlexOffer",
        "FlexOrderResponse",
        "DPrognosis",
    }
    for message in [*sent_by_agr, request, order, *world.dso.responses_sent]:
        assert message.version == "3.1.0"
        for version in uftp_schema.VERSIONS:  # 3.0.0 receivers read them too
            found = uftp_schema.problems(message, version)
            assert found == [], f"{type(message).__name__} against {version}"


def test_the_dso_refuses_an_offer_valid_after_its_last_isp() -> None:
    """The test DSO checks what the AGR sends (UFTP §3.5)."""
    offer = FlexOffer(
        isp_duration=XmlDuration("PT15M"),
        time_zone="Europe/Amsterdam",
        period=XmlDate(2026, 1, 15),
        congestion_point=ADDRESS,
        expiration_date_time="2026-01-15T12:45:00+00:00",
        flex_request_message_id="00000000-0000-4000-8000-000000000001",
        currency="EUR",
        offer_options=[
            FlexOfferOption(
                option_reference="P100",
                price=1,
                isps=[FlexOfferOptionISP(start=54, duration=2, power=-1000)],
            )
        ],
    )
    assert offer_problem(offer) is None  # ISP 55 ends 13:45 local = 12:45 UTC
    offer.expiration_date_time = "2026-01-15T12:46:00+00:00"
    problem = offer_problem(offer)
    assert problem is not None
    assert problem.startswith("Expiration DateTime Out Of Bounds")
