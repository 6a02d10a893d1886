"""The central brokers of a deployment, as configured: ``id=host:port`` entries.

The aggregator's ``[mqtt] brokers`` say where the aggregator reaches each
broker (often an internal address); ``[enrollment] brokers`` say where homes
reach the same brokers. Both name the same ids. Without entries there is one
broker, ``central``, at ``host``/``port`` (``broker_host``/``broker_port``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
import re

from dacs.excerpt import quoted
from dacs.protocol import BrokerAddress

SINGLE_BROKER_ID = "central"
_BROKER_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")
_HOST = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$")


@dataclass(frozen=True, kw_only=True)
class BrokerEndpoint:
    """One central broker: its id and an address."""

    broker_id: str
    host: str
    port: int


def parse_brokers(entries: Sequence[str]) -> tuple[BrokerEndpoint, ...]:
    """``id=host:port`` entries as endpoints; ValueError naming the bad entry."""
    endpoints: list[BrokerEndpoint] = []
    for entry in entries:
        broker_id, equals, address = entry.partition("=")
        host, colon, port_text = address.rpartition(":")
        if not equals or not colon:
            raise ValueError(f"broker {quoted(entry)} is not of the form id=host:port")
        if not _BROKER_ID.fullmatch(broker_id):
            raise ValueError(
                f"broker id {quoted(broker_id)}: 1-32 lower-case letters, digits "
                "and '-', starting with a letter or digit"
            )
        if not _HOST.fullmatch(host):
            raise ValueError(f"broker {broker_id}: {quoted(host)} is not a host name")
        if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
            raise ValueError(f"broker {broker_id}: port {quoted(port_text)} is invalid")
        endpoints.append(
            BrokerEndpoint(broker_id=broker_id, host=host, port=int(port_text))
        )
    ids = [endpoint.broker_id for endpoint in endpoints]
    if len(set(ids)) != len(ids):
        raise ValueError(f"a broker id appears twice in {', '.join(ids)}")
    return tuple(endpoints)


def brokers_or_single(
    entries: Sequence[str], host: str, port: int
) -> tuple[BrokerEndpoint, ...]:
    """The configured brokers, or the single one at ``host``:``port``."""
    if entries:
        return parse_brokers(entries)
    return (BrokerEndpoint(broker_id=SINGLE_BROKER_ID, host=host, port=port),)


def home_addresses(
    endpoints: Sequence[BrokerEndpoint], *, tls: bool, ca_certificate_file: str | None
) -> dict[str, BrokerAddress]:
    """Every broker as homes reach it, by id (enrollment answers, broker moves).

    One CA certificate and one TLS setting serve every broker of a deployment.
    """
    ca_certificate = (
        Path(ca_certificate_file).read_text(encoding="utf-8")
        if ca_certificate_file and tls
        else None
    )
    return {
        endpoint.broker_id: BrokerAddress(
            broker_id=endpoint.broker_id,
            host=endpoint.host,
            port=endpoint.port,
            tls=tls,
            ca_certificate=ca_certificate,
        )
        for endpoint in endpoints
    }
