"""SIGTERM to a real aggregator process while its VTN hangs mid-request (#19 item 6)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
import signal
import time

from dacs.testbed.grid_peers.openadr_vtn import OpenAdrTestVtn, capacity_program
from dacs.testbed.servers import MosquittoBroker
from dacs.testbed.servers.ports import find_free_port
from tests.aggregator.conftest import serve_command
from tests.aggregator.uftp.conftest import write_agr_files

from .conftest import DSO_EAN, GRID_CP, SP_EAN

SRC = Path(__file__).resolve().parents[3] / "src"
EXIT_WITHIN_S = 5.0


def config_file(
    tmp_path: Path, vtn: OpenAdrTestVtn, program: str, broker_port: int
) -> Path:
    """An aggregator with every adapter on: the broker link, the VEN, the AGR."""
    write_agr_files(tmp_path, f"http://127.0.0.1:{find_free_port()}/")
    path = tmp_path / "aggregator.toml"
    path.write_text(
        f"""
[api]
host = "127.0.0.1"
port = {find_free_port()}
[database]
url = "sqlite+aiosqlite:///{tmp_path / "aggregator.db"}"
[mqtt]
host = "127.0.0.1"
port = {broker_port}
[uftp]
participants_file = "{tmp_path / "participants.toml"}"
signing_key_file = "{tmp_path / "agr.key"}"
domain = "agr.example"
enabled = true
[openadr]
enabled = true
vtn_url = "{vtn.base_url}"
token_url = "{vtn.token_url}"
client_id = "{vtn.client_id}"
client_secret = "{vtn.client_secret}"
allow_insecure_http = true
capacity_program_ids = ["{program}"]
service_provider_ean = "{SP_EAN}"
dso_ean = "{DSO_EAN}"
congestion_points = ["{GRID_CP}=tr-1"]
request_timeout_s = 30
""",
        encoding="utf-8",
    )
    return path


async def test_sigterm_exits_within_five_seconds_while_the_vtn_hangs(
    tmp_path: Path, mosquitto: MosquittoBroker
) -> None:
    async with OpenAdrTestVtn() as vtn:
        program = vtn.add_program(capacity_program("evening"))
        vtn.hang()
        process = await asyncio.create_subprocess_exec(
            *serve_command(config_file(tmp_path, vtn, program, mosquitto.port)),
            env=os.environ | {"PYTHONPATH": str(SRC)},
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            async with asyncio.timeout(30):
                while vtn.hung_requests == 0:  # noqa: ASYNC110 - a counter, no event to wait on
                    await asyncio.sleep(0.05)
            await asyncio.sleep(0.2)  # the request is well under way
            started = time.monotonic()
            process.send_signal(signal.SIGTERM)
            async with asyncio.timeout(EXIT_WITHIN_S + 10):
                _, stderr = await process.communicate()
            took = time.monotonic() - started
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
    assert process.returncode == 0, stderr.decode()[-2000:]
    assert took <= EXIT_WITHIN_S, f"exit took {took:.1f} s"
