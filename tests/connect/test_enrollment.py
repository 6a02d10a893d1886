"""Enrollment against a real HTTPS server implementing the API."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
import stat
from typing import NamedTuple

import pytest

from dacs.connect import (
    ConnectOptions,
    EnrollmentClient,
    EnrollmentCodeExpiredError,
    EnrollmentCodeUsedError,
    EnrollmentConnectionError,
    EnrollmentError,
    EnrollmentInvalidCodeError,
    EnrollmentRateLimitedError,
    EnrollmentResponseError,
    EnrollmentServerError,
    EnrollmentSetupError,
    EnrollmentTimeoutError,
    EnrollmentTlsError,
    EnrollmentUnknownCodeError,
    NotEnrolledError,
    ensure_enrollment,
    load_enrollment,
)
from dacs.testbed.servers import find_free_port

from .conftest import CODE, HOME_ID, Answer, FakeServer, enrollment_body, error_body


def _options(server: FakeServer, code: str | None = CODE) -> ConnectOptions:
    return ConnectOptions(aggregator_url=server.url, enrollment_code=code)


async def test_enrolls_once_and_reuses_the_result(
    fake_aggregator: FakeServer, ca_file: Path, tmp_path: Path
) -> None:
    store = tmp_path / "enrollment.json"
    stored = await ensure_enrollment(_options(fake_aggregator), store, ca_file=ca_file)
    assert stored.response.home_id == HOME_ID
    assert stored.response.mqtt.password == "home-one-secret-0123456789"
    assert stored.aggregator_url == fake_aggregator.url
    headers, body = fake_aggregator.requests[0]
    assert body["code"] == CODE
    assert body["client"].startswith("dacs-connect/")
    assert headers["Content-Type"] == "application/json"
    # Credentials on disk: owner only, written in one piece, no code in clear.
    assert stat.S_IMODE(store.stat().st_mode) == 0o600
    assert CODE not in store.read_text()
    assert await asyncio.to_thread(os.listdir, tmp_path) == ["enrollment.json"]
    # A restart with the same options reuses the stored enrollment ...
    again = await ensure_enrollment(_options(fake_aggregator), store, ca_file=ca_file)
    assert again == stored == load_enrollment(store)
    # ... also when the code has been removed from the options.
    await ensure_enrollment(_options(fake_aggregator, None), store, ca_file=ca_file)
    assert len(fake_aggregator.requests) == 1
    # A new code enrolls again and replaces the stored result.
    fake_aggregator.answers.append(Answer(201, enrollment_body(home_id="h-0002")))
    moved = await ensure_enrollment(
        _options(fake_aggregator, "WXYZ-2345-6789"), store, ca_file=ca_file
    )
    assert moved.response.home_id == "h-0002"
    assert load_enrollment(store) == moved
    assert len(fake_aggregator.requests) == 2


class ErrorCase(NamedTuple):
    status: int
    body: object
    error: type[EnrollmentError]
    temporary: bool
    headers: dict[str, str] = {}  # noqa: RUF012 - never mutated


@pytest.mark.parametrize(
    "case",
    [
        ErrorCase(400, error_body("malformed", "bad code"), EnrollmentInvalidCodeError, False),
        ErrorCase(404, error_body("unknown_code", "who?"), EnrollmentUnknownCodeError, False),
        ErrorCase(409, error_body("code_used", "used"), EnrollmentCodeUsedError, False),
        ErrorCase(410, error_body("code_expired", "too late"), EnrollmentCodeExpiredError, False),
        ErrorCase(
            429, error_body("rate_limited", "slow down"), EnrollmentRateLimitedError, True,
            {"Retry-After": "7"},
        ),
        ErrorCase(500, error_body("internal", "oops"), EnrollmentServerError, True),
        ErrorCase(503, b"<html>Service Unavailable</html>", EnrollmentServerError, True),
        ErrorCase(403, b"", EnrollmentResponseError, True),
    ],
    ids=lambda case: str(case.status),
)  # fmt: skip
async def test_error_answers_are_typed_and_recoverable(
    fake_aggregator: FakeServer, ca_file: Path, tmp_path: Path, case: ErrorCase
) -> None:
    store = tmp_path / "enrollment.json"
    fake_aggregator.answers.append(Answer(case.status, case.body, case.headers))
    with pytest.raises(case.error) as caught:
        await ensure_enrollment(_options(fake_aggregator), store, ca_file=ca_file)
    assert caught.value.temporary is case.temporary
    if isinstance(case.body, dict):
        assert caught.value.server_message == case.body["message"]
        assert case.body["message"] in str(caught.value)
    if isinstance(caught.value, EnrollmentRateLimitedError):
        assert caught.value.retry_after_s == 7
    assert not store.exists()
    # The aggregator recovers (or the resident enters a new code): enrolled.
    stored = await ensure_enrollment(
        _options(fake_aggregator, "NEWC-0DE0-2345"), store, ca_file=ca_file
    )
    assert stored.response.home_id == HOME_ID
    assert store.exists()


@pytest.mark.parametrize(
    ("answer", "match"),
    [
        (Answer(201, b"{not json"), "not JSON"),
        (Answer(201, [1, 2]), "JSON object"),
        (Answer(201, {"home_id": HOME_ID}), "mqtt"),
        (Answer(201, enrollment_body() | {"topic_prefix": "dacs/v1/h-9999"}), "topic prefix"),
        (
            Answer(201, enrollment_body() | {"mqtt": enrollment_body()["mqtt"] | {"username": "x"}}),
            "not the home id",
        ),
        (
            Answer(201, enrollment_body() | {"mqtt": enrollment_body()["mqtt"] | {"tls": False}}),
            "unencrypted",
        ),
        (Answer(201, b"{" + b" " * 70_000 + b"}"), "exceeds"),
    ],
)  # fmt: skip
async def test_malformed_answers_are_refused(
    fake_aggregator: FakeServer,
    ca_file: Path,
    tmp_path: Path,
    answer: Answer,
    match: str,
) -> None:
    fake_aggregator.answers.append(answer)
    with pytest.raises(EnrollmentResponseError, match=match):
        await ensure_enrollment(
            _options(fake_aggregator), tmp_path / "e.json", ca_file=ca_file
        )
    assert not (tmp_path / "e.json").exists()


async def test_unreachable_slow_and_untrusted_servers(
    fake_aggregator: FakeServer, ca_file: Path, tmp_path: Path
) -> None:
    nobody = f"https://127.0.0.1:{find_free_port()}"
    async with EnrollmentClient(nobody, ca_file=ca_file) as client:
        with pytest.raises(EnrollmentConnectionError, match="cannot reach") as caught:
            await client.enroll(CODE)
    assert caught.value.temporary
    fake_aggregator.answers.append(Answer(201, enrollment_body(), delay_s=1))
    async with EnrollmentClient(
        fake_aggregator.url, ca_file=ca_file, timeout_s=0.3
    ) as client:
        with pytest.raises(EnrollmentTimeoutError, match=r"within 0\.3 s"):
            await client.enroll(CODE)
    # Verification is on by default: the system's CAs do not know the test CA.
    async with EnrollmentClient(fake_aggregator.url) as client:
        with pytest.raises(EnrollmentTlsError, match="certificate"):
            await client.enroll(CODE)
    async with EnrollmentClient(
        fake_aggregator.url, ca_file=tmp_path / "missing.pem"
    ) as client:
        with pytest.raises(EnrollmentSetupError, match="CA certificates"):
            await client.enroll(CODE)
    # A malformed code never leaves the home.
    requests_before = len(fake_aggregator.requests)
    async with EnrollmentClient(fake_aggregator.url, ca_file=ca_file) as client:
        with pytest.raises(EnrollmentInvalidCodeError):
            await client.enroll("abcd-efgh")
    assert len(fake_aggregator.requests) == requests_before


async def test_nothing_to_enroll_with(
    fake_aggregator: FakeServer, tmp_path: Path
) -> None:
    with pytest.raises(NotEnrolledError, match="enrollment code"):
        await ensure_enrollment(_options(fake_aggregator, None), tmp_path / "e.json")
    with pytest.raises(NotEnrolledError, match="aggregator_url"):
        await ensure_enrollment(
            ConnectOptions(enrollment_code=CODE), tmp_path / "e.json"
        )
    # A damaged store counts as not enrolled, and is replaced by a new enrollment.
    (tmp_path / "e.json").write_text("{damaged")
    with pytest.raises(NotEnrolledError):
        await ensure_enrollment(_options(fake_aggregator, None), tmp_path / "e.json")
    assert fake_aggregator.requests == []
