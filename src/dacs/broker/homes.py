"""A home's account on the central broker: user name == home id."""

from __future__ import annotations

from pathlib import Path

from dacs.protocol.topics import validate_home_id

from .acl import DEFAULT_AGGREGATOR_USER
from .errors import InvalidUsernameError
from .passwords import generate_password, set_user


def add_home(
    password_file: Path,
    home_id: str,
    password: str | None = None,
    *,
    aggregator_user: str = DEFAULT_AGGREGATOR_USER,
) -> str:
    """Create or replace a home's broker account and return its password.

    A new random password is generated unless one is given. The home id must
    be a valid protocol home id (it becomes the ``%u`` in the ACL patterns) and
    must not be the aggregator's user name, which would inherit its rights.
    """
    try:
        validate_home_id(home_id)
    except ValueError as err:
        raise InvalidUsernameError(str(err)) from None
    if home_id == aggregator_user:
        raise InvalidUsernameError(
            f"{home_id!r} is the aggregator's user name and cannot be a home id"
        )
    secret = password if password is not None else generate_password()
    set_user(password_file, home_id, secret)
    return secret
