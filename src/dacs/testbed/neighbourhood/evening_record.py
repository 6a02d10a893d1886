"""The demo's evening on disk: a per-minute CSV and a plot a person can look at."""

from __future__ import annotations

from collections.abc import Sequence
import csv
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import matplotlib as mpl

mpl.use("Agg")  # no screen: render straight to PNG

import matplotlib.pyplot as plt
import numpy as np
from numpy.typing import NDArray

from dacs.aggregator.domain.compliance import ComplianceReport
from dacs.aggregator.domain.envelope import AMSTERDAM

from .counterfactual import LoadTrace

CSV_NAME = "evening.csv"
PLOT_NAME = "evening.png"


@dataclass(frozen=True, kw_only=True)
class OverSpan:
    """A run of consecutive minutes over the limit."""

    start: datetime
    minutes: int
    worst_excess_kw: float


def over_spans(
    start: datetime, load_kw: NDArray[np.float64], limit_kw: NDArray[np.float64]
) -> list[OverSpan]:
    """The runs of minutes where the load lay over the limit, in time order."""
    excess = load_kw[: len(limit_kw)] - limit_kw[: len(load_kw)]
    spans: list[OverSpan] = []
    first: int | None = None
    for minute, value in enumerate([*excess.tolist(), 0.0]):
        if value > 1e-6 and first is None:
            first = minute
        elif value <= 1e-6 and first is not None:
            spans.append(
                OverSpan(
                    start=start + timedelta(minutes=first),
                    minutes=minute - first,
                    worst_excess_kw=float(excess[first:minute].max()),
                )
            )
            first = None
    return spans


def format_over_spans(spans: Sequence[OverSpan], limit: int = 6) -> str:
    """One line naming when the street was over (local time)."""
    if not spans:
        return "over the limit: never"
    listed = [
        f"{span.start.astimezone(AMSTERDAM):%H:%M} ({span.minutes} min, "
        f"up to {span.worst_excess_kw:.1f} kW)"
        for span in spans[:limit]
    ]
    more = f" and {len(spans) - limit} more" if len(spans) > limit else ""
    return f"over the limit at: {', '.join(listed)}{more}"


def write_evening(
    out: Path,
    *,
    start: datetime,
    uncontrolled: LoadTrace,
    controlled: LoadTrace,
    limit_kw: NDArray[np.float64],
    compliance: ComplianceReport,
) -> tuple[Path, Path]:
    """Write ``evening.csv`` and ``evening.png`` into ``out``; return both paths."""
    out.mkdir(parents=True, exist_ok=True)
    minutes = min(len(uncontrolled.minutes), len(controlled.minutes), len(limit_kw))
    csv_path = out / CSV_NAME
    with csv_path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            [
                "local_time",
                "limit_kw",
                "without_control_kw",
                "with_control_kw",
                "lowest_indoor_without_c",
                "lowest_indoor_with_c",
            ]
        )
        for minute in range(minutes):
            moment = start + timedelta(minutes=minute)
            writer.writerow(
                [
                    moment.astimezone(AMSTERDAM).isoformat(timespec="minutes"),
                    f"{limit_kw[minute]:.3f}",
                    f"{uncontrolled.total_kw[minute]:.3f}",
                    f"{controlled.total_kw[minute]:.3f}",
                    f"{uncontrolled.min_indoor_c[minute]:.2f}",
                    f"{controlled.min_indoor_c[minute]:.2f}",
                ]
            )
    plot_path = out / PLOT_NAME
    _plot(
        plot_path,
        start=start,
        uncontrolled=uncontrolled,
        controlled=controlled,
        limit_kw=limit_kw[:minutes],
        compliance=compliance,
    )
    return csv_path, plot_path


def _plot(
    path: Path,
    *,
    start: datetime,
    uncontrolled: LoadTrace,
    controlled: LoadTrace,
    limit_kw: NDArray[np.float64],
    compliance: ComplianceReport,
) -> None:
    """Load with and without control, the limit, and each ISP's mean as the DSO sees it."""
    minutes = len(limit_kw)
    first_hour = start.astimezone(AMSTERDAM)
    hours = first_hour.hour + first_hour.minute / 60 + np.arange(minutes) / 60
    fig, ax = plt.subplots(figsize=(10, 4), dpi=90)
    ax.plot(
        hours,
        uncontrolled.total_kw[:minutes],
        color="#999999",
        linewidth=1.0,
        label="without control",
    )
    ax.plot(
        hours,
        controlled.total_kw[:minutes],
        color="#0072b2",
        linewidth=1.4,
        label="with DACS-HW",
    )
    ax.step(
        hours, limit_kw, where="post", color="#d55e00", linewidth=1.4, label="limit"
    )
    for number, isp in enumerate(compliance.isps):
        left = hours[0] + (isp.start - start).total_seconds() / 3600
        ax.hlines(
            isp.average_w / 1000,
            left,
            left + 0.25,
            color="#cc0000" if isp.over else "#009e73",
            linewidth=3,
            label="ISP mean (DSO view)" if number == 0 else "_nolegend_",
        )
    ax.set_xlabel("local time (h)")
    ax.set_ylabel("transformer load (kW)")
    ax.set_title(
        f"{compliance.isps_over} of {len(compliance.isps)} ISPs over the cap, "
        f"{compliance.minutes_over} minutes over"
    )
    top = max(float(uncontrolled.total_kw.max()), float(limit_kw.max())) * 1.08
    ax.set_ylim(0, top)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left", fontsize=8, ncol=4)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
