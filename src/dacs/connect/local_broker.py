"""The home broker's files under the add-on's data directory.

``prepare_home_broker`` writes the local users, the aggregator's CA
certificate and ``mosquitto.conf``, touching only what changed, and says
whether the broker must restart to see the change (bridges are not
reloaded on SIGHUP).
"""

from __future__ import annotations

from dataclasses import dataclass, field
import json
import logging
from pathlib import Path

from dacs.broker import (
    BrokerAuthError,
    generate_password,
    list_users,
    set_user,
    write_atomically,
)
from dacs.protocol import EnrollmentResponse

from .bridge import HomeBrokerSettings, render_home_broker_config

_LOGGER = logging.getLogger(__name__)

BROKER_DIR = "mosquitto"
CONFIG_FILE = "mosquitto.conf"
CREDENTIALS_FILE = "local-credentials.json"
# The Home Assistant integration logs in as this user (announced by discovery) ...
INTEGRATION_USER = "homeassistant"
# ... and the add-on's own status monitor as this one.
SERVICE_USER = "dacs-connect"


@dataclass(frozen=True, kw_only=True)
class LocalLogin:
    """A user of the home broker."""

    username: str
    password: str = field(repr=False)


@dataclass(frozen=True, kw_only=True)
class LocalCredentials:
    """The home broker's users, generated once and kept in the data directory."""

    integration: LocalLogin
    service: LocalLogin

    @property
    def logins(self) -> tuple[LocalLogin, ...]:
        """Every user the password file must hold."""
        return (self.integration, self.service)


@dataclass(frozen=True, kw_only=True)
class PreparedBroker:
    """The outcome of preparing the home broker's files."""

    config_file: Path
    credentials: LocalCredentials
    bridged: bool
    # True when a running broker must restart to use the new files.
    changed: bool


def broker_directory(data_dir: Path) -> Path:
    """The home broker's directory inside the data directory."""
    return data_dir / BROKER_DIR


def config_path(data_dir: Path) -> Path:
    """The home broker's ``mosquitto.conf`` inside the data directory."""
    return broker_directory(data_dir) / CONFIG_FILE


def prepare_home_broker(
    data_dir: Path,
    settings: HomeBrokerSettings,
    enrollment: EnrollmentResponse | None,
) -> PreparedBroker:
    """Write what the home broker needs; ``enrollment`` None: no bridge yet."""
    for directory in {broker_directory(data_dir), settings.persistence_dir}:
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    credentials, created = load_or_create_credentials(data_dir / CREDENTIALS_FILE)
    changed = _write_password_file(settings.password_file, credentials, created)
    if enrollment is not None and enrollment.mqtt.ca_certificate:
        changed |= _write_if_different(
            settings.bridge_ca_file, enrollment.mqtt.ca_certificate, mode=0o644
        )
    config_file = config_path(data_dir)
    # The configuration holds the uplink password: owner only.
    changed |= _write_if_different(
        config_file, render_home_broker_config(settings, enrollment), mode=0o600
    )
    return PreparedBroker(
        config_file=config_file,
        credentials=credentials,
        bridged=enrollment is not None,
        changed=changed,
    )


def load_or_create_credentials(path: Path) -> tuple[LocalCredentials, bool]:
    """The stored local credentials, or new ones (then True) saved to ``path``."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        credentials = LocalCredentials(
            integration=LocalLogin(**document["integration"]),
            service=LocalLogin(**document["service"]),
        )
    except FileNotFoundError:
        pass
    except (OSError, ValueError, KeyError, TypeError) as err:
        _LOGGER.warning("replacing unreadable local credentials in %s: %s", path, err)
    else:
        return credentials, False
    credentials = LocalCredentials(
        integration=LocalLogin(username=INTEGRATION_USER, password=generate_password()),
        service=LocalLogin(username=SERVICE_USER, password=generate_password()),
    )
    document = {
        "integration": {
            "username": credentials.integration.username,
            "password": credentials.integration.password,
        },
        "service": {
            "username": credentials.service.username,
            "password": credentials.service.password,
        },
    }
    write_atomically(path, json.dumps(document, indent=2) + "\n", mode=0o600)
    return credentials, True


def _write_password_file(
    path: Path, credentials: LocalCredentials, fresh_credentials: bool
) -> bool:
    wanted = sorted(login.username for login in credentials.logins)
    if not fresh_credentials:
        try:
            if sorted(list_users(path)) == wanted:
                return False
        except BrokerAuthError:
            pass  # missing or unreadable: written below
    # Hashes cannot be compared with a password, so a file that might not
    # match the stored credentials is always written anew.
    write_atomically(path, b"", mode=0o600)
    for login in credentials.logins:
        set_user(path, login.username, login.password)
    return True


def _write_if_different(path: Path, text: str, *, mode: int) -> bool:
    try:
        if path.read_text(encoding="utf-8") == text:
            return False
    except FileNotFoundError:
        pass
    except (OSError, UnicodeDecodeError) as err:
        _LOGGER.warning("rewriting unreadable %s: %s", path, err)
    write_atomically(path, text, mode=mode)
    return True
