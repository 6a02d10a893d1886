"""The central broker's credentials, ACL and configuration.

Homes log in to the central Mosquitto broker with their home id as user name;
one ACL of ``%u`` patterns confines each to its own topics. Used by the
aggregator's deployment and by the add-on for its local broker's users.
"""

from .acl import (
    DEFAULT_AGGREGATOR_USER,
    home_read_topics,
    home_write_topics,
    render_acl,
)
from .config import CentralBrokerOptions, render_central_config
from .errors import (
    BrokerAuthError,
    InvalidPasswordError,
    InvalidUsernameError,
    PasswordFileError,
    PasswordToolError,
    PasswordToolMissingError,
    UnknownUserError,
)
from .files import write_atomically
from .homes import add_home
from .passwords import (
    generate_password,
    list_users,
    password_tool,
    remove_user,
    set_user,
    validate_password,
    validate_username,
)

__all__ = [
    "DEFAULT_AGGREGATOR_USER",
    "BrokerAuthError",
    "CentralBrokerOptions",
    "InvalidPasswordError",
    "InvalidUsernameError",
    "PasswordFileError",
    "PasswordToolError",
    "PasswordToolMissingError",
    "UnknownUserError",
    "add_home",
    "generate_password",
    "home_read_topics",
    "home_write_topics",
    "list_users",
    "password_tool",
    "remove_user",
    "render_acl",
    "render_central_config",
    "set_user",
    "validate_password",
    "validate_username",
    "write_atomically",
]
