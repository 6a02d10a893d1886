"""Broker accounts for enrolled homes."""

from __future__ import annotations

from collections.abc import Callable
import logging
from pathlib import Path

from dacs.broker.homes import add_home
from dacs.broker.passwords import generate_password, remove_user

_LOGGER = logging.getLogger(__name__)


class PasswordFileProvisioner:
    """Adds homes to the central Mosquitto's password file, then reloads it.

    ``reload`` makes the broker re-read the file (in the compose deployment:
    SIGHUP to Mosquitto); the ACL needs no change per home because its
    patterns use the user name.
    """

    def __init__(
        self, password_file: Path, reload: Callable[[], None] | None = None
    ) -> None:
        """Manage ``password_file``."""
        self._password_file = password_file
        self._reload = reload

    def add_home(self, home_id: str) -> str:
        """Create the account; return its password."""
        password = add_home(self._password_file, home_id)
        self._signal()
        return password

    def remove_home(self, home_id: str) -> None:
        """Remove the account."""
        remove_user(self._password_file, home_id)
        self._signal()

    def _signal(self) -> None:
        if self._reload is not None:
            try:
                self._reload()
            except Exception:
                _LOGGER.exception("the broker did not reload its password file")


class OpenBrokerProvisioner:
    """For brokers without authentication (the demo): passwords are issued, not checked."""

    def add_home(self, home_id: str) -> str:
        """Return a password the home will present (the broker ignores it)."""
        _LOGGER.debug("open broker: no account needed for %s", home_id)
        return generate_password()

    def remove_home(self, home_id: str) -> None:
        """Nothing to undo."""
