"""The deployment files are consistent with the code they run."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from dacs.aggregator.config import ConfigError, load_config
from dacs.cli import main

ROOT = Path(__file__).parents[2]


def test_example_configuration_loads() -> None:
    config = load_config(ROOT / "aggregator" / "aggregator.example.toml", {})
    assert config.mqtt.shared_group == "dacs"
    assert config.enrollment.password_file == "/mosquitto/config/passwords"
    assert config.settlement.statement_interval_h == 24
    assert not config.openadr.enabled
    assert not config.uftp.enabled
    # Turning an interface on without its secrets is a configuration error.
    with pytest.raises(ConfigError, match="openadr"):
        load_config(
            ROOT / "aggregator" / "aggregator.example.toml",
            {"DACS_OPENADR_ENABLED": "true"},
        )


def test_compose_wires_the_services() -> None:
    compose = yaml.safe_load((ROOT / "aggregator" / "compose.yaml").read_text())
    services = compose["services"]
    assert {"postgres", "mosquitto", "aggregator", "broker-config"} <= set(services)
    assert services["aggregator"]["build"]["dockerfile"] == "aggregator/Dockerfile"
    assert "mosquitto-config:/mosquitto/config" in services["aggregator"]["volumes"]
    dockerfile = (ROOT / "aggregator" / "Dockerfile").read_text()
    assert 'ENTRYPOINT ["dacs", "aggregator", "serve"]' in dockerfile


def test_compose_runs_two_clustered_instances_on_two_brokers() -> None:
    compose = yaml.safe_load((ROOT / "aggregator" / "compose.yaml").read_text())
    services = compose["services"]
    assert {"mosquitto", "mosquitto-2", "aggregator", "aggregator-2"} <= set(services)
    configs = []
    for name in ("aggregator", "aggregator-2"):
        environment = {
            key: value.split(":-", 1)[-1].rstrip("}") if "${" in value else value
            for key, value in services[name]["environment"].items()
        }
        # The example file with each instance's environment is a valid cluster.
        configs.append(
            load_config(ROOT / "aggregator" / "aggregator.example.toml", environment)
        )
        assert "/readyz" in " ".join(services[name]["healthcheck"]["test"])
    first, second = configs
    assert first.cluster.enabled
    assert second.cluster.enabled
    assert first.cluster.instance_id != second.cluster.instance_id
    assert first.mqtt.client_id != second.mqtt.client_id
    hosts = {endpoint.host for endpoint in first.mqtt.endpoints}
    assert hosts == {"mosquitto", "mosquitto-2"}
    assert [e.broker_id for e in first.enrollment.endpoints] == ["b1", "b2"]


def test_serve_refuses_a_broken_configuration(tmp_path: Path) -> None:
    broken = tmp_path / "bad.toml"
    broken.write_text("[api]\nport = 'eighty'\n")
    assert main(["aggregator", "serve", "--config", str(broken)]) == 2
