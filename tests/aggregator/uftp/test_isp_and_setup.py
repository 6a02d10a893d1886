"""ISP numbering across daylight saving, keys, the participants file and the settings."""

from __future__ import annotations

from datetime import UTC, date, datetime
import json
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from dacs.aggregator.uftp import (
    Participants,
    UftpConfig,
    UftpConfigError,
    UnknownParticipantError,
    generate_keypair,
    public_key,
)
from dacs.aggregator.uftp.isp import expand, isp_at, isp_count, isp_start
from dacs.aggregator.uftp.keys import load_signing_secret, signing_secret

from .conftest import write_participants

AMS = ZoneInfo("Europe/Amsterdam")


def test_isp_counts_follow_daylight_saving() -> None:
    assert isp_count(date(2026, 3, 29), AMS) == 92
    assert isp_count(date(2026, 10, 25), AMS) == 100
    assert isp_count(date(2026, 11, 30), AMS) == 96


def test_isp_times_are_elapsed_from_local_midnight() -> None:
    assert isp_start(date(2026, 11, 30), 1, AMS) == datetime(
        2026, 11, 29, 23, 0, tzinfo=UTC
    )
    # After the clocks go back, ISP 13 starts at 02:00 local for the second time.
    assert isp_start(date(2026, 10, 25), 13, AMS) == datetime(
        2026, 10, 25, 1, 0, tzinfo=UTC
    )
    assert isp_at(datetime(2026, 11, 30, 16, 20, tzinfo=UTC), AMS) == (
        date(2026, 11, 30),
        70,
    )
    with pytest.raises(ValueError, match="does not exist"):
        isp_start(date(2026, 3, 29), 93, AMS)


def test_expand_refuses_overlaps() -> None:
    assert expand([(3, 2, -10), (5, 1, -20)]) == {3: -10, 4: -10, 5: -20}
    with pytest.raises(ValueError, match="more than once"):
        expand([(3, 2, -10), (4, 1, -20)])
    with pytest.raises(ValueError, match="not positive"):
        expand([(3, 0, -10)])


def test_keys_round_trip(tmp_path: Path) -> None:
    secret, public = generate_keypair()
    assert public_key(secret) == public
    seed_only = (
        __import__("base64")
        .b64encode(__import__("base64").b64decode(secret)[:32])
        .decode()
    )
    assert signing_secret(seed_only) == secret
    path = tmp_path / "key"
    path.write_text(secret + "\n", encoding="utf-8")
    assert load_signing_secret(path) == secret
    for bad in ("not base64!", "AAAA"):
        with pytest.raises(UftpConfigError):
            signing_secret(bad)
    with pytest.raises(UftpConfigError, match="cannot read"):
        load_signing_secret(tmp_path / "missing")


def test_participants_file_toml_and_json(tmp_path: Path) -> None:
    _, public = generate_keypair()
    toml = write_participants(
        tmp_path / "p.toml",
        [("dso.example.com", "DSO", public, "http://127.0.0.1:1/x")],
    )
    participants = Participants.load(toml)
    assert participants.find("DSO.example.com", "DSO").public_key == public
    assert participants.public_key("dso.example.com", "AGR") is None
    with pytest.raises(UnknownParticipantError):
        participants.find("x.example.com", "DSO")
    as_json = tmp_path / "p.json"
    as_json.write_text(
        json.dumps(
            [
                {
                    "domain": "a.example.com",
                    "role": "dso",
                    "public_key": public,
                    "endpoint": "https://a/x",
                }
            ]
        ),
        encoding="utf-8",
    )
    assert Participants.load(as_json).endpoint("a.example.com", "DSO") == "https://a/x"


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (
            {
                "domain": "a.nl",
                "role": "DSO",
                "public_key": "AAAA",
                "endpoint": "http://x",
            },
            "32 bytes",
        ),
        (
            {
                "domain": "a.nl",
                "role": "BRP",
                "public_key": "AAAA",
                "endpoint": "http://x",
            },
            "role",
        ),
        (
            {"domain": "a.nl", "role": "DSO", "endpoint": "http://x"},
            "missing public_key",
        ),
        (
            {
                "domain": "a.nl",
                "role": "DSO",
                "public_key": "AAAA",
                "endpoint": "ftp://x",
            },
            "http",
        ),
    ],
)
def test_bad_participants_are_named(
    tmp_path: Path, entry: dict[str, str], message: str
) -> None:
    path = tmp_path / "p.json"
    path.write_text(json.dumps([entry]), encoding="utf-8")
    with pytest.raises(UftpConfigError, match=message):
        Participants.load(path)


def test_duplicate_participant_and_broken_file(tmp_path: Path) -> None:
    _, public = generate_keypair()
    entry = ("dso.example.com", "DSO", public, "http://127.0.0.1:1/x")
    with pytest.raises(UftpConfigError, match="twice"):
        Participants.load(write_participants(tmp_path / "p.toml", [entry, entry]))
    broken = tmp_path / "broken.toml"
    broken.write_text("[[participant]\n", encoding="utf-8")
    with pytest.raises(UftpConfigError, match=r"broken\.toml"):
        Participants.load(broken)


def test_config_checks() -> None:
    config = UftpConfig(congestion_points=("ea1.2020-01.example.com:cp1 = tr-1",))
    assert config.congestion_point_map == {"ea1.2020-01.example.com:cp1": "tr-1"}
    assert config.fractions == (1.0, 0.5)
    for bad in (
        {"isp_duration": "PT30M"},
        {"time_zone": "Mars/Olympus"},
        {"margin_eur_per_kwh": -1.0},
        {"congestion_points": ("no-equals",)},
        {"offer_fractions": ("2",)},
        {"enabled": True},
        {"retry_attempts": 0},
    ):
        with pytest.raises(UftpConfigError):
            UftpConfig(**bad)  # type: ignore[arg-type]
