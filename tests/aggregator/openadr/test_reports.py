"""Report payloads: built to the NL-flex profile, complete or not at all."""

from __future__ import annotations

from datetime import timedelta

from dacs.aggregator.domain.delivery import IntervalDelivery
from dacs.aggregator.openadr import nlflex_profile, reports
from dacs.aggregator.openadr.plans import DispatchInterval

from .conftest import SP_EAN, START

INTERVALS = [
    DispatchInterval(
        interval_id=0, start=START, duration=timedelta(hours=1), flex_kw=0.0
    ),
    DispatchInterval(
        interval_id=1,
        start=START + timedelta(hours=1),
        duration=timedelta(hours=2),
        flex_kw=5.0,
    ),
]


def quarters(count: int, delivered_kw: float) -> list[IntervalDelivery]:
    return [
        IntervalDelivery(
            start=START + i * timedelta(minutes=15),
            end=START + (i + 1) * timedelta(minutes=15),
            baseline_kw=10,
            measured_kw=10 - delivered_kw,
            delivered_kw=delivered_kw,
        )
        for i in range(count)
    ]


def test_every_report_passes_the_profile() -> None:
    built = [
        reports.acknowledgement(event_id="e", client_name=SP_EAN),
        reports.flex_delta(
            event_id="e", client_name=SP_EAN, active_kw=3.456, reserved_kw=0
        ),
        reports.operational_status(
            anchor_event_id="a",
            client_name=SP_EAN,
            statuses={"home-1": reports.OperationalStatus.ERROR},
        ),
        reports.registration(
            anchor_event_id="a",
            client_name=SP_EAN,
            group_object_id="5f0e8a4e-0000-4000-8000-000000000001",
            resource_ids=["5f0e8a4e-0000-4000-8000-000000000002"],
        ),
    ]
    for report in built:
        assert nlflex_profile.violations(report) == (), report.report_name


def test_flex_delta_never_offers_more_than_available() -> None:
    report = reports.flex_delta(
        event_id="e", client_name=SP_EAN, active_kw=3.459, reserved_kw=0
    )
    values = {
        str(p.type): p.values[0] for p in report.resources[0].intervals[0].payloads
    }
    assert values == {"ACTIVE_FLEX_DELTA": -3.45, "RESERVED_FLEX_DELTA": 0.0}


def test_delivered_flex_per_quarter_hour() -> None:
    report = reports.delivered_flex(
        event_id="e",
        client_name=SP_EAN,
        intervals=INTERVALS,
        deliveries=quarters(12, 1.2345),
    )
    assert report is not None
    first, second = report.resources[0].intervals
    assert first.payloads[0].values == (1.23,) * 4
    assert len(second.payloads[0].values) == 8
    assert nlflex_profile.violations(report) == ()


def test_delivered_flex_waits_for_every_quarter() -> None:
    assert (
        reports.delivered_flex(
            event_id="e",
            client_name=SP_EAN,
            intervals=INTERVALS,
            deliveries=quarters(11, 1.0),
        )
        is None
    )


def test_a_report_from_a_bad_client_name_is_caught() -> None:
    report = reports.acknowledgement(event_id="e", client_name="SP-ZON")
    assert any("EAN13" in m for m in nlflex_profile.violations(report))


def test_interval_records_round_trip() -> None:
    assert (
        reports.intervals_from_records(reports.interval_records(INTERVALS)) == INTERVALS
    )
