"""The add-on's enrollment client against an aggregator that answers anything.

A real aiohttp server on 127.0.0.1 answers each request with the status,
Retry-After header and body hypothesis draws; the client must return the
enrollment or raise one of its EnrollmentError types, with a short message
and, when rate limited, a finite wait.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
import json
import math

from aiohttp import web
from hypothesis import given, strategies as st
import pytest

from dacs.connect.enrollment import ENROLLMENT_PATH, EnrollmentClient
from dacs.connect.errors import EnrollmentError, EnrollmentRateLimitedError
from dacs.protocol import EnrollmentResponse

from .budget import budget
from .inputs import HOSTILE_LITERALS, payloads
from .properties import attempt
from .test_protocol import ENROLLMENT

ERRORS = [{"error": "invalid_code", "message": "no such code"}]


@dataclass
class Answer:
    status: int = 200
    retry_after: str | None = None
    body: bytes = b"{}"


@dataclass
class FakeAggregator:
    runner: asyncio.Runner
    answer: Answer
    url: str


@pytest.fixture
def aggregator() -> Iterator[FakeAggregator]:
    answer = Answer()

    async def enroll(_request: web.Request) -> web.Response:
        headers = {"Retry-After": answer.retry_after} if answer.retry_after else {}
        return web.Response(
            status=answer.status,
            body=answer.body,
            headers=headers,
            content_type="application/json",
        )

    async def start() -> tuple[web.AppRunner, str]:
        app = web.Application()
        app.router.add_post(ENROLLMENT_PATH, enroll)
        app_runner = web.AppRunner(app)
        await app_runner.setup()
        site = web.TCPSite(app_runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return app_runner, f"http://127.0.0.1:{port}"

    with asyncio.Runner() as runner:
        app_runner, url = runner.run(start())
        yield FakeAggregator(runner=runner, answer=answer, url=url)
        runner.run(app_runner.cleanup())


async def _enroll(url: str) -> EnrollmentResponse:
    async with EnrollmentClient(url, timeout_s=5) as client:
        return await client.enroll("ABCD-EFGH-JKLM")


header_values = (
    st.none()
    | st.sampled_from(
        [
            *HOSTILE_LITERALS,
            "-5",
            "Wed, 21 Oct 2015 07:28:00 GMT",
            "Fri, 31 Dec 9999 23:59:59 GMT",
        ]
    )
    | st.text(
        alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=60
    )
)


@budget()
@given(
    status=st.sampled_from(
        [200, 201, 400, 403, 404, 409, 410, 413, 418, 429, 500, 503]
    ),
    retry_after=header_values,
    body=payloads([ENROLLMENT, *ERRORS]),
)
def test_enrollment_answers(
    aggregator: FakeAggregator, status: int, retry_after: str | None, body: bytes
) -> None:
    aggregator.answer.status, aggregator.answer.retry_after = status, retry_after
    aggregator.answer.body = body
    outcome = attempt(
        lambda: aggregator.runner.run(_enroll(aggregator.url)), EnrollmentError
    )
    if isinstance(outcome, EnrollmentRateLimitedError):
        assert outcome.retry_after_s is None or math.isfinite(outcome.retry_after_s)
    if isinstance(outcome, EnrollmentResponse):
        assert status in (200, 201)
        assert outcome.mqtt.tls
        assert outcome.mqtt.username == outcome.home_id


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("Infinity", None),
        ("1e999", None),
        ("Fri, 31 Dec 9999 23:59:59 GMT", 86400.0),
        ("30", 30.0),
    ],
)
def test_a_rate_limit_never_stops_enrollment_for_ever(
    aggregator: FakeAggregator, header: str, expected: float | None
) -> None:
    """Retry-After: Infinity made the add-on sleep for ever (asyncio.sleep(inf))."""
    aggregator.answer.status, aggregator.answer.retry_after = 429, header
    aggregator.answer.body = b'{"error": "rate_limited", "message": "slow down"}'
    with pytest.raises(EnrollmentRateLimitedError) as limited:
        aggregator.runner.run(_enroll(aggregator.url))
    assert limited.value.retry_after_s == expected


def test_a_long_refusal_stays_short(aggregator: FakeAggregator) -> None:
    """Found by the long run: a 2,000-character home id made a 347-character message."""
    aggregator.answer.status, aggregator.answer.retry_after = 200, None
    aggregator.answer.body = json.dumps(ENROLLMENT | {"home_id": "x" * 2000}).encode()
    outcome = attempt(
        lambda: aggregator.runner.run(_enroll(aggregator.url)), EnrollmentError
    )
    assert isinstance(outcome, EnrollmentError)
