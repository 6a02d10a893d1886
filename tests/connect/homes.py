"""A home broker started from the configuration the add-on writes."""

from __future__ import annotations

from dataclasses import dataclass, replace
import json
from pathlib import Path

from dacs.connect import (
    BRIDGE_STATE_TOPIC,
    HomeBrokerSettings,
    PreparedBroker,
    prepare_home_broker,
)
from dacs.connect.local_broker import broker_directory
from dacs.protocol import EnrollmentResponse, decode_enrollment_response
from dacs.testbed.servers import MosquittoBroker, find_free_port
from tests.broker.support import Central, MqttProbe, Pki, start_central

from .conftest import HOME_ID, HOME_PASSWORD, enrollment_body

OTHER_HOME = "h-0002"
HOMES = {HOME_ID: HOME_PASSWORD, OTHER_HOME: "home-two-secret-0123456789"}


def loopback_settings(data_dir: Path) -> HomeBrokerSettings:
    """Home broker settings for tests: loopback, quick $SYS and reconnects."""
    return replace(
        HomeBrokerSettings.in_directory(broker_directory(data_dir)),
        listen_port=find_free_port(),
        listen_address="127.0.0.1",
        sys_interval_s=1,
        restart_timeout_s=(1, 2),
        autosave_interval_s=1,
        # MosquittoBroker watches the log (stderr) for the broker's start.
        log_dest=None,
    )


def enrollment_for(central: Central, pki: Pki) -> EnrollmentResponse:
    """What the aggregator would answer, pointing at ``central`` over TLS."""
    body = enrollment_body(port=central.tls_port, ca_certificate=pki.ca_pem)
    return decode_enrollment_response(json.dumps(body))


def central_broker(workdir: Path, pki: Pki) -> Central:
    """A central broker knowing both test homes."""
    return start_central(workdir, pki, HOMES)


@dataclass
class HomeBroker:
    """A running home broker and what the add-on prepared for it."""

    broker: MosquittoBroker
    settings: HomeBrokerSettings
    prepared: PreparedBroker

    def integration(self, client_id: str = "") -> MqttProbe:
        """A connected client logged in as the Home Assistant integration."""
        login = self.prepared.credentials.integration
        probe = MqttProbe(
            self.settings.listen_port,
            username=login.username,
            password=login.password,
            client_id=client_id,
        )
        reason = probe.connect()
        assert not reason.is_failure, reason
        return probe

    def wait_for_bridge(self, state: bytes = b"1", timeout: float = 20.0) -> None:
        """Wait until the broker reports the bridge ``state``."""
        probe = self.integration()
        try:
            probe.subscribe(BRIDGE_STATE_TOPIC, qos=0)
            probe.wait_for(lambda m: m.payload == state, timeout=timeout)
        finally:
            probe.close()


def start_home_broker(
    data_dir: Path,
    enrollment: EnrollmentResponse | None,
    settings: HomeBrokerSettings | None = None,
) -> HomeBroker:
    """Prepare the add-on's files in ``data_dir`` and run Mosquitto on them."""
    settings = settings or loopback_settings(data_dir)
    prepared = prepare_home_broker(data_dir, settings, enrollment)
    broker = MosquittoBroker(
        workdir=data_dir / "harness",
        allow_anonymous=False,
        extra_config=prepared.config_file.read_text(),
    )
    broker.start()
    return HomeBroker(broker=broker, settings=settings, prepared=prepared)
