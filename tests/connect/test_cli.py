"""``dacs connect prepare | run | healthcheck`` as the app's s6 scripts run them."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
import signal
import sys
import time

import aiohttp
from aiohttp.test_utils import TestServer

from dacs.broker import list_users
from dacs.cli import main
from dacs.connect import StatusBoard, create_app
from dacs.testbed.servers import find_free_port


def test_prepare_writes_the_broker_files(tmp_path: Path) -> None:
    assert (
        main(
            ["connect", "prepare", "--data-dir", str(tmp_path), "--broker-user", "root"]
        )
        == 0
    )
    config = (tmp_path / "mosquitto" / "mosquitto.conf").read_text()
    assert "user root" in config
    assert "connection" not in config  # not enrolled: no bridge
    assert sorted(list_users(tmp_path / "mosquitto" / "passwords")) == [
        "dacs-connect",
        "homeassistant",
    ]


async def _dacs(*arguments: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "dacs",
        *arguments,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def test_healthcheck() -> None:
    board = StatusBoard()
    async with TestServer(create_app(board)) as server:
        url = str(server.make_url("/api/status"))
        unhealthy = await _dacs("connect", "healthcheck", "--url", url)
        _, error = await unhealthy.communicate()
        assert unhealthy.returncode == 1
        assert b"cannot reach its home broker" in error
        board.set_local_broker(connected=True)
        healthy = await _dacs("connect", "healthcheck", "--url", url)
        await healthy.communicate()
        assert healthy.returncode == 0
    gone = await _dacs("connect", "healthcheck", "--url", url)
    _, error = await gone.communicate()
    assert gone.returncode == 1
    assert b"did not answer" in error


async def test_run_serves_until_sigterm(tmp_path: Path) -> None:
    status_port = find_free_port()
    (tmp_path / "options.json").write_text(json.dumps({"log_level": "info"}))
    process = await _dacs(
        "connect", "run", "--data-dir", str(tmp_path),
        "--status-host", "127.0.0.1", "--status-port", str(status_port),
        "--broker-address", "127.0.0.1", "--broker-port", str(find_free_port()),
    )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{status_port}/api/status"
        deadline = time.monotonic() + 20
        async with aiohttp.ClientSession() as session:
            while True:
                try:
                    async with session.get(url) as answer:
                        status = await answer.json()
                    if status["phase"] == "not_enrolled":
                        break
                except aiohttp.ClientError:
                    pass
                assert time.monotonic() < deadline, "the status page never came up"
                await asyncio.sleep(0.1)
        process.send_signal(signal.SIGTERM)
        output, _ = await asyncio.wait_for(process.communicate(), 20)
        assert process.returncode == 0
        # Logs go to stdout, the app's log.
        assert b"not enrolled: waiting for an enrollment code" in output
        assert b"restart Mosquitto to apply it" in output  # no restart command given
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
