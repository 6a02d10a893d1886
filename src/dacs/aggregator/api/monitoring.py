"""What an orchestrator and Prometheus poll: ``/health`` and ``/metrics`` (``probes.py``: ``/healthz``, ``/readyz``)."""

from __future__ import annotations

from aiohttp import web

from dacs.aggregator.control.quarantine import PointQuarantine
from dacs.aggregator.ingest.home_quarantine import HomeQuarantine
from dacs.aggregator.point_ownership import PointOwnership
from dacs.aggregator.supervisor import TaskState
from dacs.protocol import format_time

from .app_keys import OPENADR_VEN, SERVICE
from .auth import Role, requires
from .responses import Health, TaskDown

routes = web.RouteTableDef()


@routes.get("/health")
async def health(request: web.Request) -> web.Response:
    """Readiness: 503 while the broker link or a supervised task is down.

    Public (orchestrators probe it without a token), so it names the tasks
    but not their errors; the log has the tracebacks.
    """
    service = request.app[SERVICE]
    broker = service.link.connected
    down: list[TaskDown] = [
        {
            "task": state.name,
            "since": format_time(state.down_since),
            "restarts": state.restarts,
        }
        for state in service.supervisor.down
        if state.down_since is not None
    ]
    healthy = broker and not down
    answer: Health = {
        "status": "ok" if healthy else "degraded",
        "broker_connected": broker,
        "tasks_down": down,
    }
    return web.json_response(answer, status=200 if healthy else 503)


@routes.get("/metrics")
@requires(Role.SCRAPER)
async def metrics(request: web.Request) -> web.Response:
    """Prometheus text exposition."""
    service = request.app[SERVICE]
    counters = service.counters
    lines = [
        "# HELP dacs_telemetry_received_total Telemetry messages received from known homes.",
        "# TYPE dacs_telemetry_received_total counter",
        f"dacs_telemetry_received_total {counters.telemetry_received}",
        "# TYPE dacs_telemetry_duplicates_total counter",
        f"dacs_telemetry_duplicates_total {counters.telemetry_duplicates}",
        "# TYPE dacs_telemetry_gaps gauge",
        f"dacs_telemetry_gaps {counters.telemetry_gaps}",
        "# TYPE dacs_telemetry_written_total counter",
        f"dacs_telemetry_written_total {counters.telemetry_written}",
        "# TYPE dacs_messages_refused_total counter",
        f"dacs_messages_refused_total {counters.messages_refused}",
        "# TYPE dacs_commands_sent_total counter",
        f"dacs_commands_sent_total {counters.commands_sent}",
        "# TYPE dacs_cancels_sent_total counter",
        f"dacs_cancels_sent_total {counters.cancels_sent}",
        "# HELP dacs_commands_unconfirmed Commands stored but not yet confirmed by the broker.",
        "# TYPE dacs_commands_unconfirmed gauge",
        f"dacs_commands_unconfirmed {counters.commands_unconfirmed}",
        "# TYPE dacs_commands_redelivered_total counter",
        f"dacs_commands_redelivered_total {counters.commands_redelivered}",
        "# TYPE dacs_acks_written_total counter",
        f"dacs_acks_written_total {counters.acks_written}",
        "# HELP dacs_telemetry_dead_lettered_total Telemetry rows refused, kept aside.",
        "# TYPE dacs_telemetry_dead_lettered_total counter",
        f"dacs_telemetry_dead_lettered_total {counters.telemetry_dead_lettered}",
        "# TYPE dacs_acks_dead_lettered_total counter",
        f"dacs_acks_dead_lettered_total {counters.acks_dead_lettered}",
        "# HELP dacs_telemetry_receipts_sent_total Receipts for stored telemetry sent to homes.",
        "# TYPE dacs_telemetry_receipts_sent_total counter",
        f"dacs_telemetry_receipts_sent_total {service.receipts.sent}",
        "# TYPE dacs_telemetry_receipts_unsent_total counter",
        f"dacs_telemetry_receipts_unsent_total {service.receipts.unsent}",
        "# TYPE dacs_broker_connected gauge",
        f"dacs_broker_connected {int(service.link.connected)}",
        *_task_lines(service.supervisor.states),
    ]
    ven = request.app.get(OPENADR_VEN)
    if ven is not None:
        for name, value in sorted(vars(ven.counters).items()):
            lines += [
                f"# TYPE dacs_openadr_{name}_total counter",
                f"dacs_openadr_{name}_total {value}",
            ]
        lines += [
            "# HELP dacs_openadr_vtn_ok 1 when the last poll of the VTN succeeded.",
            "# TYPE dacs_openadr_vtn_ok gauge",
            f"dacs_openadr_vtn_ok {int(ven.last_error is None and ven.last_success is not None)}",
        ]
    # Each family's samples follow its TYPE line, as the text format requires.
    reports = [
        (point_id, control.last_report)
        for point_id, control in sorted(service.controls.items())
        if control.last_report is not None
    ]
    for family, watts in (
        ("load_kw", "forecast_load_w"),
        ("cap_kw", "cap_w"),
        ("shortfall_kw", "shortfall_w"),
    ):
        lines.append(f"# TYPE dacs_congestion_point_{family} gauge")
        lines += [
            f'dacs_congestion_point_{family}{{congestion_point="{point_id}"}}'
            f" {float(getattr(report, watts)) / 1000:.3f}"
            for point_id, report in reports
        ]
    lines += [
        "# HELP dacs_control_cycle_failures_total Failed control cycles of a point.",
        "# TYPE dacs_control_cycle_failures_total counter",
        *(
            f'dacs_control_cycle_failures_total{{congestion_point="{point_id}"}} {count}'
            for point_id, count in sorted(service.failed_cycles.items())
        ),
        *_quarantine_lines(service.quarantine, service.link.quarantine),
        *_ownership_lines(service.ownership),
    ]
    return web.Response(
        text="\n".join(lines) + "\n",
        content_type="text/plain",
        charset="utf-8",
        headers={"X-Content-Type-Options": "nosniff"},
    )


def _quarantine_lines(points: PointQuarantine, homes: HomeQuarantine) -> list[str]:
    """Points skipped by control, homes not heard, and how often that happened."""
    return [
        "# HELP dacs_congestion_point_quarantined 1 while control skips the point.",
        "# TYPE dacs_congestion_point_quarantined gauge",
        *(
            f'dacs_congestion_point_quarantined{{congestion_point="{point_id}"}} 1'
            for point_id in sorted(points.points)
        ),
        "# TYPE dacs_congestion_point_quarantines_total counter",
        f"dacs_congestion_point_quarantines_total {points.quarantined_total}",
        "# TYPE dacs_congestion_point_quarantines_lifted_total counter",
        f"dacs_congestion_point_quarantines_lifted_total {points.lifted_total}",
        "# HELP dacs_homes_quarantined Homes whose messages are dropped unread now.",
        "# TYPE dacs_homes_quarantined gauge",
        f"dacs_homes_quarantined {len(homes.quarantined)}",
        "# TYPE dacs_home_quarantines_total counter",
        f"dacs_home_quarantines_total {homes.quarantined_total}",
        "# TYPE dacs_home_quarantine_releases_total counter",
        f"dacs_home_quarantine_releases_total {homes.released_total}",
        "# HELP dacs_quarantined_messages_dropped_total Messages of quarantined homes.",
        "# TYPE dacs_quarantined_messages_dropped_total counter",
        f"dacs_quarantined_messages_dropped_total {homes.dropped}",
    ]


def _ownership_lines(ownership: PointOwnership) -> list[str]:
    """This instance's leases on congestion points (nothing when not clustered)."""
    if ownership.keeper is None:
        return []
    counters = ownership.keeper.counters
    age = "NaN" if counters.lease_age_s is None else f"{counters.lease_age_s:.3f}"
    return [
        "# HELP dacs_cluster_points_owned Congestion points whose lease this instance holds.",
        "# TYPE dacs_cluster_points_owned gauge",
        f"dacs_cluster_points_owned {counters.owned}",
        "# HELP dacs_cluster_lease_age_seconds Since the leases were last renewed (NaN: never).",
        "# TYPE dacs_cluster_lease_age_seconds gauge",
        f"dacs_cluster_lease_age_seconds {age}",
        "# HELP dacs_cluster_takeovers_total Leases taken: free, expired or let go of by another.",
        "# TYPE dacs_cluster_takeovers_total counter",
        f"dacs_cluster_takeovers_total {counters.takeovers}",
        "# HELP dacs_cluster_leases_lost_total Leases found taken over, or past their deadline.",
        "# TYPE dacs_cluster_leases_lost_total counter",
        f"dacs_cluster_leases_lost_total {counters.lost}",
        "# TYPE dacs_cluster_leases_released_total counter",
        f"dacs_cluster_leases_released_total {counters.released}",
        "# TYPE dacs_cluster_lease_renewal_failures_total counter",
        f"dacs_cluster_lease_renewal_failures_total {counters.renewal_failures}",
        "# HELP dacs_congestion_point_owned 1 for each point this instance holds the lease of.",
        "# TYPE dacs_congestion_point_owned gauge",
        *(
            f'dacs_congestion_point_owned{{congestion_point="{point_id}"}} 1'
            for point_id in sorted(ownership.keeper.owned)
        ),
    ]


def _task_lines(states: list[TaskState]) -> list[str]:
    """The supervised tasks: restarts after a crash, and which are down now."""
    return [
        "# HELP dacs_task_restarts_total Supervised tasks started again after a crash.",
        "# TYPE dacs_task_restarts_total counter",
        *(f'dacs_task_restarts_total{{task="{s.name}"}} {s.restarts}' for s in states),
        "# HELP dacs_task_up 0 while a supervised task waits to be started again.",
        "# TYPE dacs_task_up gauge",
        *(f'dacs_task_up{{task="{s.name}"}} {int(not s.down)}' for s in states),
        "# HELP dacs_tasks_down Supervised tasks down now.",
        "# TYPE dacs_tasks_down gauge",
        f"dacs_tasks_down {sum(s.down for s in states)}",
    ]
