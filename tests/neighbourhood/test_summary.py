"""The demo's verdict on hand-made traces: minute figures and the grid operator's ISPs."""

from __future__ import annotations

from datetime import timedelta

import numpy as np

from dacs.testbed.neighbourhood.counterfactual import LoadTrace
from dacs.testbed.neighbourhood.live import event_profile
from dacs.testbed.neighbourhood.scenario import Scenario
from dacs.testbed.neighbourhood.summary import (
    format_clock_lag,
    format_summary,
    summarise,
)

SCENARIO = Scenario(
    homes=2,
    duration=timedelta(hours=2),
    event_start=timedelta(minutes=30),
    event_duration=timedelta(hours=1),
)


def _trace(total_kw: np.ndarray) -> LoadTrace:
    return LoadTrace(
        minutes=np.arange(total_kw.size, dtype=np.float64),
        heat_pump_kw=total_kw,
        household_kw=np.zeros(total_kw.size),
        min_indoor_c=np.full(total_kw.size, 20.0),
        gas_m3=1.0,
        electric_kwh=1.0,
    )


def test_summary_reports_isps_next_to_minutes() -> None:
    """Uncontrolled: every event ISP over; controlled: one minute over, no ISP over."""
    event = event_profile(SCENARIO, cap_kw=10.0, start_kw=12.0)
    uncontrolled = np.full(120, 12.0)
    controlled = np.full(120, 9.0)
    controlled[50] = 11.0  # one minute over the 10.7 kW cap; its ISP stays under
    summary = summarise(
        scenario=SCENARIO,
        uncontrolled=_trace(uncontrolled),
        controlled=_trace(controlled),
        curtailed_minutes=[30.0, 0.0],
        event=event,
        rated_kw=12.0,
        commands_sent=3,
        shortfall_minutes=0.0,
    )
    before, after = summary.compliance_uncontrolled, summary.compliance_controlled
    assert len(before.isps) == 4
    # With four ISPs the ramps in and out meet: caps 11.3, 10.7, 10.7, 11.3 kW.
    assert [i.cap_w for i in before.isps] == [11300.0, 10700.0, 10700.0, 11300.0]
    assert before.isps_over == 4
    assert before.worst_isp_excess_w == 1300.0
    assert after.isps_over == 0
    assert after.minutes_over == 1
    text = format_summary(summary)
    assert "minutes over the limit" in text
    assert "ISPs over the limit (of 4)" in text
    assert "largest ISP excess" in text
    assert "1.3 kW (12%)" in text


def test_minutes_over_are_told_apart_by_whether_the_clock_was_kept() -> None:
    lag = np.array([0.0, 5.0, 200.0, 90.0, 1.0])
    load = np.array([9.0, 11.0, 11.0, 9.0, 11.0])
    line = format_clock_lag(lag, load, np.full(5, 10.0), speed=120)
    assert line == (
        "simulated clock: worst lag 200 s at 120x, 2 minutes sampled more than "
        "60 s late; minutes over the limit while on time 2, while late 1"
    )
