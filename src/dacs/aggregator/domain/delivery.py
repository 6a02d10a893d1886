"""Delivered flexibility per settlement interval: the shape the grid adapters report.

The settlement package computes these from telemetry and baselines; the
OpenADR VEN (``DELIVERED_FLEX`` reports) and the UFTP aggregator
(``FlexSettlement``) only read them, through :class:`DeliveredFlexSource`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

SETTLEMENT_INTERVAL = timedelta(minutes=15)


@dataclass(frozen=True, kw_only=True)
class IntervalDelivery:
    """What a congestion point (or one home) delivered in one 15-minute interval.

    Powers are interval averages in kW; ``delivered_kw`` is baseline minus
    measured, never negative (a home that used more than its baseline delivered
    nothing, it is not charged for it).
    """

    start: datetime
    end: datetime
    baseline_kw: float
    measured_kw: float
    delivered_kw: float
    homes_reporting: int = 0

    def __post_init__(self) -> None:
        """Intervals are aware, ordered and never deliver a negative amount."""
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("interval bounds must be timezone-aware")
        if self.end <= self.start:
            raise ValueError("interval end must be after its start")
        if self.delivered_kw < 0:
            raise ValueError("delivered flexibility cannot be negative")

    @property
    def delivered_kwh(self) -> float:
        """Energy not drawn in this interval."""
        return self.delivered_kw * (self.end - self.start).total_seconds() / 3600.0


def deliveries_per_isp(
    intervals: Iterable[IntervalDelivery],
) -> dict[datetime, IntervalDelivery]:
    """The deliveries that span one whole ISP, by the ISP's start.

    The compliance answer, the VEN's ``DELIVERED_FLEX`` and the AGR's check of
    a ``FlexSettlement`` all look an ISP's delivery up here, so the grid
    operator is told one figure per ISP whichever way it asks.
    """
    return {d.start: d for d in intervals if d.end - d.start == SETTLEMENT_INTERVAL}


class DeliveredFlexSource(Protocol):
    """Reads delivered flexibility of a congestion point over a time range."""

    async def __call__(
        self, congestion_point_id: str, start: datetime, end: datetime
    ) -> Sequence[IntervalDelivery]:
        """The intervals between ``start`` and ``end`` that have fully passed."""
        ...
