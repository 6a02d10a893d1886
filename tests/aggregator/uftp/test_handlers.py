"""The per-message handlers on their own: plain data in, rows and messages out, no database."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from shapeshifter_uftp import FlexRequest, FlexSettlement
from shapeshifter_uftp.uftp import (
    AcceptedDisputed,
    AvailableRequested,
    ContractSettlement,
    ContractSettlementISP,
    ContractSettlementPeriod,
    FlexOrderSettlement,
    FlexOrderSettlementISP,
    FlexRequestISP,
)
from xsdata.models.datatype import XmlDate, XmlDuration

from dacs.aggregator.storage.tables import UftpFlexOrderRow
from dacs.aggregator.uftp import MessageRejectedError, UftpConfig
from dacs.aggregator.uftp.envelope import OpenedMessage
from dacs.aggregator.uftp.errors import INVALID_CONGESTION_POINT
from dacs.aggregator.uftp.flex_request import AcceptedFlexRequest, process_flex_request
from dacs.aggregator.uftp.flex_settlement import process_flex_settlement
from dacs.aggregator.uftp.offers import HomeFlex

CONFIG = UftpConfig(domain="agr.example.com")
NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
DAY = date(2026, 1, 16)
DSO = "dso.example.com"


def opened(message: FlexRequest | FlexSettlement) -> OpenedMessage:
    """``message`` as if it came signed from the DSO."""
    message.sender_domain = DSO
    message.recipient_domain = CONFIG.domain
    message.message_id = "m-1"
    message.conversation_id = "c-1"
    return OpenedMessage(
        sender_domain=DSO, sender_role="DSO", message=message, digest="d"
    )


def flex_request(reduction_w: int) -> FlexRequest:
    """A request for ``reduction_w`` in ISPs 40 and 41 of tomorrow."""
    return FlexRequest(
        isp_duration=XmlDuration("PT15M"),
        period=XmlDate.from_date(DAY),
        congestion_point="ean.871234567890123451",
        revision=1,
        expiration_date_time=(NOW + timedelta(hours=1)).isoformat(),
        isps=[
            FlexRequestISP(
                disposition=AvailableRequested.REQUESTED,
                min_power=-reduction_w,
                max_power=-reduction_w,
                start=40,
                duration=2,
            )
        ],
    )


def homes(asks: Sequence[float]) -> list[HomeFlex]:
    """Homes of 1 kW each that may cover four ISPs."""
    return [
        HomeFlex(home_id=f"h-{i}", reducible_w=1000.0, ask_eur_per_kwh=ask, max_isps=4)
        for i, ask in enumerate(asks)
    ]


def test_a_flex_request_is_offered_from_the_homes_and_the_forecast() -> None:
    accepted = offered(flex_request(1500))
    assert [o.message_type for o in accepted.outgoing] == [
        "FlexRequestResponse",
        "FlexOffer",
    ]
    assert accepted.inbound.response_message_id == accepted.outgoing[0].message_id
    assert accepted.request.congestion_point_id == "tr-1"
    assert accepted.offer is not None
    assert accepted.offer.baseline_w == {"40": 20_000, "41": 20_000}
    assert [o["isps"] for o in accepted.offer.options] == [
        {"40": -1500, "41": -1500},
        {"40": -750, "41": -750},
    ]
    assert accepted.rows == (accepted.inbound, accepted.request, accepted.offer)


def test_nothing_to_offer_still_answers_the_request() -> None:
    accepted = process_flex_request(
        opened(flex_request(1500)),
        point_id="tr-1",
        homes=lambda point_id, now: [],
        forecast=lambda point_id, at, now: 20_000.0,
        config=CONFIG,
        now=NOW,
    )
    assert [o.message_type for o in accepted.outgoing] == ["FlexRequestResponse"]
    assert accepted.offer is None


def test_an_unknown_congestion_point_is_rejected_before_the_homes_are_read() -> None:
    def no_homes(point_id: str, now: datetime) -> list[HomeFlex]:
        raise AssertionError("read the homes of a rejected request")

    with pytest.raises(MessageRejectedError) as refused:
        process_flex_request(
            opened(flex_request(1500)),
            point_id=None,
            homes=no_homes,
            forecast=lambda point_id, at, now: 0.0,
            config=CONFIG,
            now=NOW,
        )
    assert refused.value.reason == INVALID_CONGESTION_POINT


def settlement(
    reference: str, delivered_w: int, start: int = 40
) -> FlexOrderSettlement:
    """The DSO's account of one order: ``delivered_w`` in ISP ``start``."""
    return FlexOrderSettlement(
        order_reference=reference,
        period=XmlDate.from_date(DAY),
        congestion_point="ean.871234567890123451",
        price=Decimal("1.0000"),
        net_settlement=Decimal("1.0000"),
        isps=[
            FlexOrderSettlementISP(
                start=start,
                baseline_power=20_000,
                ordered_flex_power=-1500,
                actual_power=18_500,
                delivered_flex_power=-delivered_w,
            )
        ],
    )


def order(reference: str) -> UftpFlexOrderRow:
    """A stored order of 1.5 kW in ISP 40."""
    return UftpFlexOrderRow(
        message_id=f"order-{reference}",
        order_reference=reference,
        congestion_point_id="tr-1",
        period=DAY.isoformat(),
        isps={"40": -1500},
    )


def test_a_flex_settlement_accepts_what_we_measured_and_disputes_the_rest() -> None:
    message = FlexSettlement(
        period_start=XmlDate.from_date(DAY),
        period_end=XmlDate.from_date(DAY),
        currency="EUR",
        contract_settlements=[
            ContractSettlement(
                periods=[
                    ContractSettlementPeriod(
                        period=XmlDate.from_date(DAY),
                        isps=[ContractSettlementISP(start=1, reserved_power=0)],
                    )
                ]
            )
        ],
        flex_order_settlements=[
            settlement("ok", 1500),
            settlement("short", 1500),
            settlement("unmeasured", 1500),
            settlement("unknown", 1500),
            settlement("no-such-isp", 1500, start=120),
        ],
    )
    accepted = process_flex_settlement(
        opened(message),
        orders={
            "ok": order("ok"),
            "short": order("short"),
            "unmeasured": order("unmeasured"),
            "unknown": None,
            "no-such-isp": order("no-such-isp"),
        },
        measured={
            "ok": {40: 1450.0},
            "short": {40: 900.0},
            "unmeasured": {40: None},
            "no-such-isp": {},
        },
        config=CONFIG,
        now=NOW,
    )
    assert accepted.response.message_type == "FlexSettlementResponse"
    records = dict(accepted.settled)
    assert records["order-ok"]["disposition"] == "Accepted"
    assert records["order-ok"]["delivered_w"] == {"40": 1450}
    assert records["order-short"]["dispute_reason"] == (
        "ISP 40: we measured 900 W, not 1500 W"
    )
    assert records["order-unmeasured"]["dispute_reason"] == (
        "no delivery data for ISP 40"
    )
    assert records["order-no-such-isp"]["dispute_reason"] == "ISP 120 does not exist"
    assert "order-unknown" not in records
    assert str(AcceptedDisputed.DISPUTED.value) in accepted.response.payload


def offered(request: FlexRequest) -> AcceptedFlexRequest:
    """``request`` answered from two 1 kW homes and a flat 20 kW forecast."""
    return process_flex_request(
        opened(request),
        point_id="tr-1",
        homes=lambda point_id, now: homes([0.1, 0.2]),
        forecast=lambda point_id, at, now: 20_000.0,
        config=CONFIG,  # offers valid for 240 minutes unless capped
        now=NOW,
    )


def test_an_offer_expires_no_later_than_its_last_isp() -> None:
    """#19 item 7: UFTP 3.5, an offer is not valid after the last ISP it offers."""
    today = NOW.date()  # 12:00 UTC = 13:00 in Amsterdam: ISP 53 starts now
    request = flex_request(1500)
    request.period = XmlDate.from_date(today)
    request.isps[0].start = 54  # 13:15-13:45 local = 12:15-12:45 UTC
    accepted = offered(request)
    assert accepted.offer is not None
    assert accepted.offer.expires_at == datetime(2026, 1, 15, 12, 45, tzinfo=UTC)
    (_, offer) = accepted.outgoing
    assert offer.message_type == "FlexOffer"
    # Tomorrow's offer keeps the configured validity (its ISPs end later).
    later = offered(flex_request(1500))
    assert later.offer is not None
    assert later.offer.expires_at == NOW + timedelta(minutes=240)
