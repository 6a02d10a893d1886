"""The demo's verdict: the same evening with and without control, side by side."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
import math
import statistics

import numpy as np
from numpy.typing import NDArray

from dacs.aggregator.domain.compliance import (
    ComplianceReport,
    assess_compliance,
    isp_caps,
)
from dacs.aggregator.domain.envelope import CapacityEnvelope

from .counterfactual import LoadTrace
from .scenario import Scenario


@dataclass(frozen=True, kw_only=True)
class Summary:
    """What the demo prints."""

    homes: int
    rated_kw: float
    event_cap_kw: float
    peak_uncontrolled_kw: float
    peak_controlled_kw: float
    minutes_over_uncontrolled: float
    minutes_over_controlled: float
    # How far over, not only how long: a minute 0.2 kW over is not a minute 15 kW over.
    excess_kwh_uncontrolled: float
    excess_kwh_controlled: float
    worst_excess_uncontrolled_kw: float
    worst_excess_controlled_kw: float
    lowest_indoor_uncontrolled_c: float
    lowest_indoor_controlled_c: float
    gas_uncontrolled_m3: float
    gas_controlled_m3: float
    homes_curtailed: int
    curtailed_minutes_min: float
    curtailed_minutes_median: float
    curtailed_minutes_max: float
    curtailment_spread: float  # coefficient of variation among curtailed homes
    commands_sent: int
    shortfall_minutes: float
    # The grid operator's view: per 15-minute ISP of the event.
    compliance_uncontrolled: ComplianceReport
    compliance_controlled: ComplianceReport

    @property
    def extra_gas_m3(self) -> float:
        """Gas the boilers burned because heat pumps were limited."""
        return self.gas_controlled_m3 - self.gas_uncontrolled_m3


def limit_per_minute(
    scenario: Scenario, event: CapacityEnvelope, rated_kw: float, minutes: int
) -> NDArray[np.float64]:
    """The transformer limit in force in each minute: the event's cap or the rating."""
    limits = np.full(minutes, rated_kw)
    for minute in range(minutes):
        cap = event.cap_at(scenario.start + timedelta(minutes=minute))
        if cap is not None:
            limits[minute] = min(rated_kw, cap.cap_w / 1000)
    return limits


def event_compliance(
    scenario: Scenario, trace: LoadTrace, event: CapacityEnvelope, rated_kw: float
) -> ComplianceReport:
    """The trace's compliance with the event's caps (never above the rating), per ISP."""
    rated_w = rated_kw * 1000

    def cap_w_at(moment: datetime) -> float | None:
        cap = event.cap_at(moment)
        return min(rated_w, cap.cap_w) if cap is not None else None

    times = [scenario.start + timedelta(minutes=float(m)) for m in trace.minutes]
    return assess_compliance(
        times,
        trace.total_kw * 1000,
        isp_caps(event.start, event.end, cap_w_at),
    )


def summarise(
    *,
    scenario: Scenario,
    uncontrolled: LoadTrace,
    controlled: LoadTrace,
    curtailed_minutes: list[float],
    event: CapacityEnvelope,
    rated_kw: float,
    commands_sent: int,
    shortfall_minutes: float,
) -> Summary:
    """Compare the two runs."""
    minutes = min(len(uncontrolled.minutes), len(controlled.minutes))
    limits = limit_per_minute(scenario, event, rated_kw, minutes)
    excess_before = np.maximum(uncontrolled.total_kw[:minutes] - limits, 0.0)
    excess_after = np.maximum(controlled.total_kw[:minutes] - limits, 0.0)
    over_before = float(np.sum(excess_before > 1e-6))
    over_after = float(np.sum(excess_after > 1e-6))
    curtailed = [m for m in curtailed_minutes if m > 0]
    spread = (
        statistics.pstdev(curtailed) / statistics.mean(curtailed)
        if len(curtailed) > 1
        else 0.0
    )
    return Summary(
        homes=scenario.homes,
        rated_kw=rated_kw,
        event_cap_kw=min(i.cap_w for i in event.intervals) / 1000,
        peak_uncontrolled_kw=float(uncontrolled.total_kw.max()),
        peak_controlled_kw=float(controlled.total_kw.max()),
        minutes_over_uncontrolled=over_before,
        minutes_over_controlled=over_after,
        excess_kwh_uncontrolled=float(excess_before.sum()) / 60.0,
        excess_kwh_controlled=float(excess_after.sum()) / 60.0,
        worst_excess_uncontrolled_kw=float(excess_before.max(initial=0.0)),
        worst_excess_controlled_kw=float(excess_after.max(initial=0.0)),
        lowest_indoor_uncontrolled_c=float(uncontrolled.min_indoor_c.min()),
        lowest_indoor_controlled_c=float(controlled.min_indoor_c.min()),
        gas_uncontrolled_m3=uncontrolled.gas_m3,
        gas_controlled_m3=controlled.gas_m3,
        homes_curtailed=len(curtailed),
        curtailed_minutes_min=min(curtailed, default=0.0),
        curtailed_minutes_median=statistics.median(curtailed) if curtailed else 0.0,
        curtailed_minutes_max=max(curtailed, default=0.0),
        curtailment_spread=spread,
        commands_sent=commands_sent,
        shortfall_minutes=shortfall_minutes,
        compliance_uncontrolled=event_compliance(
            scenario, uncontrolled, event, rated_kw
        ),
        compliance_controlled=event_compliance(scenario, controlled, event, rated_kw),
    )


def format_summary(summary: Summary) -> str:
    """A table a person reads at the end of the demo."""
    before, after = summary.compliance_uncontrolled, summary.compliance_controlled
    rows = [
        ("", "without control", "with DACS-HW"),
        (
            "peak transformer load",
            f"{summary.peak_uncontrolled_kw:.1f} kW",
            f"{summary.peak_controlled_kw:.1f} kW",
        ),
        (
            "minutes over the limit",
            f"{summary.minutes_over_uncontrolled:.0f}",
            f"{summary.minutes_over_controlled:.0f}",
        ),
        (
            "energy over the limit",
            f"{summary.excess_kwh_uncontrolled:.1f} kWh",
            f"{summary.excess_kwh_controlled:.1f} kWh",
        ),
        (
            "largest excess",
            f"{summary.worst_excess_uncontrolled_kw:.1f} kW",
            f"{summary.worst_excess_controlled_kw:.1f} kW",
        ),
        (
            f"ISPs over the limit (of {len(before.isps)})",
            f"{before.isps_over}",
            f"{after.isps_over}",
        ),
        (
            "largest ISP excess",
            f"{before.worst_isp_excess_w / 1000:.1f} kW ({_percent(before.worst_isp_excess_share)})",
            f"{after.worst_isp_excess_w / 1000:.1f} kW ({_percent(after.worst_isp_excess_share)})",
        ),
        (
            "lowest indoor temperature",
            f"{summary.lowest_indoor_uncontrolled_c:.1f} °C",
            f"{summary.lowest_indoor_controlled_c:.1f} °C",
        ),
        (
            "gas burned by the boilers",
            f"{summary.gas_uncontrolled_m3:.1f} m³",
            f"{summary.gas_controlled_m3:.1f} m³",
        ),
    ]
    width = max(len(r[0]) for r in rows) + 2
    lines = [f"{r[0]:<{width}}{r[1]:>18}{r[2]:>18}" for r in rows]
    lines += [
        "",
        f"limit: {summary.rated_kw:.0f} kW rated, {summary.event_cap_kw:.1f} kW during the congestion event",
        f"extra gas for the flexibility: {summary.extra_gas_m3:.1f} m³",
        (
            f"homes curtailed: {summary.homes_curtailed} of {summary.homes}; minutes curtailed per home "
            f"min {summary.curtailed_minutes_min:.0f}, median {summary.curtailed_minutes_median:.0f}, "
            f"max {summary.curtailed_minutes_max:.0f} (spread {summary.curtailment_spread:.0%})"
        ),
        f"commands sent: {summary.commands_sent}; minutes with too little flexibility: {summary.shortfall_minutes:.0f}",
    ]
    return "\n".join(lines)


def _percent(share: float) -> str:
    return f"{share:.0%}" if math.isfinite(share) else "n/a"


def format_alerts(alerts: Mapping[str, int]) -> str:
    """The aggregator's alerts of the evening, by kind, in one line."""
    if not alerts:
        return "alerts raised by the aggregator: none"
    listed = ", ".join(f"{kind} {count}" for kind, count in sorted(alerts.items()))
    return f"alerts raised by the aggregator: {listed}"


# Two control cycles late: a cycle did not run in time.
LATE_S = 60.0


def format_clock_lag(
    lag_s: NDArray[np.float64],
    load_kw: NDArray[np.float64],
    limits_kw: NDArray[np.float64],
    speed: float,
) -> str:
    """Whether the run kept its accelerated clock, and the minutes over while it did not.

    Every real second the event loop lags, ``speed`` simulated seconds pass
    without a control cycle: minutes over then tell of a busy machine.
    """
    minutes = min(len(lag_s), len(load_kw), len(limits_kw))
    late = lag_s[:minutes] > LATE_S
    over = load_kw[:minutes] - limits_kw[:minutes] > 1e-6
    worst = float(lag_s[:minutes].max(initial=0.0))
    return (
        f"simulated clock: worst lag {worst:.0f} s at {speed:.0f}x, "
        f"{int(late.sum())} minutes sampled more than {LATE_S:.0f} s late; "
        f"minutes over the limit while on time {int((over & ~late).sum())}, "
        f"while late {int((over & late).sum())}"
    )
