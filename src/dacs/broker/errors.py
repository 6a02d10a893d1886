"""Errors of the central broker's credential and ACL tooling: one tree."""


class BrokerAuthError(Exception):
    """Base class for every error while managing broker credentials."""


class PasswordToolMissingError(BrokerAuthError):
    """``mosquitto_passwd`` is not installed."""


class PasswordToolError(BrokerAuthError):
    """``mosquitto_passwd`` refused the request; the message carries its output."""


class PasswordFileError(BrokerAuthError):
    """The password file cannot be read or written."""


class InvalidUsernameError(BrokerAuthError):
    """A user name that Mosquitto cannot store or that is reserved."""


class InvalidPasswordError(BrokerAuthError):
    """A password that Mosquitto cannot store."""


class UnknownUserError(BrokerAuthError):
    """The user is not in the password file."""
