"""Password files through mosquitto_passwd: add, replace, remove, list."""

from __future__ import annotations

from pathlib import Path
import stat

import pytest

from dacs.broker import (
    InvalidPasswordError,
    InvalidUsernameError,
    PasswordFileError,
    PasswordToolMissingError,
    UnknownUserError,
    add_home,
    generate_password,
    list_users,
    remove_user,
    set_user,
)
from dacs.testbed.servers import MosquittoBroker

from .support import MqttProbe


def test_set_user_creates_a_private_file(tmp_path: Path) -> None:
    path = tmp_path / "config" / "passwords"
    set_user(path, "h-0001", "first-password-0123456789")
    assert list_users(path) == ("h-0001",)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    line = path.read_text().strip()
    assert line.startswith("h-0001:$7$")  # PBKDF2-SHA512, never the password
    assert "first-password" not in line


def test_replace_and_remove_keep_other_users(tmp_path: Path) -> None:
    path = tmp_path / "passwords"
    set_user(path, "h-0001", "first-password-0123456789")
    set_user(path, "h-0002", "second-password-0123456789")
    old_hash = path.read_text().splitlines()[0]
    path.chmod(0o640)
    set_user(path, "h-0001", "replaced-password-0123456789")
    assert list_users(path) == ("h-0001", "h-0002")
    assert path.read_text().splitlines()[0] != old_hash
    assert stat.S_IMODE(path.stat().st_mode) == 0o640  # the broker keeps access
    remove_user(path, "h-0001")
    assert list_users(path) == ("h-0002",)
    # Every change replaced the file in one step: no temporary files remain.
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        ".passwords.lock",
        "passwords",
    ]


def test_errors_are_specific(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "passwords"
    with pytest.raises(PasswordFileError, match="does not exist"):
        list_users(path)
    set_user(path, "h-0001", "first-password-0123456789")
    with pytest.raises(UnknownUserError, match="h-0009"):
        remove_user(path, "h-0009")
    for bad in ("", "a:b", "a b", "h/0001", "h+", "h#", "h\n1"):
        with pytest.raises(InvalidUsernameError):
            set_user(path, bad, "first-password-0123456789")
    for bad in ("", "two\nlines"):
        with pytest.raises(InvalidPasswordError):
            set_user(path, "h-0001", bad)
    with pytest.raises(InvalidUsernameError, match="aggregator"):
        add_home(path, "dacs-aggregator")
    with pytest.raises(InvalidUsernameError, match="invalid home id"):
        add_home(path, "Not_A_Home")
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(PasswordToolMissingError, match="apt-get install mosquitto"):
        set_user(path, "h-0002", "second-password-0123456789")
    assert list_users(path) == ("h-0001",)


def test_generated_passwords() -> None:
    passwords = {generate_password() for _ in range(50)}
    assert len(passwords) == 50
    for password in passwords:
        assert len(password) == 32
        assert set(password) <= set(
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
        )
    assert len(generate_password(24)) == 24
    with pytest.raises(ValueError, match="at least 24"):
        generate_password(16)


def test_a_broker_accepts_exactly_the_users_in_the_file(tmp_path: Path) -> None:
    path = tmp_path / "passwords"
    password = add_home(path, "h-0001")
    set_user(path, "h-0002", "second-password-0123456789")
    remove_user(path, "h-0002")
    with MosquittoBroker(
        allow_anonymous=False, extra_config=f"password_file {path}"
    ) as broker:
        good = MqttProbe(broker.port, username="h-0001", password=password)
        assert not good.connect().is_failure
        good.close()
        for username, secret in (
            ("h-0001", "wrong-password-0123456789"),
            ("h-0002", "second-password-0123456789"),
            (None, None),
        ):
            probe = MqttProbe(broker.port, username=username, password=secret)
            assert probe.connect().is_failure
