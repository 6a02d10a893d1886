"""The ``dacs`` command as a user runs it."""

from __future__ import annotations

import asyncio
import signal
import sys

import pytest

from dacs.cli import main
from dacs.devices import HeatPump
from dacs.testbed.servers import find_free_port


def test_cli_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("dacs ")


def test_cli_rejects_unknown_profile(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["sim", "device", "--profile", "acme"])
    assert exit_info.value.code == 2
    assert "invalid choice: 'acme'" in capsys.readouterr().err


async def test_sim_device_serves_until_interrupted() -> None:
    port = find_free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "dacs",
        "sim",
        "device",
        "--profile",
        "nibe_s",
        "--port",
        str(port),
        "--speed",
        "60",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        assert process.stdout is not None
        banner = await asyncio.wait_for(process.stdout.readline(), 20)
        assert f"simulated nibe_s heat pump on 127.0.0.1:{port}".encode() in banner
        async with HeatPump("127.0.0.1", port) as heat_pump:
            assert heat_pump.profile.id == "nibe_s"
            measured = await heat_pump.read_measurements()
            assert measured.electric_power_w is not None
        process.send_signal(signal.SIGINT)
        output = await asyncio.wait_for(process.stdout.read(), 20)
        assert await process.wait() == 0
        assert b"stopped" in output
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
