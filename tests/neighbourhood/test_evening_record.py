"""The demo's evening on disk, and when it was over the limit."""

from __future__ import annotations

import csv
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from dacs.aggregator.domain.compliance import assess_compliance, isp_caps
from dacs.testbed.neighbourhood.counterfactual import LoadTrace
from dacs.testbed.neighbourhood.evening_record import (
    format_over_spans,
    over_spans,
    write_evening,
)

START = datetime(2025, 1, 20, 15, 0, tzinfo=UTC)  # 16:00 in Amsterdam


def _trace(total_kw: list[float]) -> LoadTrace:
    load = np.array(total_kw, dtype=np.float64)
    return LoadTrace(
        minutes=np.arange(len(load), dtype=np.float64),
        heat_pump_kw=load * 0.6,
        household_kw=load * 0.4,
        min_indoor_c=np.full(len(load), 19.5),
        gas_m3=0.0,
        electric_kwh=float(load.sum()) / 60,
    )


def test_over_spans_are_runs_of_minutes_with_their_worst_excess() -> None:
    load = np.array([9.0, 11.0, 12.5, 10.0, 9.0, 10.4, 9.0])
    limit = np.full(7, 10.0)
    spans = over_spans(START, load, limit)
    assert [(s.start, s.minutes) for s in spans] == [
        (START + timedelta(minutes=1), 2),
        (START + timedelta(minutes=5), 1),
    ]
    assert spans[0].worst_excess_kw == 2.5
    assert round(spans[1].worst_excess_kw, 6) == 0.4
    text = format_over_spans(spans)
    assert "16:01 (2 min, up to 2.5 kW)" in text
    assert "16:05 (1 min, up to 0.4 kW)" in text


def test_at_the_limit_is_not_over_and_a_run_to_the_end_is_closed() -> None:
    limit = np.full(4, 10.0)
    assert over_spans(START, np.full(4, 10.0), limit) == []
    assert format_over_spans([]) == "over the limit: never"
    closing = over_spans(START, np.array([9.0, 9.0, 11.0, 12.0]), limit)
    assert [(s.minutes, s.worst_excess_kw) for s in closing] == [(2, 2.0)]


def test_many_spans_are_summarised() -> None:
    load = np.tile([11.0, 9.0], 10)
    text = format_over_spans(over_spans(START, load, np.full(20, 10.0)), limit=3)
    assert text.endswith("and 7 more")


def test_the_evening_is_written_minute_by_minute_and_plotted(tmp_path: Path) -> None:
    minutes = 60
    uncontrolled = _trace([12.0] * minutes)
    controlled = _trace([9.0] * 30 + [10.5] * 30)
    limit = np.full(minutes, 10.0)
    compliance = assess_compliance(
        [START + timedelta(minutes=m) for m in range(minutes)],
        controlled.total_kw * 1000,
        isp_caps(START, START + timedelta(hours=1), lambda _: 10_000.0),
    )
    csv_path, plot_path = write_evening(
        tmp_path / "out",
        start=START,
        uncontrolled=uncontrolled,
        controlled=controlled,
        limit_kw=limit,
        compliance=compliance,
    )
    with csv_path.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == minutes
    assert rows[0]["local_time"] == "2025-01-20T16:00+01:00"
    assert rows[45]["with_control_kw"] == "10.500"
    assert rows[45]["without_control_kw"] == "12.000"
    assert rows[45]["limit_kw"] == "10.000"
    assert compliance.isps_over == 2  # the last two ISPs averaged 10.5 kW
    assert plot_path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert plot_path.stat().st_size > 10_000
