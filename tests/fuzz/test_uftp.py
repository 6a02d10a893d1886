"""What the AGR accepts over UFTP: the signed envelope, then each handler's reading of it.

The envelope is fuzzed as bytes (broken XML, entity bombs, flipped bytes of
a real signed message); the handlers get messages a trusted DSO really
signed, whose attribute values are hostile (numbers of 400 digits, dates
no calendar has, negative durations), so every value reaches the code that
reads it. ``open_envelope`` may only raise TransportRefusedError; a
handler only MessageRejectedError (the UFTP rejection a DSO receives).
"""

from __future__ import annotations

from base64 import b64decode
from datetime import UTC, date, datetime, timedelta
import re
from typing import Any

from hypothesis import given, strategies as st
from nacl.bindings import crypto_sign
import pytest
from shapeshifter_uftp import FlexRequest, FlexSettlement, SignedMessage, transport
from shapeshifter_uftp.uftp import (
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
from dacs.aggregator.uftp import UftpConfig, generate_keypair
from dacs.aggregator.uftp.envelope import OpenedMessage, open_envelope, to_xml
from dacs.aggregator.uftp.errors import MessageRejectedError, TransportRefusedError
from dacs.aggregator.uftp.flex_request import process_flex_request
from dacs.aggregator.uftp.flex_settlement import process_flex_settlement
from dacs.aggregator.uftp.header import check_routing
from dacs.aggregator.uftp.offers import HomeFlex
from dacs.aggregator.uftp.participants import Participant, Participants

from .budget import budget
from .inputs import HOSTILE_LITERALS, hostile_text
from .properties import result_or_own_error

CONFIG = UftpConfig(domain="agr.example.com")
DSO = "dso.example.com"
NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
DAY = date(2026, 1, 16)
DSO_SECRET, DSO_PUBLIC = generate_keypair()
PARTICIPANTS = Participants(
    [
        Participant(
            domain=DSO,
            role="DSO",
            public_key=DSO_PUBLIC,
            endpoint="http://127.0.0.1:9/",
        )
    ]
)


def _headed[M: FlexRequest | FlexSettlement](message: M) -> M:
    message.sender_domain = DSO
    message.recipient_domain = CONFIG.domain
    message.message_id = "6a1f9c58-0000-4000-8000-000000000001"
    message.conversation_id = "6a1f9c58-0000-4000-8000-000000000002"
    message.time_stamp = NOW.isoformat()
    message.version = "3.0.0"
    return message


REQUEST = to_xml(
    _headed(
        FlexRequest(
            isp_duration=XmlDuration("PT15M"),
            time_zone="Europe/Amsterdam",
            period=XmlDate.from_date(DAY),
            congestion_point="ean.871234567890123451",
            revision=1,
            expiration_date_time=(NOW + timedelta(hours=1)).isoformat(),
            isps=[
                FlexRequestISP(
                    disposition=AvailableRequested.REQUESTED,
                    min_power=-1500,
                    max_power=-1500,
                    start=40,
                    duration=2,
                )
            ],
        )
    )
)
SETTLEMENT = to_xml(
    _headed(
        FlexSettlement(
            period_start=XmlDate.from_date(DAY),
            period_end=XmlDate.from_date(DAY),
            currency="EUR",
            flex_order_settlements=[
                FlexOrderSettlement(
                    order_reference="order-1",
                    period=XmlDate.from_date(DAY),
                    contract_id="c-1",
                    d_prognosis_message_id="6a1f9c58-0000-4000-8000-000000000003",
                    baseline_reference="b-1",
                    congestion_point="ean.871234567890123451",
                    price=12.5,
                    penalty=0,
                    net_settlement=12.5,
                    isps=[
                        FlexOrderSettlementISP(
                            start=40,
                            duration=1,
                            baseline_power=20000,
                            ordered_flex_power=-1500,
                            actual_power=18500,
                            delivered_flex_power=-1500,
                            power_deficiency=0,
                        )
                    ],
                )
            ],
            contract_settlements=[
                ContractSettlement(
                    contract_id="c-1",
                    periods=[
                        ContractSettlementPeriod(
                            period=XmlDate.from_date(DAY),
                            isps=[
                                ContractSettlementISP(
                                    start=40, duration=1, reserved_power=0
                                )
                            ],
                        )
                    ],
                )
            ],
        )
    )
)
_ATTRIBUTE = re.compile(r'(\w+)="([^"]*)"')

hostile_values = st.one_of(
    st.sampled_from(HOSTILE_LITERALS),
    st.sampled_from(
        [
            "-1",
            "0",
            "2147483648",
            "-9223372036854775809",
            "1.5",
            "PT0M",
            "P1000000D",
            "2026-02-30",
            "9999-12-31T23:59:59+14:00",
            "0001-01-01T00:00:00-12:00",
            "Europe/Nowhere",
            "ean.",
            "NaN",
            "",
        ]
    ),
    st.integers().map(str),
    hostile_text.map(
        lambda t: t.replace('"', "").replace("<", "").replace("&", "")[:3000]
    ),
)


@st.composite
def hostile_xml(draw: st.DrawFn, xml: str) -> str:
    """``xml`` with one to three attribute values replaced."""
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        spots = list(_ATTRIBUTE.finditer(xml))
        spot = draw(st.sampled_from(spots))
        value = draw(hostile_values)
        xml = xml[: spot.start(2)] + value + xml[spot.end(2) :]
    return xml


def _signed(xml: str) -> bytes:
    """``xml`` signed by the DSO as it is: a trusted peer with a bug in its writer."""
    body = crypto_sign(xml.encode("utf-8", "surrogatepass"), b64decode(DSO_SECRET))
    envelope = SignedMessage(sender_domain=DSO, sender_role="DSO", body=body)
    signed: str = transport.to_xml(envelope)
    return signed.encode()


def _opened(xml: str) -> OpenedMessage | None:
    """The message as the AGR opens it; None when it refuses the envelope."""
    body = _signed(xml)
    return result_or_own_error(
        lambda: open_envelope(body, PARTICIPANTS), TransportRefusedError
    )


ENTITY_BOMB = (
    b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa">'
    + b"".join(
        f'<!ENTITY {chr(98 + n)} "{("&" + chr(97 + n) + ";") * 10}">'.encode()
        for n in range(6)
    )
    + b']><SignedMessage SenderDomain="&g;" SenderRole="DSO" Body="AAAA"/>'
)
EXTERNAL_ENTITY = (
    b'<?xml version="1.0"?><!DOCTYPE s [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
    b'<SignedMessage SenderDomain="&x;" SenderRole="DSO" Body="AAAA"/>'
)


@st.composite
def envelopes(draw: st.DrawFn) -> bytes:
    body = _signed(REQUEST)
    position = draw(st.integers(min_value=0, max_value=len(body) - 1))
    return draw(
        st.one_of(
            st.just(body[:position]),
            st.binary(min_size=1, max_size=3).map(
                lambda b: body[:position] + b + body[position + 1 :]
            ),
            st.sampled_from(
                [ENTITY_BOMB, EXTERNAL_ENTITY, b"<" * 5000, b"<a>" * 20000, b""]
            ),
            st.binary(max_size=300),
            hostile_xml(body.decode()).map(
                lambda x: x.encode("utf-8", "surrogatepass")
            ),
        )
    )


@budget()
@given(body=envelopes())
def test_open_envelope(body: bytes) -> None:
    opened = result_or_own_error(
        lambda: open_envelope(body, PARTICIPANTS), TransportRefusedError
    )
    if opened is not None:
        assert opened.sender_domain == DSO


def _homes(_point: str, _now: datetime) -> list[HomeFlex]:
    return [
        HomeFlex(home_id=f"h-{i}", reducible_w=1000.0, ask_eur_per_kwh=0.1, max_isps=4)
        for i in range(3)
    ]


@budget()
@given(xml=hostile_xml(REQUEST))
def test_flex_request(xml: str) -> None:
    opened = _opened(xml)
    if opened is None:
        return

    def handle() -> Any:
        check_routing(opened, CONFIG)
        return process_flex_request(
            opened,
            point_id="tr-1",
            homes=_homes,
            forecast=lambda point_id, at, now: 20_000.0,
            config=CONFIG,
            now=NOW,
        )

    result_or_own_error(handle, MessageRejectedError)


ORDER = UftpFlexOrderRow(
    message_id="order-1",
    flex_offer_message_id="offer-1",
    conversation_id="c-1",
    sender_domain=DSO,
    order_reference="order-1",
    option_reference="o-1",
    congestion_point_id="tr-1",
    period=DAY.isoformat(),
    isps={"40": -1500},
    price="12.5",
    currency="EUR",
    event_id="uftp-1",
    received_at=NOW,
)


@budget()
@given(xml=hostile_xml(SETTLEMENT))
def test_flex_settlement(xml: str) -> None:
    opened = _opened(xml)
    if opened is None:
        return

    def handle() -> Any:
        check_routing(opened, CONFIG)
        return process_flex_settlement(
            opened,
            orders={"order-1": ORDER},
            measured={"order-1": {40: -1400.0}},
            config=CONFIG,
            now=NOW,
        )

    result_or_own_error(handle, MessageRejectedError)


def _with(xml: str, attribute: str, value: str) -> str:
    return re.sub(
        rf'(?<![\w-]){attribute}="[^"]*"', f'{attribute}="{value}"', xml, count=1
    )


def test_a_value_of_the_wrong_type_is_refused_with_the_envelope() -> None:
    """Found by test_flex_request: xsdata kept Start="abc" as text, the handler
    failed with TypeError and the DSO got a 500 (and retried for ever)."""
    with pytest.raises(TransportRefusedError) as refused:
        open_envelope(_signed(_with(REQUEST, "Start", "abc")), PARTICIPANTS)
    assert refused.value.status == 400


def test_an_integer_beyond_a_long_is_refused_with_the_envelope() -> None:
    """Found by test_flex_settlement: a DeliveredFlexPower of 10**400 overflowed a float."""
    xml = _with(SETTLEMENT, "DeliveredFlexPower", "1" + "0" * 400)
    with pytest.raises(TransportRefusedError, match="beyond a 64-bit integer"):
        open_envelope(_signed(xml), PARTICIPANTS)


def test_isps_outside_any_day_are_rejected_without_counting_them() -> None:
    """Found by test_flex_settlement: a Duration of 0 raised ValueError; one of
    10**15 would have been expanded ISP by ISP."""
    for duration in ("0", "1000000000000000"):
        opened = _opened(_with(SETTLEMENT, "Duration", duration))
        assert opened is not None
        with pytest.raises(MessageRejectedError):
            process_flex_settlement(
                opened,
                orders={"order-1": ORDER},
                measured={"order-1": {40: -1400.0}},
                config=CONFIG,
                now=NOW,
            )
