"""The table of the API's operations the OpenAPI document shows.

One row a method on a path: its summary, the role it needs, its answers and
the schemas of its body and its success answer (names in ``openapi.py``'s
components). ``tests/aggregator/api`` holds it to the routes the application
registers and to the roles their handlers require.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .auth import Role


@dataclass(frozen=True, kw_only=True)
class Operation:
    """One method on one path, as the document shows it."""

    method: str
    path: str
    summary: str
    role: Role = Role.NONE
    responses: Mapping[str, str]
    body: str | None = None  # the request body's schema
    answer: str | None = None  # the schema of the success answer
    many: bool = False  # the answer is a list of ``answer``
    query: tuple[dict[str, Any], ...] = ()
    path_schemas: Mapping[str, dict[str, Any]] | None = None


def _query(name: str, schema: dict[str, Any], description: str = "") -> dict[str, Any]:
    parameter: dict[str, Any] = {
        "name": name,
        "in": "query",
        "required": False,
        "schema": schema,
    }
    if description:
        parameter["description"] = description
    return parameter


_POINT = "/api/v1/congestion-points/{point_id}"
_SETTLEMENT = "/api/v1/settlement"

OPERATIONS: tuple[Operation, ...] = (
    Operation(
        method="get",
        path="/health",
        summary="readiness: the broker link and the supervised tasks",
        responses={
            "200": "ok",
            "503": "degraded: the broker link or a supervised task is down",
        },
        answer="Health",
    ),
    Operation(
        method="get",
        path="/healthz",
        summary="liveness: the process serves HTTP (nothing else is checked)",
        responses={"200": "alive"},
        answer="Liveness",
    ),
    Operation(
        method="get",
        path="/readyz",
        summary="readiness of this instance: database, broker and, clustered, its leases",
        responses={
            "200": "ready",
            "503": "not ready: the database, the broker or the lease renewal failed",
        },
        answer="Readiness",
    ),
    Operation(
        method="get",
        path="/metrics",
        summary="Prometheus metrics",
        responses={"200": "text exposition"},
        role=Role.SCRAPER,
    ),
    Operation(
        method="post",
        path="/api/v1/enrollments",
        summary="enroll a home with a one-time code",
        responses={
            "201": "enrolled",
            "400": "malformed",
            "404": "unknown code",
            "409": "code used",
            "410": "code expired",
            "429": "rate limited",
        },
        body="EnrollmentRequest",
        answer="EnrollmentResponse",
    ),
    Operation(
        method="get",
        path="/api/v1/congestion-points",
        summary="list congestion points with live state",
        role=Role.READER,
        responses={"200": "list"},
        answer="CongestionPoint",
        many=True,
    ),
    Operation(
        method="post",
        path="/api/v1/congestion-points",
        summary="register a congestion point",
        role=Role.OPERATOR,
        responses={"201": "created", "400": "malformed", "409": "exists"},
        body="CongestionPointCreate",
        answer="CongestionPoint",
    ),
    Operation(
        method="get",
        path=_POINT,
        summary="one congestion point",
        role=Role.READER,
        responses={"200": "found", "404": "unknown"},
        answer="CongestionPoint",
    ),
    Operation(
        method="post",
        path=f"{_POINT}/events",
        summary="manual event, day-ahead profile or emergency stop",
        role=Role.OPERATOR,
        responses={
            "201": "in force",
            "400": "malformed",
            "404": "unknown point",
            "409": "id exists",
        },
        body="EventCreate",
        answer="Event",
    ),
    Operation(
        method="delete",
        path=f"{_POINT}/events/{{event_id}}",
        summary="end an event early",
        role=Role.OPERATOR,
        responses={"200": "cancelled", "404": "not in force"},
        answer="Cancelled",
    ),
    Operation(
        method="post",
        path=f"{_POINT}/quarantine/lift",
        summary="put a quarantined point back under control (its cycle raised)",
        role=Role.OPERATOR,
        responses={"200": "lifted", "404": "unknown point", "409": "not quarantined"},
        answer="QuarantineLifted",
    ),
    Operation(
        method="post",
        path=f"{_POINT}/measurements",
        summary="real-time transformer load",
        role=Role.OPERATOR,
        responses={"202": "accepted", "400": "malformed", "404": "unknown point"},
        body="Measurement",
        answer="Accepted",
    ),
    Operation(
        method="get",
        path=f"{_POINT}/compliance",
        summary="per-ISP means of the stored measurements against the caps "
        "(query: start, end, RFC 3339, at most 31 days apart)",
        role=Role.READER,
        responses={"200": "figures", "400": "malformed window", "404": "unknown point"},
        answer="Compliance",
    ),
    Operation(
        method="get",
        path=f"{_POINT}/history",
        summary="the last cycles kept in memory (24 h), oldest first, and the events in force",
        role=Role.READER,
        responses={"200": "history", "400": "malformed limit", "404": "unknown point"},
        query=(_query("limit", {"type": "integer", "minimum": 0}),),
    ),
    Operation(
        method="get",
        path="/api/v1/stream",
        summary="live feed (text/event-stream): `cycle` per control cycle, `homes` every few cycles, heartbeat comments",
        role=Role.READER,
        responses={"200": "event stream", "404": "unknown point"},
        query=(_query("congestion_point", {"type": "string"}),),
    ),
    *(
        Operation(
            method=method,
            path="/api/v1/session",
            summary=summary,
            responses={"200": answer} | refusals,
            body="SessionCreate" if method == "post" else None,
            answer="DashboardSession",
        )
        for method, summary, answer, refusals in (
            (
                "get",
                "whether this browser holds a dashboard session (the cookie)",
                "signed in or not",
                {},
            ),
            (
                "post",
                "sign a browser in to the dashboard (a read-only session cookie)",
                "signed in (Set-Cookie)",
                {"400": "malformed", "401": "token refused", "415": "not JSON"},
            ),
            (
                "delete",
                "sign this browser out of the dashboard",
                "signed out (the cookie is cleared)",
                {},
            ),
        )
    ),
    Operation(
        method="get",
        path="/api/v1/alerts",
        summary="alerts in force (?all=1: also recently cleared ones)",
        role=Role.READER,
        responses={"200": "list"},
        answer="Alert",
        many=True,
    ),
    Operation(
        method="get",
        path="/api/v1/homes",
        summary="homes with live state",
        role=Role.READER,
        responses={"200": "list"},
        answer="Home",
        many=True,
    ),
    Operation(
        method="get",
        path="/api/v1/homes/{home_id}",
        summary="one home",
        role=Role.READER,
        responses={"200": "found", "404": "unknown"},
        answer="Home",
    ),
    Operation(
        method="post",
        path="/api/v1/homes/{home_id}/broker-move",
        summary="tell a home to use another central broker (protocol 1.2 broker_move)",
        role=Role.OPERATOR,
        responses={
            "200": "moved (or on that broker already)",
            "400": "unknown broker",
            "404": "unknown home",
            "503": "stored, but a broker did not confirm: repeat",
        },
        body="BrokerMoveCreate",
        answer="BrokerMoved",
    ),
    Operation(
        method="get",
        path="/api/v1/enrollment-codes",
        summary="list enrollment codes",
        role=Role.OPERATOR,
        responses={"200": "list"},
        answer="EnrollmentCode",
        many=True,
    ),
    Operation(
        method="post",
        path="/api/v1/enrollment-codes",
        summary="create enrollment codes",
        role=Role.OPERATOR,
        responses={"201": "created", "400": "malformed", "404": "unknown point"},
        body="CodesCreate",
        answer="EnrollmentCode",
        many=True,
    ),
    Operation(
        method="delete",
        path="/api/v1/enrollment-codes/{code}",
        summary="revoke an unused code",
        role=Role.OPERATOR,
        responses={
            "200": "revoked",
            "400": "not a code",
            "404": "unknown",
            "409": "used already",
        },
        answer="Revoked",
    ),
    Operation(
        method="get",
        path=f"{_SETTLEMENT}/deliveries",
        summary="delivered flexibility per 15 minutes of a congestion point "
        "(?congestion_point=&start=&end=&format=json|csv)",
        role=Role.READER,
        responses={
            "200": "deliveries",
            "400": "malformed",
            "404": "unknown congestion point",
        },
    ),
    Operation(
        method="get",
        path=f"{_SETTLEMENT}/statements",
        summary="stored monthly statements of a period "
        "(?period=YYYY-MM&congestion_point=&format=json|csv)",
        role=Role.READER,
        responses={"200": "list", "400": "malformed"},
    ),
    Operation(
        method="post",
        path=f"{_SETTLEMENT}/statements/{{period}}",
        summary="compute, store and send the period's statements to the homes",
        role=Role.OPERATOR,
        responses={"201": "issued", "400": "malformed or not started"},
        path_schemas={
            "period": {"type": "string", "pattern": "^[0-9]{4}-(0[1-9]|1[0-2])$"}
        },
    ),
)
"""Every documented operation; the application registers exactly these."""
