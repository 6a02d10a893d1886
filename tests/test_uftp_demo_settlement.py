"""The demo's GOPACS stand-in settles each ISP with the delivery measured in that ISP (#19)."""

from __future__ import annotations

from typing import Any

from shapeshifter_uftp import FlexOrder, FlexSettlement
from shapeshifter_uftp.uftp import FlexOrderISP
from xsdata.models.datatype import XmlDate

from dacs.aggregator.clock import SystemClock
from dacs.testbed.neighbourhood.grid_signal import UftpOperator


class RecordingDso:
    """Keeps what the operator sends; never answers."""

    def __init__(self) -> None:
        self.sent: list[Any] = []

    async def send(self, message: Any) -> None:
        self.sent.append(message)

    async def wait_for(self, *_args: Any, **_kwargs: Any) -> Any:
        raise TimeoutError


def order(isps: dict[int, int]) -> FlexOrder:
    return FlexOrder(
        isp_duration="PT15M",
        time_zone="Europe/Amsterdam",
        period=XmlDate(2025, 1, 20),
        congestion_point="ean.871687140000000019",
        flex_offer_message_id="offer",
        option_reference="P100",
        price="1.00",
        currency="EUR",
        order_reference="order-1",
        isps=[FlexOrderISP(start=n, duration=1, power=p) for n, p in isps.items()],
        conversation_id="c",
        message_id="m",
    )


async def test_an_order_that_starts_after_the_profile_is_settled_isp_by_isp() -> None:
    """The profile's first two ISPs asked for nothing, so the order starts at its third.

    The delivery per profile interval must land on the same ISP: the old
    numbering from the order's first ISP moved every delivery two ISPs
    later, so an ISP ordered at 0.8 kW showed the 2 kW of an earlier one.
    """
    operator = UftpOperator(SystemClock())
    dso = RecordingDso()
    operator.dso = dso  # type: ignore[assignment]  # only send and wait_for are used
    operator.orders = [order({67: -2000, 68: -800})]
    # What announce() keeps: the profile starts at ISP 65 (16:00).
    operator._first_isp = 65
    operator._baseline_w = {65: 70000, 66: 71000, 67: 73000, 68: 75000}
    note = await operator.settle(None, "tr-1", [0.0, 0.1, 2.5, 0.8])  # type: ignore[arg-type]  # the port is not used
    (settlement,) = dso.sent
    assert isinstance(settlement, FlexSettlement)
    (settled,) = settlement.flex_order_settlements
    assert [
        (i.start, i.baseline_power, i.ordered_flex_power, i.delivered_flex_power)
        for i in settled.isps
    ] == [(67, 73000, -2000, -2500), (68, 75000, -800, -800)]
    assert {i.power_deficiency for i in settled.isps} == {0}
    # Beyond the order is delivered, stated, and not paid (UFTP pays the order).
    assert note is not None
    assert "0.7 kWh in 2 ISPs; delivered 0.8 kWh" in note
    assert "beyond the order in 1 ISPs (at most 500 W more, not paid)" in note


async def test_a_short_delivery_is_a_power_deficiency() -> None:
    """An ISP delivered short carries its PowerDeficiency, and the note says so."""
    operator = UftpOperator(SystemClock())
    dso = RecordingDso()
    operator.dso = dso  # type: ignore[assignment]  # only send and wait_for are used
    operator.orders = [order({65: -2000})]
    operator._first_isp = 65
    note = await operator.settle(None, "tr-1", [1.5])  # type: ignore[arg-type]  # the port is not used
    (settled,) = dso.sent[0].flex_order_settlements
    assert [(i.delivered_flex_power, i.power_deficiency) for i in settled.isps] == [
        (-1500, 500)
    ]
    assert note is not None
    assert "short in 1 ISPs (PowerDeficiency)" in note
