"""Which ingest the instances of a cluster split, and which every instance hears."""

from __future__ import annotations

from dacs.aggregator.mqtt.link import ingest_filters


def test_telemetry_and_acks_are_shared_status_and_preferences_are_heard_by_all() -> (
    None
):
    assert sorted(ingest_filters("dacs")) == [
        "$share/dacs/dacs/v1/+/ack",
        "$share/dacs/dacs/v1/+/telemetry",
        "dacs/v1/+/preferences",
        "dacs/v1/+/status",
    ]
    # A broker without shared subscriptions (one instance): all plain.
    assert sorted(ingest_filters("")) == [
        "dacs/v1/+/ack",
        "dacs/v1/+/preferences",
        "dacs/v1/+/status",
        "dacs/v1/+/telemetry",
    ]
