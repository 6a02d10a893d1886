"""What a run achieved, as the grid operator and the residents see it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
from numpy.typing import NDArray

from dacs.aggregator.domain.compliance import ComplianceReport, assess_compliance
from dacs.aggregator.domain.envelope import CapacityInterval

from .fast_run import FastRun

# An ISP whose excess lies within this of the least possible one is counted
# as short of flexibility, not as a control error.
_BEYOND_SHORTFALL_W = 100.0


@dataclass(frozen=True, kw_only=True)
class RunOutcome:
    """One controller's figures on one scenario."""

    controller: str
    compliance: ComplianceReport  # the event's ISPs (an emergency stop's left out)
    after_isps_over: int  # ISPs of the hour after the event over their cap
    extra_gas_m3: float  # against the same evening without control
    min_indoor_c: float  # the coldest home during the event
    homes_curtailed: int
    fairness: (
        float  # Jain's index of curtailed energy over the homes that could take part
    )
    commands: int
    not_following_alerts: int
    shortfall_minutes: float
    emergency_heat_pump_kw: float | None  # mean heat pump load during an emergency stop

    @property
    def isps_over(self) -> int:
        """Event ISPs whose mean lay over the cap."""
        return self.compliance.isps_over


def jain_index(values: NDArray[np.float64]) -> float:
    """1 when everyone gives the same, 1/n when one home gives everything."""
    if values.size == 0 or not values.any():
        return 1.0
    return float(values.sum() ** 2 / (values.size * (values**2).sum()))


def assess_run(
    run: FastRun,
    uncontrolled: FastRun,
    *,
    caps: tuple[CapacityInterval, ...],
    after_caps: tuple[CapacityInterval, ...],
    event: tuple[datetime, datetime],
    emergency: tuple[datetime, datetime] | None,
    taking_part: NDArray[np.bool_],
) -> RunOutcome:
    """Figures of ``run`` against the uncontrolled run of the same scenario."""
    compliance = assess_compliance(run.times, run.total_w, caps)
    after = assess_compliance(run.times, run.total_w, after_caps)
    stamps = np.array([t.timestamp() for t in run.times])
    during = (stamps >= event[0].timestamp()) & (stamps < event[1].timestamp())
    curtailed_wh = np.maximum(
        uncontrolled.event_electric_wh - run.event_electric_wh, 0.0
    )
    emergency_kw = None
    if emergency is not None:
        # From the first full minute after the stop reached the homes.
        window = (stamps >= (emergency[0] + timedelta(minutes=1)).timestamp()) & (
            stamps < emergency[1].timestamp()
        )
        emergency_kw = float(run.heat_pump_w[window].mean()) / 1000
    return RunOutcome(
        controller=run.controller,
        compliance=compliance,
        after_isps_over=after.isps_over,
        extra_gas_m3=float(run.gas_m3.sum() - uncontrolled.gas_m3.sum()),
        min_indoor_c=float(run.min_indoor_c[during].min()),
        homes_curtailed=int((run.curtailed_minutes > 0).sum()),
        fairness=jain_index(curtailed_wh[taking_part]),
        commands=run.commands,
        not_following_alerts=run.not_following_alerts,
        shortfall_minutes=run.shortfall_minutes,
        emergency_heat_pump_kw=emergency_kw,
    )


def overlaps(interval: CapacityInterval, window: tuple[datetime, datetime]) -> bool:
    """True when the interval and the window share a moment."""
    return interval.start < window[1] and interval.end > window[0]


def over_by_more_than_shortfall(
    outcome: RunOutcome, shortfall_w: NDArray[np.float64]
) -> int:
    """ISPs over the cap by more than the least excess the flexibility allowed."""
    return sum(
        1
        for isp, short in zip(outcome.compliance.isps, shortfall_w, strict=False)
        if isp.excess_w > short + _BEYOND_SHORTFALL_W
    )
