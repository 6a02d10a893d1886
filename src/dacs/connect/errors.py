"""Errors of the add-on's service, one tree per adapter.

Enrollment errors say whether trying again later can help (``temporary``):
the service retries those with back-off and stops on the others until the
resident enters a new code.
"""

from __future__ import annotations


class OptionsError(Exception):
    """The add-on's options are missing or invalid; the message names the option."""


class EnrollmentError(Exception):
    """Base class for every enrollment failure."""

    temporary = False
    kind = "error"

    def __init__(self, message: str, *, server_message: str | None = None) -> None:
        """Keep the aggregator's own explanation beside ours."""
        super().__init__(message)
        self.server_message = server_message


class EnrollmentInvalidCodeError(EnrollmentError):
    """The code is not of the form XXXX-XXXX-XXXX (HTTP 400)."""

    kind = "invalid_code"


class EnrollmentUnknownCodeError(EnrollmentError):
    """The aggregator does not know the code (HTTP 404)."""

    kind = "unknown_code"


class EnrollmentCodeUsedError(EnrollmentError):
    """The code was already used to enroll a home (HTTP 409)."""

    kind = "code_used"


class EnrollmentCodeExpiredError(EnrollmentError):
    """The code is no longer valid (HTTP 410)."""

    kind = "code_expired"


class EnrollmentRateLimitedError(EnrollmentError):
    """Too many attempts (HTTP 429); ``retry_after_s`` is the server's hint."""

    temporary = True
    kind = "rate_limited"

    def __init__(
        self,
        message: str,
        *,
        retry_after_s: float | None = None,
        server_message: str | None = None,
    ) -> None:
        """Keep the server's Retry-After hint."""
        super().__init__(message, server_message=server_message)
        self.retry_after_s = retry_after_s


class EnrollmentServerError(EnrollmentError):
    """The aggregator failed (HTTP 5xx)."""

    temporary = True
    kind = "server_error"


class EnrollmentResponseError(EnrollmentError):
    """The aggregator answered something this add-on cannot use."""

    temporary = True
    kind = "bad_response"


class EnrollmentConnectionError(EnrollmentError):
    """The aggregator cannot be reached (DNS, TCP, TLS)."""

    temporary = True
    kind = "connection_error"


class EnrollmentTimeoutError(EnrollmentConnectionError):
    """The aggregator did not answer in time."""

    kind = "timeout"


class EnrollmentTlsError(EnrollmentConnectionError):
    """The aggregator's certificate could not be verified."""

    kind = "tls_error"


class EnrollmentSetupError(EnrollmentError):
    """This add-on cannot try to enroll as configured (e.g. an unreadable CA file)."""

    kind = "setup_error"


class NotEnrolledError(EnrollmentError):
    """No stored enrollment and no enrollment code to enroll with."""

    kind = "not_enrolled"


class DiscoveryError(Exception):
    """Base class for failures to announce the add-on to Home Assistant."""


class DiscoveryConnectionError(DiscoveryError):
    """The Supervisor cannot be reached or did not answer in time."""


class DiscoveryRejectedError(DiscoveryError):
    """The Supervisor refused the discovery message (e.g. 401, 403, 400)."""

    def __init__(self, message: str, *, status: int) -> None:
        """Keep the HTTP status."""
        super().__init__(message)
        self.status = status


class BrokerControlError(Exception):
    """The local broker could not be restarted."""


class EnrollmentStoreError(Exception):
    """The stored enrollment cannot be read or written."""
