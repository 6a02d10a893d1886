"""Aggregator configuration: a TOML file, overridden by DACS_* environment variables."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
import math
from pathlib import Path
import tomllib
from typing import Any

from dacs.excerpt import bounded, quoted
from dacs.text import find_forbidden

from .broker_endpoints import BrokerEndpoint, brokers_or_single
from .openadr.config import OpenAdrConfig
from .openadr.errors import OpenAdrConfigError
from .settlement.config import SettlementConfig
from .uftp.config import UftpConfig
from .uftp.errors import UftpConfigError

# The aggregator's first wait before reconnecting to the central broker.
RECONNECT_FIRST_S = 0.5


class ConfigError(ValueError):
    """The configuration is invalid; the message names the setting."""

    def __init__(self, message: str) -> None:
        """Keep the message short: it may quote a value of any length."""
        super().__init__(bounded(message))


@dataclass(frozen=True, kw_only=True)
class DatabaseConfig:
    """Where the aggregator keeps its state."""

    url: str = "sqlite+aiosqlite:///dacs-aggregator.db"
    telemetry_batch_size: int = 500
    telemetry_flush_s: float = 1.0
    ack_batch_size: int = 500
    ack_flush_s: float = 0.5
    # PostgreSQL: telemetry partitions (one per UTC day) older than this are
    # dropped. Settlement reads a month back and a dispute may come a year
    # later: 400 days keeps a full year and the month before it.
    telemetry_retention_days: int = 400
    telemetry_partitions_ahead_days: int = 7  # made in advance, never missed

    def __post_init__(self) -> None:
        """A retention of less than a day would drop today's telemetry."""
        if self.telemetry_retention_days < 1:
            raise ValueError("telemetry_retention_days must be at least 1")
        if self.telemetry_partitions_ahead_days < 0:
            raise ValueError("telemetry_partitions_ahead_days must be 0 or more")


@dataclass(frozen=True, kw_only=True)
class MqttConfig:
    """The central broker, as the aggregator reaches it."""

    host: str = "127.0.0.1"
    port: int = 1883
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    tls_ca_file: str | None = None
    client_id: str = "dacs-aggregator"
    # Instances in the same group split the ingest (MQTT shared subscriptions);
    # empty for a broker without them (then only one instance may run).
    shared_group: str = "dacs"
    # QoS 1 publishes awaiting the broker's PUBACK at once (fan-out).
    publish_window: int = 25
    publish_timeout_s: float = 10.0
    # At most one telemetry receipt per home this often (docs/protocol.md 3.8).
    receipt_interval_s: float = 30.0
    # Reconnect waits double from 0.5 s up to this bound.
    reconnect_max_s: float = 30.0
    # A home with this many refused messages within the window is not heard
    # (its messages dropped unread, an alert raised) for home_quarantine_s.
    home_quarantine_refusals: int = 20
    home_quarantine_window_s: float = 60.0
    home_quarantine_s: float = 600.0
    # Several central brokers: "id=host:port" entries (broker_endpoints.py);
    # empty: the one broker at host:port. One account works on every broker.
    brokers: tuple[str, ...] = ()
    # The broker keeps this instance's subscriptions and queue while it is
    # away. A clustered instance never keeps it (service.py): a dead one's
    # session would go on taking its share of the shared subscriptions.
    persistent_session: bool = True

    @property
    def endpoints(self) -> tuple[BrokerEndpoint, ...]:
        """Every broker this instance connects to."""
        return brokers_or_single(self.brokers, self.host, self.port)

    def __post_init__(self) -> None:
        """Refuse timings the link cannot work with."""
        self.endpoints  # noqa: B018 - parses the entries: a bad one fails here
        if self.home_quarantine_refusals < 1:
            raise ValueError("home_quarantine_refusals must be at least 1")
        if self.home_quarantine_window_s <= 0 or self.home_quarantine_s <= 0:
            raise ValueError(
                "home_quarantine_window_s and home_quarantine_s must be positive"
            )
        if self.receipt_interval_s < 0:
            raise ValueError("receipt_interval_s must not be negative")
        if self.reconnect_max_s < RECONNECT_FIRST_S:
            raise ValueError(f"reconnect_max_s must be at least {RECONNECT_FIRST_S}")


@dataclass(frozen=True, kw_only=True)
class ApiConfig:
    """The REST API, the dashboard and the enrollment endpoint."""

    host: str = "127.0.0.1"
    port: int = 8080
    operator_tokens: tuple[str, ...] = ()
    reader_tokens: tuple[str, ...] = ()
    metrics_tokens: tuple[str, ...] = ()  # Prometheus: /metrics only
    max_body_bytes: int = 64 * 1024


@dataclass(frozen=True, kw_only=True)
class EnrollmentConfig:
    """What enrolled homes are told, and how their broker credentials are kept."""

    broker_host: str = "127.0.0.1"
    broker_port: int = 8883
    broker_tls: bool = True
    ca_certificate_file: str | None = None
    password_file: str | None = None  # Mosquitto password file to add homes to
    code_ttl_days: float = 14.0
    # Several brokers: "id=host:port" as homes reach them, the same ids as
    # [mqtt] brokers; a congestion point's homes share one (broker_assignment.py).
    brokers: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        """Refuse broker entries that are not id=host:port."""
        self.endpoints  # noqa: B018 - parses the entries: a bad one fails here

    @property
    def endpoints(self) -> tuple[BrokerEndpoint, ...]:
        """Every broker a home may be told to use, as homes reach it."""
        return brokers_or_single(self.brokers, self.broker_host, self.broker_port)


@dataclass(frozen=True, kw_only=True)
class ControlConfig:
    """The closed loop."""

    cycle_s: float = 30.0
    command_margin_s: float = 300.0  # expiry after the envelope's end
    follow_limit_minutes: float = (
        5.0  # a home above its limit this long raises an alert
    )
    alert_webhook: str | None = None


@dataclass(frozen=True, kw_only=True)
class ClusterConfig:
    """Several instances on one PostgreSQL database: leases on congestion points."""

    enabled: bool = False
    instance_id: str = ""  # empty: host name, process id and a random part
    lease_s: float = 60.0  # renewed every cycle; must outlast two cycles
    margin_s: float = 15.0  # stop commanding this long before the lease ends

    def __post_init__(self) -> None:
        """The margin must fit inside the lease."""
        if not 0 < self.margin_s < self.lease_s:
            raise ValueError(
                f"margin_s ({self.margin_s}) must be positive and below lease_s ({self.lease_s})"
            )
        if len(self.instance_id) > 128:
            raise ValueError("instance_id: at most 128 characters")


@dataclass(frozen=True, kw_only=True)
class AggregatorConfig:
    """All settings of one aggregator instance."""

    database: DatabaseConfig = field(default_factory=DatabaseConfig)
    mqtt: MqttConfig = field(default_factory=MqttConfig)
    api: ApiConfig = field(default_factory=ApiConfig)
    enrollment: EnrollmentConfig = field(default_factory=EnrollmentConfig)
    control: ControlConfig = field(default_factory=ControlConfig)
    openadr: OpenAdrConfig = field(default_factory=OpenAdrConfig)
    uftp: UftpConfig = field(default_factory=UftpConfig)
    settlement: SettlementConfig = field(default_factory=SettlementConfig)
    cluster: ClusterConfig = field(default_factory=ClusterConfig)


_SECTIONS = {
    "database": DatabaseConfig,
    "mqtt": MqttConfig,
    "api": ApiConfig,
    "enrollment": EnrollmentConfig,
    "control": ControlConfig,
    "openadr": OpenAdrConfig,
    "uftp": UftpConfig,
    "settlement": SettlementConfig,
    "cluster": ClusterConfig,
}


def load_config(
    path: Path | None = None, environ: Mapping[str, str] | None = None
) -> AggregatorConfig:
    """Read the TOML file (if any), then apply ``DACS_<SECTION>_<KEY>`` variables."""
    document: dict[str, Any] = {}
    if path is not None:
        try:
            document = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as err:
            raise ConfigError(f"{path}: {err}") from err
    unknown = set(document) - set(_SECTIONS)
    if unknown:
        raise ConfigError(f"unknown section(s): {', '.join(sorted(unknown))}")
    sections: dict[str, Any] = {}
    for name, cls in _SECTIONS.items():
        values = document.get(name, {})
        if not isinstance(values, dict):
            raise ConfigError(f"[{name}] must be a table of settings")
        section = _build(cls, values, name)
        section = _apply_environment(section, name, environ or {})
        sections[name] = section
    config = AggregatorConfig(**sections)
    _check_cluster(config)
    _check_brokers(config)
    if config.openadr.enabled:
        try:
            config.openadr.check()
        except OpenAdrConfigError as err:
            raise ConfigError(str(err)) from err
    return config


def _check_brokers(config: AggregatorConfig) -> None:
    """What homes are told and what the instance connects to name the same brokers."""
    ours = [endpoint.broker_id for endpoint in config.mqtt.endpoints]
    told = [endpoint.broker_id for endpoint in config.enrollment.endpoints]
    if sorted(ours) != sorted(told):
        raise ConfigError(
            f"[mqtt] brokers ({', '.join(ours)}) and [enrollment] brokers "
            f"({', '.join(told)}) must name the same broker ids"
        )


def _check_cluster(config: AggregatorConfig) -> None:
    """A lease must survive one late renewal, and leases need a shared PostgreSQL."""
    cluster = config.cluster
    if not cluster.enabled:
        return
    if cluster.lease_s < 2 * config.control.cycle_s:
        raise ConfigError(
            f"[cluster] lease_s ({cluster.lease_s}) must be at least two control "
            f"cycles ({2 * config.control.cycle_s} s)"
        )
    if not config.database.url.startswith(("postgresql", "postgres:")):
        raise ConfigError("[cluster] needs a PostgreSQL database (database.url)")


def _build(cls: type[Any], values: dict[str, Any], section: str) -> Any:
    known = {f.name: f for f in fields(cls)}
    unknown = set(values) - set(known)
    if unknown:
        raise ConfigError(
            f"[{section}]: unknown setting(s) {', '.join(sorted(unknown))}"
        )
    converted = {
        key: _convert(known[key].type, value, f"{section}.{key}")
        for key, value in values.items()
    }
    return _construct(cls, converted, section)


def _construct(cls: type[Any], values: dict[str, Any], section: str) -> Any:
    # Sections check their own values; their errors become configuration errors.
    try:
        return cls(**values)
    except (ValueError, UftpConfigError, OpenAdrConfigError) as err:
        raise ConfigError(f"[{section}]: {err}") from err


def _apply_environment(section: Any, name: str, environ: Mapping[str, str]) -> Any:
    changes: dict[str, Any] = {}
    for item in fields(section):
        variable = f"DACS_{name}_{item.name}".upper()
        if variable in environ:
            changes[item.name] = _convert(item.type, environ[variable], variable)
    if not changes:
        return section
    try:
        return replace(section, **changes)
    except (ValueError, UftpConfigError, OpenAdrConfigError) as err:
        raise ConfigError(f"[{name}]: {err}") from err


def _convert(annotation: Any, value: Any, where: str) -> Any:
    # An escape in TOML ("\u0000") or a variable's undecodable bytes
    # (Python reads them as lone surrogates) would fail far from here.
    found = find_forbidden(value, lines=True)
    if found is not None:
        raise ConfigError(f"{where}: holds {found[1]}")
    text = str(annotation)
    try:
        if "tuple" in text:
            if isinstance(value, str):
                return tuple(part.strip() for part in value.split(",") if part.strip())
            return tuple(str(v) for v in value)
        if text.startswith("bool"):
            return _parse_bool(value)
        if value is None or (isinstance(value, str) and value == "" and "None" in text):
            return None
        if text.startswith("int"):
            return int(_finite(value))
        if text.startswith("float"):
            return _finite(value)
        return str(value)
    except (TypeError, ValueError, OverflowError) as err:
        raise ConfigError(f"{where}: {err}") from err


def _finite(value: Any) -> float:
    """A number that a setting can hold: NaN and infinity are refused."""
    if isinstance(value, bool):
        raise TypeError(f"{quoted(value)} is not a number")
    number = value if isinstance(value, int) else float(value)
    if not isinstance(number, int) and not math.isfinite(number):
        raise ValueError(f"{quoted(value)} is not a finite number")
    return number


def _parse_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if str(value).lower() in ("1", "true", "yes", "on"):
        return True
    if str(value).lower() in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"{quoted(value)} is not a boolean")
