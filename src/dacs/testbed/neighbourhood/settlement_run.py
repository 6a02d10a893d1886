"""The evening's settlement: what the street delivered, and the statements sent to the homes."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
import statistics
import time

import numpy as np

from dacs.aggregator.api.settlement_routes import Settlement
from dacs.aggregator.domain.delivery import SETTLEMENT_INTERVAL
from dacs.aggregator.settlement.delivered import congestion_point_intervals
from dacs.aggregator.settlement.errors import BadPeriodError
from dacs.aggregator.settlement.periods import LOCAL_TIME, month_bounds, period_of
from dacs.home import HomeController

_HOURS = SETTLEMENT_INTERVAL.total_seconds() / 3600


@dataclass(frozen=True, kw_only=True)
class EveningSettlement:
    """The congestion point's delivery in the event window and the period's statements.

    Delivered energy covers the window only; the money comes from the
    period's statements (month to date), restricted to the point's homes.
    """

    congestion_point_id: str
    period: str
    start: datetime
    end: datetime
    homes: int  # homes behind the point
    homes_without_baseline: int  # no baseline in any settled interval
    baseline_kwh: float  # what the reporting homes would have drawn
    measured_kwh: float  # what they drew
    delivered_kwh: float
    homes_delivering: int
    homes_paid: int
    earnings_eur: float  # for delivered kWh
    gas_compensation_eur: float
    paid_min_eur: float  # per paid home, kWh and gas together
    paid_median_eur: float
    paid_max_eur: float
    statements_issued: int
    statements_published: int

    @property
    def paid_eur(self) -> float:
        """Everything paid to the point's residents."""
        return self.earnings_eur + self.gas_compensation_eur


async def settle_evening(
    settlement: Settlement,
    *,
    congestion_point_id: str,
    start: datetime,
    end: datetime,
    period: str | None = None,
) -> EveningSettlement:
    """Settle ``[start, end)`` and issue the period's statements to every home.

    Statements go out through the issuer, stored and published retained over
    MQTT, so each home controller receives its own. Only intervals that have
    passed on the settlement's clock count, and only telemetry already in
    the database: flush the telemetry writer first when the window has just
    ended. ``period`` defaults to the local month of ``start``.

    Raises:
        BadPeriodError: ``period`` is malformed, has not started, or does not
            hold ``start``.
        BadRangeError: ``start``/``end`` are naive, reversed or too far apart.
        UnknownCongestionPointError: no congestion point has this id.
    """
    period = period or period_of(start)
    first, last = month_bounds(period)
    if not first <= start < last:
        raise BadPeriodError(
            f"the window starting {start.isoformat()} lies outside period {period}"
        )
    deliveries = await settlement.flex.home_deliveries(congestion_point_id, start, end)
    issued = await settlement.issuer.issue(period)
    ours = [s for s in issued if s.congestion_point_id == congestion_point_id]
    intervals = congestion_point_intervals(deliveries)
    paid = sorted(s.settlement.total_eur for s in ours if s.settlement.total_eur > 0)
    return EveningSettlement(
        congestion_point_id=congestion_point_id,
        period=period,
        start=start,
        end=end,
        homes=len(deliveries),
        homes_without_baseline=sum(
            1
            for d in deliveries
            if len(d.baseline_kw) and not np.any(np.isfinite(d.baseline_kw))
        ),
        baseline_kwh=sum(i.baseline_kw for i in intervals) * _HOURS,
        measured_kwh=sum(i.measured_kw for i in intervals) * _HOURS,
        delivered_kwh=sum(d.delivered_kwh for d in deliveries),
        homes_delivering=sum(1 for d in deliveries if d.delivered_kwh > 0),
        homes_paid=len(paid),
        earnings_eur=sum(s.settlement.earnings_eur for s in ours),
        gas_compensation_eur=sum(s.settlement.gas_compensation_eur for s in ours),
        paid_min_eur=paid[0] if paid else 0.0,
        paid_median_eur=statistics.median(paid) if paid else 0.0,
        paid_max_eur=paid[-1] if paid else 0.0,
        statements_issued=len(ours),
        statements_published=sum(1 for s in ours if s.published),
    )


def statements_received(controllers: Iterable[HomeController], period: str) -> int:
    """How many home controllers hold their statement for ``period``."""
    return sum(
        1
        for controller in controllers
        if (statement := controller.snapshot.statement) is not None
        and statement.period == period
    )


async def wait_for_statements(
    controllers: Sequence[HomeController], period: str, *, timeout_s: float = 10.0
) -> int:
    """Wait (real time: the broker's delivery) until every controller holds its statement.

    Returns how many do when all have it or ``timeout_s`` has passed.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        received = statements_received(controllers, period)
        if received >= len(controllers) or time.monotonic() >= deadline:
            return received
        await asyncio.sleep(0.05)


def format_settlement(result: EveningSettlement, *, received: int | None = None) -> str:
    """A few lines a person reads after the demo's table."""
    begin = result.start.astimezone(LOCAL_TIME)
    finish = result.end.astimezone(LOCAL_TIME)
    lines = [
        (
            f"settlement {result.period}, {result.congestion_point_id}, "
            f"{begin:%d %b %H:%M} to {finish:%H:%M} local:"
        ),
        (
            f"delivered flexibility: {result.delivered_kwh:.1f} kWh by "
            f"{result.homes_delivering} of {result.homes} homes (street baseline "
            f"{result.baseline_kwh:.1f} kWh, drawn {result.measured_kwh:.1f} kWh)"
        ),
        (
            f"paid to residents: € {result.earnings_eur:.2f} for the kWh + "
            f"€ {result.gas_compensation_eur:.2f} for the gas = € {result.paid_eur:.2f}; "
            f"per paid home min € {result.paid_min_eur:.2f}, median "
            f"€ {result.paid_median_eur:.2f}, max € {result.paid_max_eur:.2f} "
            f"({result.homes_paid} homes paid)"
        ),
    ]
    statements = (
        f"statements: {result.statements_issued} issued, "
        f"{result.statements_published} published"
    )
    if received is not None:
        statements += f", {received} received by the homes"
    lines.append(statements)
    if result.homes_without_baseline:
        lines.append(
            f"no baseline for {result.homes_without_baseline} homes "
            "(too little history): they delivered nothing"
        )
    return "\n".join(lines)
