"""Errors raised while running local services."""


class ServiceError(Exception):
    """Base class for local service errors."""


class ServiceStartError(ServiceError):
    """A local service could not be started; the message says why."""
