"""FlexSettlement -> FlexSettlementResponse: each order's delivery checked against ours."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from shapeshifter_uftp import AcceptedRejected, FlexSettlement, FlexSettlementResponse
from shapeshifter_uftp.uftp import AcceptedDisputed, FlexOrderSettlementStatus

from dacs.aggregator.domain.delivery import IntervalDelivery, deliveries_per_isp
from dacs.aggregator.storage.tables import UftpFlexOrderRow, UftpInboundRow

from . import isp as isps
from .config import UftpConfig
from .envelope import OpenedMessage
from .errors import ISP_CONFLICT, MessageRejectedError
from .header import accept, expect
from .outbox import Outgoing

# ISP number -> the flex (W) we measured in it, None without data; an ISP the
# period does not have is left out.
type MeasuredIsps = Mapping[int, float | None]


@dataclass(frozen=True, kw_only=True)
class AcceptedFlexSettlement:
    """What an accepted FlexSettlement stores and sends."""

    inbound: UftpInboundRow
    settled: tuple[tuple[str, dict[str, Any]], ...]  # (order MessageID, record)
    response: Outgoing


def isp_windows(
    order: UftpFlexOrderRow, item: Any, config: UftpConfig
) -> dict[int, tuple[datetime, datetime]]:
    """The ISPs an order's settlement names that the period has, with their time span."""
    period = date.fromisoformat(order.period)
    windows = {}
    for number in sorted(_theirs(item)):
        try:
            start = isps.isp_start(period, number, config.zone)
        except ValueError:
            continue
        windows[number] = (start, start + isps.ISP_DURATION)
    return windows


def delivered_w(
    intervals: Sequence[IntervalDelivery],
    windows: Mapping[int, tuple[datetime, datetime]],
) -> dict[int, float | None]:
    """The delivered flex (W) of each ISP, None where the settlement has none for it."""
    by_isp = deliveries_per_isp(intervals)
    return {
        number: by_isp[start].delivered_kw * 1000 if start in by_isp else None
        for number, (start, _) in windows.items()
    }


def process_flex_settlement(
    opened: OpenedMessage,
    *,
    orders: Mapping[str, UftpFlexOrderRow | None],
    measured: Mapping[str, MeasuredIsps],
    config: UftpConfig,
    now: datetime,
) -> AcceptedFlexSettlement:
    """Accept or dispute each order of a FlexSettlement.

    ``orders`` and ``measured`` are keyed by OrderReference: the order the
    DSO placed under it (None: unknown) and what we measured per ISP.
    """
    message = expect(opened.message, FlexSettlement)
    statuses: list[FlexOrderSettlementStatus] = []
    settled: list[tuple[str, dict[str, Any]]] = []
    for item in message.flex_order_settlements:
        order = orders.get(item.order_reference)
        if order is None:
            statuses.append(
                FlexOrderSettlementStatus(
                    order_reference=item.order_reference,
                    disposition=AcceptedDisputed.DISPUTED,
                    dispute_reason="Unknown order reference",
                )
            )
            continue
        dispute, ours = _check_delivery(
            order, item, measured.get(item.order_reference, {}), config
        )
        statuses.append(
            FlexOrderSettlementStatus(
                order_reference=item.order_reference,
                disposition=AcceptedDisputed.DISPUTED
                if dispute
                else AcceptedDisputed.ACCEPTED,
                dispute_reason=dispute,
            )
        )
        settled.append(
            (
                order.message_id,
                {
                    "settlement_message_id": message.message_id,
                    "disposition": "Disputed" if dispute else "Accepted",
                    "dispute_reason": dispute,
                    "delivered_w": ours,
                    "price": str(item.price),
                    "net_settlement": str(item.net_settlement),
                },
            )
        )
    acceptance = accept(
        FlexSettlementResponse(
            flex_settlement_message_id=message.message_id,
            result=AcceptedRejected.ACCEPTED,
            flex_order_settlement_statuses=statuses,
        ),
        opened,
        config,
        now=now,
    )
    return AcceptedFlexSettlement(
        inbound=acceptance.inbound,
        settled=tuple(settled),
        response=acceptance.response,
    )


def _theirs(item: Any) -> dict[int, int]:
    """The DSO's delivered flex (W) per ISP of one order's settlement."""
    try:
        return isps.expand(
            (i.start, i.duration, abs(i.delivered_flex_power)) for i in item.isps
        )
    except ValueError as err:
        raise MessageRejectedError(f"{ISP_CONFLICT}: {err}") from err


def _check_delivery(
    order: UftpFlexOrderRow, item: Any, measured: MeasuredIsps, config: UftpConfig
) -> tuple[str | None, dict[str, int]]:
    """Compare the DSO's delivered flex per ISP with ours; a dispute reason or None."""
    ours: dict[str, int] = {}
    problems: list[str] = []
    for number, delivered_w in sorted(_theirs(item).items()):
        if number not in measured:
            problems.append(f"ISP {number} does not exist")
            continue
        ours_w = measured[number]
        if ours_w is None:
            problems.append(f"no delivery data for ISP {number}")
            continue
        ours[str(number)] = round(ours_w)
        ordered_w = abs(int(order.isps.get(str(number), 0)))
        tolerance = max(
            config.settlement_tolerance_w,
            config.settlement_tolerance_fraction * ordered_w,
        )
        if abs(ours_w - delivered_w) > tolerance:
            problems.append(
                f"ISP {number}: we measured {ours_w:.0f} W, not {delivered_w} W"
            )
    return ("; ".join(problems)[:500] or None), ours
