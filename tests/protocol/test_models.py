"""The Python models and the JSON Schemas agree, for any value the models can hold."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
import json

from hypothesis import given, strategies as st
import pytest

from dacs.protocol import (
    Ack,
    AckReason,
    AckResult,
    Channel,
    Command,
    CommandReason,
    DeviceSummary,
    LimitSource,
    Participation,
    PowerInterval,
    Preferences,
    Statement,
    Status,
    Telemetry,
    decode,
    encode,
    parse_topic,
    topic,
    wildcard,
)
from dacs.protocol.schema import validate

home_ids = st.from_regex(r"[a-z0-9][a-z0-9-]{2,20}", fullmatch=True)
ids = st.from_regex(r"[A-Za-z0-9._:-]{1,40}", fullmatch=True)
moments = st.datetimes(
    min_value=datetime(2024, 1, 1),  # noqa: DTZ001 - hypothesis adds the zone
    max_value=datetime(2030, 1, 1),  # noqa: DTZ001
    timezones=st.just(UTC),
).map(lambda d: d.replace(microsecond=d.microsecond // 1000 * 1000))
power = st.floats(0, 100000, allow_nan=False)
temperature = st.one_of(st.none(), st.floats(-60, 100, allow_nan=False))


@st.composite
def commands(draw: st.DrawFn) -> Command:
    start = draw(moments)
    intervals = []
    cursor = start
    for _ in range(draw(st.integers(1, 8))):
        cursor += timedelta(seconds=draw(st.integers(0, 3600)))
        duration = draw(st.integers(60, 3600))
        intervals.append(
            PowerInterval(start=cursor, duration_s=duration, max_power_w=draw(power))
        )
        cursor += timedelta(seconds=duration)
    issued = start - timedelta(seconds=draw(st.integers(0, 3600)))
    return Command(
        home_id=draw(home_ids),
        command_id=draw(ids),
        issued_at=issued,
        expires_at=issued + timedelta(seconds=draw(st.integers(1, 86400))),
        reason=draw(st.sampled_from(CommandReason)),
        envelope=tuple(intervals),
    )


@st.composite
def telemetries(draw: st.DrawFn) -> Telemetry:
    return Telemetry(
        home_id=draw(home_ids),
        seq=draw(st.integers(0, 2**53 - 1)),
        boot_id=draw(ids),
        ts=draw(moments),
        electric_power_w=draw(st.one_of(st.none(), power)),
        thermal_power_w=draw(st.one_of(st.none(), power)),
        boiler_active=draw(st.one_of(st.none(), st.booleans())),
        boiler_thermal_w=draw(st.one_of(st.none(), power)),
        indoor_temp_c=draw(temperature),
        outdoor_temp_c=draw(temperature),
        flow_temp_c=draw(temperature),
        electric_energy_kwh=draw(
            st.one_of(st.none(), st.floats(0, 1e7, allow_nan=False))
        ),
        limit_w=draw(st.one_of(st.none(), power)),
        limit_source=draw(st.sampled_from(LimitSource)),
        command_id=draw(st.one_of(st.none(), ids)),
        participation=draw(st.sampled_from(Participation)),
        comfort_override=draw(st.booleans()),
        device_fault=draw(st.one_of(st.none(), st.integers(0, 65535))),
    )


@st.composite
def preferences(draw: st.DrawFn) -> Preferences:
    participation = draw(st.sampled_from(Participation))
    return Preferences(
        home_id=draw(home_ids),
        ts=draw(moments),
        participation=participation,
        paused_until=draw(moments)
        if participation is Participation.PAUSED
        else draw(st.one_of(st.none(), moments)),
        comfort_floor_c=draw(st.floats(10, 25, allow_nan=False)),
        min_compensation_eur_per_kwh=draw(st.floats(0, 10, allow_nan=False)),
        max_curtailment_minutes=draw(st.integers(0, 1440)),
    )


@st.composite
def statuses(draw: st.DrawFn) -> Status:
    online = draw(st.booleans())
    device = DeviceSummary(
        profile=draw(st.sampled_from(["dacs", "nibe_s"])),
        manufacturer="ACME",
        model="X",
        nominal_power_w=draw(power),
        safety_floor_w=draw(power),
        limit_step_w=draw(st.floats(1, 1000)),
        supports_gas_only=draw(st.booleans()),
        native_watchdog=draw(st.booleans()),
    )
    return Status(
        home_id=draw(home_ids),
        ts=draw(moments),
        online=online,
        device=device if online else None,
        telemetry_interval_s=draw(st.integers(1, 3600)),
        software="dacs-hw test",
    )


messages = st.one_of(
    commands(),
    telemetries(),
    preferences(),
    statuses(),
    st.builds(
        Ack,
        home_id=home_ids,
        command_id=ids,
        ts=moments,
        result=st.sampled_from(AckResult),
        reason_code=st.sampled_from(AckReason),
        # No control characters: the protocol refuses them in every string.
        detail=st.text(
            alphabet=st.characters(exclude_categories=("Cc", "Cs")), max_size=100
        ),
    ),
    st.builds(
        Statement,
        home_id=home_ids,
        issued_at=moments,
        period=st.just("2025-02"),
        delivered_kwh=st.floats(0, 1e4, allow_nan=False),
        earnings_eur=st.floats(0, 1e4, allow_nan=False),
        events=st.integers(0, 100),
        gas_compensation_eur=st.floats(0, 1e3, allow_nan=False),
        final=st.booleans(),
    ),
)


@given(messages)
def test_every_model_value_satisfies_its_schema_and_round_trips(
    message: object,
) -> None:
    payload = encode(message)  # type: ignore[arg-type]
    document = json.loads(payload)
    validate(document, document["type"])
    back = decode(payload, channel=message.channel)  # type: ignore[attr-defined]
    if isinstance(message, Statement):
        assert back.to_dict() == message.to_dict()
    else:
        assert back == message


@given(commands(), st.integers(-7200, 7200))
def test_limit_at_follows_the_envelope(command: Command, offset_s: int) -> None:
    moment = command.envelope[0].start + timedelta(seconds=offset_s)
    limit = command.limit_at(moment)
    inside = [i for i in command.envelope if i.covers(moment)]
    if moment >= command.expires_at or not inside:
        assert limit is None
    else:
        assert limit == inside[0].max_power_w
    assert command.ends_at <= command.expires_at


def test_preferences_need_an_end_to_a_pause() -> None:
    with pytest.raises(ValueError, match="paused_until"):
        Preferences(
            home_id="h-001", ts=datetime.now(UTC), participation=Participation.PAUSED
        )


def test_topics() -> None:
    assert topic("h-0042", Channel.COMMAND) == "dacs/v1/h-0042/command"
    assert wildcard(Channel.TELEMETRY) == "dacs/v1/+/telemetry"
    assert parse_topic("dacs/v1/h-0042/telemetry") == ("h-0042", Channel.TELEMETRY)
    for bad in (
        "dacs/v2/h-0042/telemetry",
        "dacs/v1/h-0042/reboot",
        "dacs/v1/H+/ack",
        "x",
    ):
        with pytest.raises(
            ValueError, match=r"not a DACS|invalid home id|unknown channel"
        ):
            parse_topic(bad)
    with pytest.raises(ValueError, match="invalid home id"):
        topic("../etc", Channel.ACK)
