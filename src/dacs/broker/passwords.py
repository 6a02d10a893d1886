"""The users of a Mosquitto password file, managed with ``mosquitto_passwd``.

``mosquitto_passwd`` hashes passwords the way the installed broker expects
(PBKDF2-SHA512 for Mosquitto 2), so this module never hashes anything itself.
Every change works on a private copy and replaces the file in one step: a
broker reloading on SIGHUP never reads a half-written file.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
import fcntl
import os
from pathlib import Path
import secrets
import shutil
import subprocess
import tempfile

from .errors import (
    InvalidPasswordError,
    InvalidUsernameError,
    PasswordFileError,
    PasswordToolError,
    PasswordToolMissingError,
    UnknownUserError,
)
from .files import write_atomically

MIN_PASSWORD_LENGTH = 24
DEFAULT_PASSWORD_LENGTH = 32
# MQTT strings are at most 65535 bytes long.
_MQTT_STRING_MAX = 65535
# Characters that break the file format (":" separates name and hash) or
# Mosquitto's %u substitution in ACL patterns (topic separators, wildcards).
_FORBIDDEN_IN_USERNAME = frozenset(":/+#")
_TOOL_TIMEOUT_S = 30.0
_NEW_FILE_MODE = 0o600


def generate_password(length: int = DEFAULT_PASSWORD_LENGTH) -> str:
    """A random URL-safe password of ``length`` (at least 24) characters."""
    if length < MIN_PASSWORD_LENGTH:
        raise ValueError(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    # token_urlsafe(n) encodes n random bytes in about 1.3n characters.
    return secrets.token_urlsafe(length)[:length]


def validate_username(username: str) -> str:
    """Return ``username`` or raise InvalidUsernameError saying what is wrong."""
    if not username:
        raise InvalidUsernameError("a user name must not be empty")
    bad = sorted(
        {
            c
            for c in username
            if c in _FORBIDDEN_IN_USERNAME or c.isspace() or not c.isprintable()
        }
    )
    if bad:
        raise InvalidUsernameError(
            f"user name {username!r} contains {', '.join(map(repr, bad))}; "
            "use letters, digits, '-', '_' or '.'"
        )
    if len(username.encode()) > _MQTT_STRING_MAX:
        raise InvalidUsernameError("a user name is at most 65535 bytes long")
    return username


def validate_password(password: str) -> str:
    """Return ``password`` or raise InvalidPasswordError saying what is wrong."""
    if not password:
        raise InvalidPasswordError("a password must not be empty")
    if any(c in password for c in "\n\r\0"):
        raise InvalidPasswordError("a password must not contain line breaks or NUL")
    if len(password.encode()) > _MQTT_STRING_MAX:
        raise InvalidPasswordError("a password is at most 65535 bytes long")
    return password


def password_tool() -> str:
    """The path of ``mosquitto_passwd``; PasswordToolMissingError when absent."""
    found = shutil.which("mosquitto_passwd")
    if found is None:
        raise PasswordToolMissingError(
            "mosquitto_passwd is not installed; install the package 'mosquitto' "
            "(Debian: apt-get install mosquitto, Alpine: apk add mosquitto)"
        )
    return found


def list_users(path: Path) -> tuple[str, ...]:
    """The user names in the password file, in file order."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PasswordFileError(f"password file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as err:
        raise PasswordFileError(f"cannot read password file {path}: {err}") from err
    return tuple(
        line.partition(":")[0]
        for line in text.splitlines()
        if line.strip() and not line.startswith("#")
    )


def set_user(path: Path, username: str, password: str) -> None:
    """Add ``username`` or replace its password; creates the file if missing.

    The password reaches ``mosquitto_passwd`` on its command line (batch
    mode), so it is visible to other processes of the same machine for the
    moment the tool runs; run this where only trusted users have a shell.
    """
    validate_username(username)
    validate_password(password)
    tool = password_tool()
    with _locked(path):
        _edit_copy(tool, path, "-b", (username, password))


def remove_user(path: Path, username: str) -> None:
    """Remove ``username``; UnknownUserError when it is not in the file."""
    validate_username(username)
    tool = password_tool()
    with _locked(path):
        if username not in list_users(path):
            raise UnknownUserError(f"user {username!r} is not in {path}")
        _edit_copy(tool, path, "-D", (username,))


def _edit_copy(tool: str, path: Path, flag: str, arguments: tuple[str, ...]) -> None:
    owner: tuple[int, int] | None = None
    try:
        original = path.read_bytes()
        status = path.stat()
    except FileNotFoundError:
        original, mode = b"", _NEW_FILE_MODE
    except OSError as err:
        raise PasswordFileError(f"cannot read password file {path}: {err}") from err
    else:
        # Keep the broker's access: same mode and, where allowed, same owner.
        mode = status.st_mode & 0o777
        if (status.st_uid, status.st_gid) != (os.geteuid(), os.getegid()):
            owner = (status.st_uid, status.st_gid)
    try:
        # A private (0700) directory beside the target: the copy holding the
        # hashes is never readable by others, and the final rename stays on
        # one file system.
        with tempfile.TemporaryDirectory(dir=path.parent, prefix=".passwd-") as work:
            copy = Path(work) / path.name
            copy.write_bytes(original)
            _run(tool, flag, str(copy), *arguments)
            updated = copy.read_bytes()
        write_atomically(path, updated, mode=mode, owner=owner)
    except OSError as err:
        raise PasswordFileError(f"cannot write password file {path}: {err}") from err


def _run(tool: str, *arguments: str) -> None:
    try:
        result = subprocess.run(  # noqa: S603 - fixed tool, no shell, validated arguments
            [tool, *arguments],
            capture_output=True,
            text=True,
            timeout=_TOOL_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired as err:
        raise PasswordToolError(
            f"mosquitto_passwd did not finish within {_TOOL_TIMEOUT_S:.0f} s"
        ) from err
    if result.returncode != 0:
        output = (result.stderr or result.stdout).strip() or "no output"
        raise PasswordToolError(
            f"mosquitto_passwd failed with exit code {result.returncode}: {output}"
        )


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    # Two administrators adding homes at once must not lose each other's user:
    # serialise the read-modify-write on a lock file beside the password file.
    path.parent.mkdir(parents=True, exist_ok=True)
    lock_path = path.with_name(f".{path.name}.lock")
    try:
        with lock_path.open("a") as lock:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
            yield
    except PermissionError as err:
        raise PasswordFileError(f"cannot lock {lock_path}: {err}") from err
