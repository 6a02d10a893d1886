"""The capacity model: measured per-instance figures scaled over a fleet.

``python -m benchmarks.capacity_model`` (or ``make capacity``) reads the
figures ``make bench`` wrote (``artifacts/bench.json``: the fan-out's homes
per instance, the ingest's messages a second, the writer's rows a second and
the broker's rate in the bare fan-out), measures what a telemetry row costs
on disk in a real PostgreSQL (a day's partition with its indexes), and prints
what 1,000,000 homes behind 10,000 congestion points need: instances,
brokers, PostgreSQL cores, rows a second and disk a day and a year. A figure
missing from the JSON falls back to the one ``docs/architecture.md`` gives,
and the output says which came from where.
"""

from __future__ import annotations

import argparse
import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
import json
import math
from pathlib import Path
import sys

# Fallbacks: figures measured on the 2-core development machine under load,
# as docs/architecture.md gives them (bench_fanout, bench_ingest).
_FALLBACK = {
    "homes_per_instance": (9_000.0, "docs: fan-out p99 2.2 s at 10,000 homes"),
    "ingest_per_s": (24_700.0, "docs: make bench ingest, end to end"),
    "writer_rows_per_s": (38_000.0, "docs: TelemetryWriter alone, under load"),
    "broker_msgs_per_s": (13_000.0, "docs: bare fan-out, 20,000 messages in 1.5 s"),
}
_ROW_SAMPLE = 20_000


@dataclass(frozen=True, kw_only=True)
class Figure:
    """One measured input and where it came from."""

    value: float
    source: str


@dataclass(frozen=True, kw_only=True)
class Fleet:
    """What is to be served."""

    homes: int = 1_000_000
    congestion_points: int = 10_000
    telemetry_interval_s: float = 10.0  # the home controller's default
    retention_days: int = 400
    spare_instances: int = 1  # one instance may fail without a missed cycle


@dataclass(frozen=True, kw_only=True)
class Capacity:
    """What the fleet needs."""

    instances: int
    instances_for_fan_out: int
    instances_for_ingest: int
    points_per_instance: int
    brokers: int  # for the worst cycle: every home commanded at once
    brokers_steady: int  # for the telemetry alone
    telemetry_rows_per_s: float
    postgres_cores: float
    disk_gb_per_day: float
    disk_tb_retained: float


def plan(fleet: Fleet, figures: dict[str, Figure], row_bytes: float) -> Capacity:
    """Scale the per-instance figures over the fleet (linear: work is per home)."""
    rows_per_s = fleet.homes / fleet.telemetry_interval_s
    for_fan_out = math.ceil(fleet.homes / figures["homes_per_instance"].value)
    for_ingest = math.ceil(rows_per_s / figures["ingest_per_s"].value)
    instances = max(for_fan_out, for_ingest) + fleet.spare_instances
    # A broker carries the telemetry in and, in the worst cycle (an emergency
    # stop everywhere), a command and an ack per home within the 2 s goal.
    peak_msgs_per_s = rows_per_s + 2 * fleet.homes / 2.0
    brokers = math.ceil(peak_msgs_per_s / figures["broker_msgs_per_s"].value)
    # The writer's rate was measured with PostgreSQL and the client on the
    # same two cores: two cores per that many rows a second is an upper bound.
    cores = 2 * rows_per_s / figures["writer_rows_per_s"].value
    per_day_gb = rows_per_s * 86_400 * row_bytes / 1e9
    return Capacity(
        instances=instances,
        instances_for_fan_out=for_fan_out,
        instances_for_ingest=for_ingest,
        points_per_instance=math.ceil(fleet.congestion_points / (instances - 1 or 1)),
        brokers=brokers,
        brokers_steady=math.ceil(rows_per_s / figures["broker_msgs_per_s"].value),
        telemetry_rows_per_s=rows_per_s,
        postgres_cores=cores,
        disk_gb_per_day=per_day_gb,
        disk_tb_retained=per_day_gb * fleet.retention_days / 1000,
    )


def figures_from(path: Path) -> dict[str, Figure]:
    """The inputs from a ``make bench`` JSON file, the documented ones where it has none."""
    found: dict[str, Figure] = {}
    results = json.loads(path.read_text(encoding="utf-8")) if path.exists() else []
    for result in results:
        name = result["name"]
        where = f"{path}: {name}"
        if name.startswith("fanout: homes per instance") and "sqlite" not in name:
            found["homes_per_instance"] = Figure(value=result["value"], source=where)
        elif name.startswith("fanout: homes per instance"):
            found.setdefault(
                "homes_per_instance", Figure(value=result["value"], source=where)
            )
        elif name == "ingest: decode + TelemetryWriter (end to end)":
            found["ingest_per_s"] = Figure(value=result["value"], source=where)
        elif name == "ingest: TelemetryWriter on decoded messages":
            found["writer_rows_per_s"] = Figure(value=result["value"], source=where)
        elif name.startswith("fanout:") and "bare client" in name:
            # Commands out and acks back through the broker, every ack in.
            total_s = _max_seconds(result["notes"])
            if total_s:
                found["broker_msgs_per_s"] = Figure(
                    value=2 * 10_000 / total_s, source=f"{where} (2 x 10,000 / max)"
                )
    for key, (value, source) in _FALLBACK.items():
        found.setdefault(key, Figure(value=value, source=source))
    return found


def _max_seconds(notes: str) -> float | None:
    """The fan-out's last ack ("max 1.52 s") from a result's notes."""
    marker = "max "
    if marker not in notes:
        return None
    try:
        return float(notes.split(marker, 1)[1].split(" ", 1)[0])
    except ValueError:
        return None


async def measure_row_bytes(rows: int = _ROW_SAMPLE) -> float:
    """Bytes a telemetry row takes in its day's partition, indexes included."""
    # Imported only when measuring: --row-bytes needs no database code.
    from sqlalchemy import text

    from dacs.aggregator.ingest.telemetry_writer import TelemetryWriter
    from dacs.aggregator.storage.database import create_engine, migrate
    from dacs.aggregator.storage.telemetry_partitions import partition_name
    from dacs.protocol import LimitSource, Telemetry
    from dacs.testbed.servers.postgres import PostgresServer

    server = PostgresServer()
    server.start()
    try:
        engine = create_engine(server.create_database("capacity"))
        try:
            await migrate(engine)
            start = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
            writer = TelemetryWriter(engine, batch_size=1000)
            for i in range(rows):
                writer.add(
                    Telemetry(
                        home_id=f"home-{i % 1000:06d}",
                        seq=i,
                        boot_id="3f2a9c1e-boot",
                        ts=start + timedelta(seconds=10 * (i // 1000), microseconds=i),
                        electric_power_w=1800.0 + i % 700,
                        thermal_power_w=5400.0,
                        boiler_active=False,
                        boiler_thermal_w=0.0,
                        indoor_temp_c=20.5,
                        outdoor_temp_c=2.0,
                        electric_energy_kwh=1234.5,
                        limit_w=1500.0,
                        limit_source=LimitSource.AGGREGATOR,
                        command_id="c-20261208T170000-home-000001-1234",
                    )
                )
                if writer.pending >= 1000:
                    await writer.flush()
            await writer.flush()
            async with engine.connect() as connection:
                size = await connection.scalar(
                    text("SELECT pg_total_relation_size(to_regclass(:name))"),
                    {"name": partition_name(start.date())},
                )
        finally:
            await engine.dispose()
    finally:
        server.cleanup()
    return float(size) / rows


def main() -> int:
    """Print the capacity model for a fleet."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.capacity_model")
    parser.add_argument("--bench", type=Path, default=Path("artifacts/bench.json"))
    parser.add_argument("--homes", type=int, default=Fleet.homes)
    parser.add_argument("--points", type=int, default=Fleet.congestion_points)
    parser.add_argument(
        "--telemetry-interval-s", type=float, default=Fleet.telemetry_interval_s
    )
    parser.add_argument("--retention-days", type=int, default=Fleet.retention_days)
    parser.add_argument(
        "--row-bytes", type=float, help="skip the PostgreSQL measurement"
    )
    args = parser.parse_args()
    fleet = Fleet(
        homes=args.homes,
        congestion_points=args.points,
        telemetry_interval_s=args.telemetry_interval_s,
        retention_days=args.retention_days,
    )
    figures = figures_from(args.bench)
    if args.row_bytes is not None:
        row = Figure(value=args.row_bytes, source="--row-bytes")
    else:
        row = Figure(
            value=asyncio.run(measure_row_bytes()),
            source=f"measured: {_ROW_SAMPLE:,} rows in a day's partition, indexes included",
        )
    capacity = plan(fleet, figures, row.value)
    print(
        f"fleet: {fleet.homes:,} homes, {fleet.congestion_points:,} congestion points, "
        f"telemetry every {fleet.telemetry_interval_s:g} s, {fleet.retention_days} days kept"
    )
    print("inputs:")
    for key, figure in (*figures.items(), ("row_bytes", row)):
        print(f"  {key:20} {figure.value:>12,.1f}  ({figure.source})")
    print("needs:")
    print(
        f"  aggregator instances {capacity.instances} "
        f"(fan-out {capacity.instances_for_fan_out}, ingest "
        f"{capacity.instances_for_ingest}, + {fleet.spare_instances} spare), "
        f"about {capacity.points_per_instance:,} congestion points each"
    )
    print(
        f"  MQTT brokers         {capacity.brokers} for a fleet-wide command in 2 s, "
        f"{capacity.brokers_steady} for the telemetry alone"
    )
    print(f"  telemetry rows/s     {capacity.telemetry_rows_per_s:,.0f}")
    print(f"  PostgreSQL cores     {capacity.postgres_cores:.1f} (writes, upper bound)")
    print(
        f"  disk                 {capacity.disk_gb_per_day:,.0f} GB a day, "
        f"{capacity.disk_tb_retained:,.1f} TB for {fleet.retention_days} days"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
