"""Enrollment: trade a one-time code for the home's identity and broker login.

``POST {aggregator_url}/api/v1/enrollments`` with ``{"code": ...}`` answers
201 with the home id, topic prefix and MQTT credentials
(``schemas/enrollment-response.json``), or an error status with an
``error.json`` body. A home enrolls once; the result is stored and reused
until the resident enters a different code.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
import logging
import math
from pathlib import Path
import ssl
from types import TracebackType
from typing import Any, Self

import aiohttp

from dacs import __version__
from dacs.excerpt import bounded
from dacs.protocol import (
    EnrollmentResponse,
    ProtocolError,
    decode_enrollment_response,
    home_root,
)
from dacs.protocol.codec import load_document
from dacs.protocol.schema import validate

from .enrollment_store import (
    StoredEnrollment,
    code_fingerprint,
    load_enrollment,
    save_enrollment,
)
from .errors import (
    EnrollmentCodeExpiredError,
    EnrollmentCodeUsedError,
    EnrollmentConnectionError,
    EnrollmentError,
    EnrollmentInvalidCodeError,
    EnrollmentRateLimitedError,
    EnrollmentResponseError,
    EnrollmentServerError,
    EnrollmentSetupError,
    EnrollmentStoreError,
    EnrollmentTimeoutError,
    EnrollmentTlsError,
    EnrollmentUnknownCodeError,
    NotEnrolledError,
)
from .options import ConnectOptions

_LOGGER = logging.getLogger(__name__)

ENROLLMENT_PATH = "/api/v1/enrollments"
DEFAULT_TIMEOUT_S = 15.0
# An enrollment answer is a few hundred bytes plus a CA certificate.
MAX_ANSWER_BYTES = 64 * 1024
MAX_RETRY_AFTER_S = 24 * 3600.0  # no hint makes the add-on wait longer

_ERRORS_BY_STATUS: dict[int, type[EnrollmentError]] = {
    400: EnrollmentInvalidCodeError,
    404: EnrollmentUnknownCodeError,
    409: EnrollmentCodeUsedError,
    410: EnrollmentCodeExpiredError,
}
_ADVICE_BY_STATUS = {
    400: "the aggregator says the enrollment code is malformed; check it",
    404: "the aggregator does not know this enrollment code; check it",
    409: "this enrollment code was already used; ask for a new one",
    410: "this enrollment code has expired; ask for a new one",
}


class EnrollmentClient:
    """Talks to one aggregator's enrollment API.

    Use as ``async with``. A session passed in is used and left open;
    otherwise the client opens and closes its own. The server certificate is
    always verified, against ``ca_file`` when given (self-hosted
    aggregators, tests) or the system's CA store.
    """

    def __init__(
        self,
        aggregator_url: str,
        *,
        session: aiohttp.ClientSession | None = None,
        ca_file: Path | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        client_name: str = f"dacs-connect/{__version__}",
    ) -> None:
        """Prepare a client; nothing is sent until enroll()."""
        self._url = aggregator_url.rstrip("/") + ENROLLMENT_PATH
        self._session = session
        self._own_session = session is None
        self._ca_file = ca_file
        self._ssl: ssl.SSLContext | None = None
        self._timeout_s = timeout_s
        self._client_name = client_name[:64]

    async def enroll(self, code: str, *, ean: str | None = None) -> EnrollmentResponse:
        """Enroll with ``code``; raises an EnrollmentError subclass on failure."""
        body: dict[str, Any] = {"code": code, "client": self._client_name}
        if ean is not None:
            body["ean"] = ean
        try:
            validate(body, "enrollment-request")
        except ProtocolError as err:
            raise EnrollmentInvalidCodeError(
                f"not a valid enrollment request: {err}"
            ) from None
        status, retry_after, payload = await self._post(body, self._tls_context())
        if status in (200, 201):
            return _parse_answer(payload)
        raise _error_for(status, retry_after, payload)

    def _tls_context(self) -> ssl.SSLContext:
        if self._ssl is None:
            try:
                self._ssl = ssl.create_default_context(
                    cafile=str(self._ca_file) if self._ca_file is not None else None
                )
            except (OSError, ssl.SSLError) as err:
                raise EnrollmentSetupError(
                    f"cannot load the CA certificates {self._ca_file}: {err}"
                ) from err
        return self._ssl

    async def _post(
        self, body: dict[str, Any], tls: ssl.SSLContext
    ) -> tuple[int, str | None, bytes]:
        """POST ``body``: the status, the Retry-After header and the body."""
        session = self._session
        if session is None:
            session = self._session = aiohttp.ClientSession()
        try:
            async with (
                asyncio.timeout(self._timeout_s),
                session.post(
                    self._url, json=body, ssl=tls, allow_redirects=False
                ) as response,
            ):
                payload = await _read_bounded(response)
                return response.status, response.headers.get("Retry-After"), payload
        except TimeoutError as err:
            raise EnrollmentTimeoutError(
                f"{self._url} did not answer within {self._timeout_s:g} s"
            ) from err
        except aiohttp.ClientConnectorCertificateError as err:
            raise EnrollmentTlsError(
                f"the certificate of {self._url} could not be verified: "
                f"{err.certificate_error}"
            ) from err
        except aiohttp.ClientSSLError as err:
            raise EnrollmentTlsError(f"TLS with {self._url} failed: {err}") from err
        except aiohttp.ClientError as err:
            raise EnrollmentConnectionError(f"cannot reach {self._url}: {err}") from err

    async def close(self) -> None:
        """Close the session if this client opened it."""
        if self._own_session and self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> Self:
        """Use the client as an async context manager."""
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close what the client opened."""
        await self.close()


def pending_code(
    options: ConnectOptions, stored: StoredEnrollment | None
) -> str | None:
    """The code to enroll with now, or None when the stored enrollment stands."""
    code = options.enrollment_code
    if code is None:
        return None
    if stored is not None and stored.used_code(code):
        return None
    return code


async def enroll_and_store(
    client: EnrollmentClient, *, code: str, aggregator_url: str, store_path: Path
) -> StoredEnrollment:
    """Enroll and keep the result in ``store_path``."""
    response = await client.enroll(code)
    stored = StoredEnrollment(
        response=response,
        aggregator_url=aggregator_url,
        code_sha256=code_fingerprint(code),
        # Whole seconds: the stored form keeps no more.
        enrolled_at=datetime.now(UTC).replace(microsecond=0),
    )
    save_enrollment(store_path, stored)
    _LOGGER.info("enrolled as home %s", response.home_id)
    return stored


async def ensure_enrollment(
    options: ConnectOptions,
    store_path: Path,
    *,
    ca_file: Path | None = None,
    session: aiohttp.ClientSession | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
) -> StoredEnrollment:
    """The stored enrollment, enrolling first when the options ask for it."""
    try:
        stored = load_enrollment(store_path)
    except EnrollmentStoreError as err:
        _LOGGER.warning("ignoring the stored enrollment: %s", err)
        stored = None
    code = pending_code(options, stored)
    if code is None:
        if stored is None:
            raise NotEnrolledError(
                "not enrolled yet: enter the enrollment code from your energy "
                "service provider in the add-on's configuration"
            )
        return stored
    if options.aggregator_url is None:
        raise NotEnrolledError(
            "an enrollment code is set but aggregator_url is empty: enter the "
            "address your energy service provider gave you"
        )
    async with EnrollmentClient(
        options.aggregator_url, session=session, ca_file=ca_file, timeout_s=timeout_s
    ) as client:
        return await enroll_and_store(
            client,
            code=code,
            aggregator_url=options.aggregator_url,
            store_path=store_path,
        )


async def _read_bounded(response: aiohttp.ClientResponse) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_chunked(16 * 1024):
        size += len(chunk)
        if size > MAX_ANSWER_BYTES:
            raise EnrollmentResponseError(
                f"the answer exceeds {MAX_ANSWER_BYTES} bytes"
            )
        chunks.append(chunk)
    return b"".join(chunks)


def _parse_answer(payload: bytes) -> EnrollmentResponse:
    try:
        response = decode_enrollment_response(payload)
    except ProtocolError as err:
        # The decoder's message is bounded already; the prefix must not
        # push it past the bound (found by the long fuzz run).
        raise EnrollmentResponseError(
            bounded(f"the aggregator's enrollment answer is invalid: {err}")
        ) from None
    # The central broker's ACL only works when the login is the home id and
    # the topics are the home's own subtree: refuse anything else now rather
    # than run a bridge whose every message would be dropped.
    if response.mqtt.username != response.home_id:
        raise EnrollmentResponseError(
            f"the broker user name {response.mqtt.username!r} is not the home id "
            f"{response.home_id!r}"
        )
    if response.topic_prefix.rstrip("/") != home_root(response.home_id):
        raise EnrollmentResponseError(
            f"topic prefix {response.topic_prefix!r} is not "
            f"{home_root(response.home_id)!r}"
        )
    if not response.mqtt.tls:
        raise EnrollmentResponseError(
            "the aggregator offered an unencrypted MQTT connection; the bridge "
            "only connects over TLS"
        )
    return response


def _error_for(status: int, retry_after: str | None, payload: bytes) -> EnrollmentError:
    message = _server_message(payload)
    detail = f" ({message})" if message else ""
    if status in _ERRORS_BY_STATUS:
        return _ERRORS_BY_STATUS[status](
            f"{_ADVICE_BY_STATUS[status]}{detail}", server_message=message
        )
    if status == 429:
        retry_after_s = _retry_after_s(retry_after)
        hint = (
            f"; retry after {retry_after_s:.0f} s" if retry_after_s is not None else ""
        )
        return EnrollmentRateLimitedError(
            f"too many enrollment attempts{hint}{detail}",
            retry_after_s=retry_after_s,
            server_message=message,
        )
    if status >= 500:
        return EnrollmentServerError(
            f"the aggregator failed with HTTP {status}{detail}",
            server_message=message,
        )
    return EnrollmentResponseError(
        f"unexpected HTTP {status} from the enrollment API{detail}",
        server_message=message,
    )


def _server_message(payload: bytes) -> str | None:
    """The ``message`` of an error.json body, or the start of whatever came."""
    try:
        document = load_document(payload)
        validate(document, "error")
    except ProtocolError:
        text = payload.decode(errors="replace").strip()[:200]
        return text or None
    message: str = document["message"]
    return message


def _retry_after_s(value: str | None) -> float | None:
    """The server's Retry-After in seconds, at most a day; None when unreadable.

    ``Infinity``, ``NaN`` or the year 9999 would otherwise stop the add-on
    from ever trying again.
    """
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            moment = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        seconds = (moment - datetime.now(UTC)).total_seconds()
    if not math.isfinite(seconds):
        return None
    return min(max(0.0, seconds), MAX_RETRY_AFTER_S)
