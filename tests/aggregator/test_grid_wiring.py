"""`create_app` starts the grid adapters the configuration enables, as `dacs aggregator serve` does."""

from __future__ import annotations

from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer

from dacs.aggregator.api.app_keys import SERVICE
from dacs.aggregator.app import OPENADR_VEN, create_app
from dacs.aggregator.config import load_config
from dacs.aggregator.openadr.identifiers import with_check_digit
from dacs.aggregator.registry.provisioning import OpenBrokerProvisioner
from dacs.testbed.grid_peers.openadr_vtn import (
    OpenAdrTestVtn,
    capacity_limit_event,
    capacity_program,
)
from dacs.testbed.servers import MosquittoBroker
from tests.aggregator.openadr.conftest import START, SettableClock
from tests.aggregator.uftp.conftest import write_agr_files

POINT = "tr-1"
GRID_CP = "CP-STREET-1"


async def test_openadr_and_uftp_start_with_the_app(
    mosquitto: MosquittoBroker, tmp_path: Path
) -> None:
    write_agr_files(tmp_path, "http://127.0.0.1:9/uftp")
    async with OpenAdrTestVtn() as vtn:
        program = vtn.add_program(capacity_program("evening"))
        vtn.add_event(
            capacity_limit_event(
                program, GRID_CP, start=START, caps_kw=[40.0, 35.0, 35.0, 40.0]
            )
        )
        toml = tmp_path / "aggregator.toml"
        toml.write_text(
            f"""
[database]
url = "sqlite:///{tmp_path / "agg.db"}"
[mqtt]
host = "127.0.0.1"
port = {mosquitto.port}
[openadr]
enabled = true
vtn_url = "{vtn.base_url}"
token_url = "{vtn.token_url}"
client_id = "{vtn.client_id}"
capacity_program_ids = ["{program}"]
service_provider_ean = "{with_check_digit("871234567890")}"
congestion_points = ["{GRID_CP}={POINT}"]
allow_insecure_http = true
poll_interval_s = 3600
[uftp]
enabled = true
domain = "agr.example"
signing_key_file = "{tmp_path / "agr.key"}"
participants_file = "{tmp_path / "participants.toml"}"
""",
            encoding="utf-8",
        )
        config = load_config(
            toml,
            {
                "DACS_OPENADR_CLIENT_SECRET": vtn.client_secret,
                "DACS_API_METRICS_TOKENS": "scrape-token",
            },
        )
        app = create_app(
            config, clock=SettableClock(START), provisioner=OpenBrokerProvisioner()
        )
        service = app[SERVICE]
        async with TestClient(TestServer(app, host="127.0.0.1")) as client:
            await service.registry.add_congestion_point(
                point_id=POINT,
                name="Street",
                rated_capacity_kw=100,
                grid_operator="Enexis",
            )
            await service.reload()
            ven = app[OPENADR_VEN]
            assert await ven.poll()
            # The grid operator's capacity limit is in force on our congestion point.
            cap = service.controls[POINT].envelopes
            assert [e.intervals[1].cap_w for e in cap] == [35_000.0]
            metrics = await (
                await client.get(
                    "/metrics", headers={"Authorization": "Bearer scrape-token"}
                )
            ).text()
            assert "dacs_openadr_events_applied_total 1" in metrics
            assert "dacs_openadr_vtn_ok 1" in metrics
            assert "# TYPE dacs_acks_written_total counter" in metrics
            # The UFTP endpoint is served and refuses what is not a signed message.
            response = await client.post(
                "/shapeshifter/api/v3/message", data=b"<not-uftp/>"
            )
            assert response.status == 400
            # Past the API's 64 KiB body limit, up to UFTP's own (4 MiB).
            large = b"<FlexSettlement>" + b" " * (200 * 1024) + b"</FlexSettlement>"
            response = await client.post("/shapeshifter/api/v3/message", data=large)
            assert response.status == 400  # read whole, refused as unsigned XML
            huge = b" " * (5 * 1024 * 1024)
            response = await client.post("/shapeshifter/api/v3/message", data=huge)
            assert response.status == 413
