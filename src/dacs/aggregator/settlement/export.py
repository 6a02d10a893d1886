"""CSV exports of statements and deliveries (for bookkeeping and the grid operator)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
import csv
import io
import math

from dacs.aggregator.storage.tables import SettlementStatementRow
from dacs.protocol import format_time

from .delivered import HomeDelivery

STATEMENT_COLUMNS = (
    "period",
    "home_id",
    "congestion_point_id",
    "delivered_kwh",
    "price_eur_per_kwh",
    "earnings_eur",
    "extra_gas_m3",
    "gas_compensation_eur",
    "total_eur",
    "events",
    "final",
    "issued_at",
    "published_at",
)
DELIVERY_COLUMNS = (
    "home_id",
    "start",
    "end",
    "baseline_kw",
    "measured_kw",
    "delivered_kw",
    "limited",
)


def statements_csv(rows: Iterable[SettlementStatementRow]) -> str:
    """One line per home; amounts in euro, energy in kWh, gas in m³, times in UTC."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(STATEMENT_COLUMNS)
    for row in rows:
        writer.writerow(
            (
                row.period,
                row.home_id,
                row.congestion_point_id,
                f"{row.delivered_kwh:.4f}",
                f"{row.price_eur_per_kwh:.4f}",
                f"{row.earnings_eur:.2f}",
                f"{row.extra_gas_m3:.4f}",
                f"{row.gas_compensation_eur:.2f}",
                f"{row.earnings_eur + row.gas_compensation_eur:.2f}",
                row.events,
                "true" if row.final else "false",
                format_time(row.issued_at),
                format_time(row.published_at) if row.published_at else "",
            )
        )
    return buffer.getvalue()


def deliveries_csv(deliveries: Sequence[HomeDelivery]) -> str:
    """One line per home and settled interval it reported in."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(DELIVERY_COLUMNS)
    for home in deliveries:
        for interval, limited in zip(
            home.intervals(), _reported_limits(home), strict=True
        ):
            writer.writerow(
                (
                    home.home_id,
                    format_time(interval.start),
                    format_time(interval.end),
                    f"{interval.baseline_kw:.3f}",
                    f"{interval.measured_kw:.3f}",
                    f"{interval.delivered_kw:.3f}",
                    "true" if limited else "false",
                )
            )
    return buffer.getvalue()


def _reported_limits(home: HomeDelivery) -> list[bool]:
    return [
        bool(limited)
        for limited, measured in zip(
            home.limited.tolist(), home.measured_kw.tolist(), strict=True
        )
        if not math.isnan(measured)  # the same filter as HomeDelivery.intervals()
    ]
