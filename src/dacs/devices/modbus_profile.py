"""Device profiles: a heat pump family's registers as data, validated on load."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache
from importlib import resources
import json
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from dacs.excerpt import bounded

from .errors import ProfileError
from .models import OperatingMode


class RegisterTable(StrEnum):
    """The four Modbus data tables."""

    HOLDING = "holding"
    INPUT = "input"
    COIL = "coil"
    DISCRETE = "discrete"

    @property
    def is_bits(self) -> bool:
        """True for the single-bit tables (coils, discrete inputs)."""
        return self in (RegisterTable.COIL, RegisterTable.DISCRETE)


class ValueType(StrEnum):
    """How a point's registers encode its value."""

    UINT16 = "uint16"
    INT16 = "int16"
    UINT32 = "uint32"
    INT32 = "int32"
    STRING = "string"
    BOOL = "bool"


_REGISTER_COUNT = {
    ValueType.UINT16: 1,
    ValueType.INT16: 1,
    ValueType.UINT32: 2,
    ValueType.INT32: 2,
    ValueType.BOOL: 1,
}


@dataclass(frozen=True, kw_only=True)
class RegisterPoint:
    """One value in the device's register map.

    ``scale`` converts raw register values to engineering units
    (value = raw * scale). ``missing`` is a raw value that means "not
    available" (e.g. 0x8000 for an absent temperature sensor). ``min`` and
    ``max`` bound the physically possible engineering value; anything outside
    is invalid data. ``values`` maps names to raw values for enumerations.
    """

    table: RegisterTable
    address: int
    type: ValueType
    count: int
    bit: int | None = None
    scale: float = 1.0
    unit: str | None = None
    min: float | None = None
    max: float | None = None
    missing: int | None = None
    values: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    low_word_first: bool = False
    description: str = ""

    @property
    def writable(self) -> bool:
        """True for points in writable tables."""
        return self.table in (RegisterTable.HOLDING, RegisterTable.COIL)

    @property
    def names_by_raw(self) -> dict[int, str]:
        """The enumeration, raw value -> name."""
        return {raw: name for name, raws in self.values.items() for raw in raws}

    def raw_for(self, name: str) -> int:
        """The (first) raw value of an enumeration name."""
        return self.values[name][0]


@dataclass(frozen=True, kw_only=True)
class RegisterWrite:
    """A raw value written to one register or coil."""

    table: RegisterTable
    address: int
    value: int


@dataclass(frozen=True, kw_only=True)
class ProbeCheck:
    """One identification check: the point must be readable (and equal a value)."""

    point: RegisterPoint
    equals: int | str | None = None


@dataclass(frozen=True, kw_only=True)
class PowerLimitControl:
    """How the profile writes, releases and keeps alive an electric power limit."""

    point: RegisterPoint
    unlimited_raw: int | None = None
    enable: tuple[RegisterWrite, ...] = ()
    release: tuple[RegisterWrite, ...] = ()
    validity: RegisterPoint | None = None
    watchdog_period: RegisterPoint | None = None
    heartbeat: RegisterWrite | None = None


type TextSpec = str | RegisterPoint
type NumberSpec = float | RegisterPoint
type BoolSpec = bool | RegisterPoint


@dataclass(frozen=True, kw_only=True)
class DeviceProfile:
    """A validated device profile."""

    id: str
    name: str
    version: str
    description: str
    sources: tuple[str, ...]
    detect_order: int | None  # None: never autodetected, only chosen by hand
    probe: tuple[ProbeCheck, ...]
    identity: Mapping[str, TextSpec]
    capabilities: Mapping[str, NumberSpec | BoolSpec]
    measurements: Mapping[str, RegisterPoint]
    power_limit: PowerLimitControl | None
    modes: Mapping[OperatingMode, tuple[RegisterWrite, ...]]
    room_setpoint: RegisterPoint | None
    read_gap_max: int = 0

    def points(self) -> list[RegisterPoint]:
        """Every register point the profile reads or writes."""
        found: list[RegisterPoint] = [c.point for c in self.probe]
        found += [v for v in self.identity.values() if isinstance(v, RegisterPoint)]
        found += [v for v in self.capabilities.values() if isinstance(v, RegisterPoint)]
        found += self.measurements.values()
        if self.power_limit:
            found.append(self.power_limit.point)
            found += [
                p
                for p in (self.power_limit.validity, self.power_limit.watchdog_period)
                if p is not None
            ]
        if self.room_setpoint:
            found.append(self.room_setpoint)
        return found


@cache
def _schema() -> dict[str, Any]:
    text = resources.files(__package__).joinpath("profile.schema.json").read_text()
    schema: dict[str, Any] = json.loads(text)
    return schema


def parse_profile(document: Any, origin: str = "<profile>") -> DeviceProfile:
    """Validate a profile document (parsed YAML) and build the profile."""
    validator = jsonschema.Draft202012Validator(_schema())
    errors = sorted(validator.iter_errors(document), key=lambda e: list(e.path))
    if errors:
        first = errors[0]
        where = "/".join(str(p) for p in first.path) or "(top level)"
        # jsonschema's message quotes the offending value whole.
        raise ProfileError(bounded(f"{origin}: {where}: {first.message}"))
    try:
        return _build(document)
    except ValueError as err:
        raise ProfileError(bounded(f"{origin}: {err}")) from err


def load_profile_file(path: Path) -> DeviceProfile:
    """Load and validate one profile YAML file."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as err:
        raise ProfileError(f"{path}: cannot read profile: {err}") from err
    return parse_profile(document, str(path))


@cache
def builtin_profiles() -> dict[str, DeviceProfile]:
    """The profiles shipped with the package, by id."""
    found: dict[str, DeviceProfile] = {}
    folder = resources.files(__package__).joinpath("profiles")
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".yaml"):
            continue
        document = yaml.safe_load(entry.read_text(encoding="utf-8"))
        profile = parse_profile(document, entry.name)
        if profile.id in found:
            raise ProfileError(f"{entry.name}: duplicate profile id {profile.id!r}")
        found[profile.id] = profile
    return found


def get_profile(profile_id: str) -> DeviceProfile:
    """Return a built-in profile by id, with a clear error for unknown ids."""
    profiles = builtin_profiles()
    try:
        return profiles[profile_id]
    except KeyError:
        known = ", ".join(sorted(profiles))
        raise ProfileError(
            f"unknown device profile {profile_id!r}; known profiles: {known}"
        ) from None


def _point(data: Mapping[str, Any]) -> RegisterPoint:
    value_type = ValueType(data["type"])
    table = RegisterTable(data["table"])
    if value_type is ValueType.STRING:
        if "count" not in data:
            raise ValueError(f"string point at {data['address']} needs a count")
        count = int(data["count"])
    else:
        count = _REGISTER_COUNT[value_type]
    if table.is_bits and value_type is not ValueType.BOOL:
        raise ValueError(f"{table} point at {data['address']} must be of type bool")
    if "bit" in data and value_type is not ValueType.BOOL:
        raise ValueError(f"bit given for non-bool point at {data['address']}")
    low, high = data.get("min"), data.get("max")
    if low is not None and high is not None and low > high:
        raise ValueError(f"point at {data['address']}: min {low} > max {high}")
    return RegisterPoint(
        table=table,
        address=int(data["address"]),
        type=value_type,
        count=count,
        bit=data.get("bit"),
        scale=float(data.get("scale", 1.0)),
        unit=data.get("unit"),
        min=low,
        max=high,
        missing=data.get("missing"),
        values={
            name: tuple(raw) if isinstance(raw, list) else (raw,)
            for name, raw in data.get("values", {}).items()
        },
        low_word_first=data.get("word_order") == "low_first",
        description=data.get("description", ""),
    )


def _write(data: Mapping[str, Any]) -> RegisterWrite:
    table = RegisterTable(data["table"])
    value = int(data["value"])
    if table is RegisterTable.COIL and value not in (0, 1):
        raise ValueError(f"coil {data['address']} can only be written 0 or 1")
    return RegisterWrite(table=table, address=int(data["address"]), value=value)


def _spec(value: Any) -> Any:
    return _point(value) if isinstance(value, dict) else value


def _build(doc: Mapping[str, Any]) -> DeviceProfile:
    autodetect = doc.get("autodetect")
    control = doc["control"]
    limit_doc = control.get("power_limit")
    power_limit = None
    if limit_doc is not None:
        power_limit = PowerLimitControl(
            point=_point(limit_doc["point"]),
            unlimited_raw=limit_doc.get("unlimited_raw"),
            enable=tuple(_write(w) for w in limit_doc.get("enable", [])),
            release=tuple(_write(w) for w in limit_doc.get("release", [])),
            validity=_point(limit_doc["validity"]) if "validity" in limit_doc else None,
            watchdog_period=(
                _point(limit_doc["watchdog_period"])
                if "watchdog_period" in limit_doc
                else None
            ),
            heartbeat=_write(limit_doc["heartbeat"])
            if "heartbeat" in limit_doc
            else None,
        )
        if power_limit.unlimited_raw is None and not power_limit.release:
            raise ValueError(
                "power_limit needs unlimited_raw or release writes: otherwise a "
                "limit could never be lifted"
            )
    capabilities = {k: _spec(v) for k, v in doc["capabilities"].items()}
    if capabilities.get("supports_power_limit") is True and power_limit is None:
        raise ValueError(
            "supports_power_limit is true but control.power_limit is missing"
        )
    modes = {
        OperatingMode(name): tuple(_write(w) for w in writes)
        for name, writes in control.get("modes", {}).items()
    }
    if (
        capabilities.get("supports_gas_only") is True
        and OperatingMode.GAS_ONLY not in modes
    ):
        raise ValueError(
            "supports_gas_only is true but control.modes.gas_only is missing"
        )
    return DeviceProfile(
        id=doc["id"],
        name=doc["name"],
        version=doc["version"],
        description=doc.get("description", ""),
        sources=tuple(doc["sources"]),
        detect_order=autodetect["order"] if autodetect else None,
        probe=tuple(
            ProbeCheck(point=_point(c["point"]), equals=c.get("equals"))
            for c in (autodetect["probe"] if autodetect else [])
        ),
        identity={k: _spec(v) for k, v in doc["identity"].items()},
        capabilities=capabilities,
        measurements={k: _point(v) for k, v in doc["measurements"].items()},
        power_limit=power_limit,
        modes=modes,
        room_setpoint=(
            _point(control["room_setpoint"]) if "room_setpoint" in control else None
        ),
        read_gap_max=doc.get("read_gap_max", 0),
    )
