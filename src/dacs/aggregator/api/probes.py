"""What an orchestrator probes per instance: ``/healthz`` (alive) and ``/readyz`` (ready).

Liveness asks nothing of the database or the broker: restarting a process
does not mend an outage of either, so a liveness probe must not fail on
one. Readiness does ask, so that a load balancer sends the API's requests to
an instance that can carry them out, and an operator sees which instance of
a cluster has lost PostgreSQL.
"""

from __future__ import annotations

from aiohttp import web

from dacs.aggregator.storage.database import database_reachable

from .app_keys import SERVICE
from .responses import Liveness, Readiness

routes = web.RouteTableDef()

# Well below the probes' own timeouts (Docker 5 s, Kubernetes 1 s by default
# is raised to 3 s in docs/api.md), so the answer is a 503, not no answer.
DATABASE_TIMEOUT_S = 2.0


@routes.get("/healthz")
async def healthz(request: web.Request) -> web.Response:
    """Liveness: 200 while the process serves HTTP."""
    answer: Liveness = {
        "status": "alive",
        "instance": request.app[SERVICE].ownership.instance_id,
    }
    return web.json_response(answer)


@routes.get("/readyz")
async def readyz(request: web.Request) -> web.Response:
    """Readiness: 503 unless the database, the broker and (clustered) the leases are fine."""
    service = request.app[SERVICE]
    database = await database_reachable(service.engine, timeout_s=DATABASE_TIMEOUT_S)
    # Every broker: a point's homes are all on one, so one broker down
    # stops whole points (docs/architecture.md).
    broker = service.link.all_connected
    clustered = service.ownership.keeper is not None
    leases = service.ownership.ready() if clustered else None
    ready = database and broker and leases is not False
    answer: Readiness = {
        "status": "ready" if ready else "not_ready",
        "instance": service.ownership.instance_id,
        "database": database,
        "broker_connected": broker,
        "leases_renewed": leases,
    }
    return web.json_response(answer, status=200 if ready else 503)
