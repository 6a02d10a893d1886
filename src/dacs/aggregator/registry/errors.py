"""Registry errors; the enrollment API maps them to its error codes."""


class RegistryError(Exception):
    """Base class of the registry's errors."""

    code = "internal"


class NotFoundError(RegistryError):
    """Something the request names does not exist."""

    code = "not_found"


class UnknownCodeError(NotFoundError):
    """No such enrollment code (or it was revoked)."""

    code = "unknown_code"


class CodeUsedError(RegistryError):
    """The enrollment code was used already."""

    code = "code_used"


class CodeExpiredError(RegistryError):
    """The enrollment code expired."""

    code = "code_expired"


class ConflictError(RegistryError):
    """The request clashes with what exists (e.g. a duplicate id)."""

    code = "conflict"


class ProvisioningError(RegistryError):
    """The home's broker account could not be created."""

    code = "internal"
