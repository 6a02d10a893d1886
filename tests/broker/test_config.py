"""The central broker's configuration and the files shipped for deployment."""

from __future__ import annotations

from pathlib import Path

import pytest

from dacs.broker import CentralBrokerOptions, render_acl, render_central_config
from dacs.cli import main

REPOSITORY = Path(__file__).resolve().parents[2]
DEPLOYMENT = REPOSITORY / "aggregator" / "mosquitto"


def _directives(text: str) -> list[str]:
    return [line for line in text.splitlines() if line and not line.startswith("#")]


def test_rendered_central_config() -> None:
    options = CentralBrokerOptions(
        tls_port=8883,
        cafile="/c/ca.crt",
        certfile="/c/server.crt",
        keyfile="/c/server.key",
        password_file="/c/passwords",
        acl_file="/c/acl",
        persistence_location="/d",
    )
    directives = _directives(render_central_config(options))
    assert directives[:3] == [
        "allow_anonymous false",
        "password_file /c/passwords",
        "acl_file /c/acl",
    ]
    assert "persistence true" in directives
    assert "persistence_location /d/" in directives
    tls = directives.index("listener 8883")
    assert directives[tls + 1 : tls + 7] == [
        "cafile /c/ca.crt",
        "certfile /c/server.crt",
        "keyfile /c/server.key",
        "require_certificate false",
        "tls_version tlsv1.2",
        "use_username_as_clientid true",
    ]
    assert "max_packet_size 66560" in directives
    assert directives[-1] == "listener 1883 127.0.0.1"
    # Small QoS 1 messages must not wait for Nagle's algorithm (Mosquitto
    # 2.0+; the central broker tests run Mosquitto with this configuration).
    assert "set_tcp_nodelay true" in directives
    assert "set_tcp_nodelay true" not in render_central_config(
        CentralBrokerOptions(tcp_nodelay=False)
    )
    without_plain = _directives(
        render_central_config(CentralBrokerOptions(plain_port=None))
    )
    assert [d for d in without_plain if d.startswith("listener")] == ["listener 8883"]


def test_deployment_files_are_rendered_from_the_code(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """aggregator/mosquitto/ holds exactly what the commands print."""
    assert main(["broker", "render-acl"]) == 0
    assert (DEPLOYMENT / "acl").read_text() == capsys.readouterr().out
    # Compose: the aggregator reaches the plain listener over the private
    # network of the deployment, so it listens on every interface there.
    assert main(["broker", "render-config", "--plain-address", "*"]) == 0
    assert (DEPLOYMENT / "mosquitto.conf.example").read_text() == (
        capsys.readouterr().out
    )
    assert (DEPLOYMENT / "acl").read_text() == render_acl()
