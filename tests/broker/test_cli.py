"""``dacs broker ...`` and aggregator/scripts/add-home.sh against a real broker."""

from __future__ import annotations

import os
from pathlib import Path
import subprocess
import sys

import pytest

from dacs.broker import list_users
from dacs.cli import main

from .support import Central, MqttProbe

ADD_HOME = (
    Path(__file__).resolve().parents[2] / "aggregator" / "scripts" / "add-home.sh"
)


def test_add_home_prints_the_password(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "passwords"
    assert (
        main(
            ["broker", "add-home", "--password-file", str(path), "--home-id", "h-0001"]
        )
        == 0
    )
    generated = capsys.readouterr().out.strip()
    assert len(generated) == 32
    assert main(
        ["broker", "add-home", "--password-file", str(path), "--home-id", "h-0002",
         "--password", "chosen-password-0123456789"]
    ) == 0  # fmt: skip
    assert capsys.readouterr().out.strip() == "chosen-password-0123456789"
    assert list_users(path) == ("h-0001", "h-0002")
    assert (
        main(["broker", "add-home", "--password-file", str(path), "--home-id", "H 1"])
        == 1
    )
    assert "invalid home id" in capsys.readouterr().err
    acl = tmp_path / "acl"
    assert (
        main(["broker", "render-acl", "--aggregator-user", "agg", "--output", str(acl)])
        == 0
    )
    assert "user agg" in acl.read_text()


def test_add_home_script_reloads_the_broker(central: Central) -> None:
    """A home added by the script can log in at once: the broker reloaded on SIGHUP."""
    pid = central.broker._process.pid  # type: ignore[union-attr]  # running broker
    environment = os.environ | {
        "DACS_PASSWORD_FILE": str(central.password_file),
        "DACS_BROKER_RELOAD": f"kill -HUP {pid}",
        "DACS_PYTHON": sys.executable,
    }
    result = subprocess.run(
        [str(ADD_HOME), "h-0003"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    password = result.stdout.strip()
    assert len(password) == 32
    assert central.broker.running
    probe = MqttProbe(central.plain_port, username="h-0003", password=password)
    for _ in range(50):  # the reload happens asynchronously after the signal
        if not probe.connect().is_failure:
            break
        probe = MqttProbe(central.plain_port, username="h-0003", password=password)
    else:
        raise AssertionError(f"h-0003 cannot log in:\n{central.broker.tail_log()}")
    probe.close()
    usage = subprocess.run([str(ADD_HOME)], capture_output=True, text=True, check=False)
    assert usage.returncode == 2
    assert "usage" in usage.stderr
