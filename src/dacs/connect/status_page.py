"""The add-on's status page, shown in Home Assistant through ingress.

Ingress serves the page under a per-session path prefix, so every link here
is relative and the page loads nothing from elsewhere.
"""

from __future__ import annotations

from datetime import datetime
from html import escape

from aiohttp import web
from aiohttp.typedefs import Handler

from .status import EnrollmentPhase, StatusBoard, StatusSnapshot, UplinkState

STATUS_BOARD: web.AppKey[StatusBoard] = web.AppKey("status_board", StatusBoard)
REFRESH_S = 10

_PHASE_TEXT = {
    EnrollmentPhase.STARTING: "starting",
    EnrollmentPhase.NOT_ENROLLED: "not enrolled: enter your enrollment code in the add-on's configuration",
    EnrollmentPhase.ENROLLING: "enrolling ...",
    EnrollmentPhase.RETRY_WAIT: "enrollment failed for now; trying again",
    EnrollmentPhase.FAILED: "enrollment failed; enter a new enrollment code",
    EnrollmentPhase.ENROLLED: "enrolled",
}
_UPLINK_TEXT = {
    UplinkState.NOT_CONFIGURED: ("idle", "not configured (not enrolled)"),
    UplinkState.UNKNOWN: ("idle", "unknown"),
    UplinkState.UP: ("good", "connected"),
    UplinkState.DOWN: ("bad", "disconnected; messages are queued"),
}


# The Supervisor's ingress proxy; loopback is the container's own health check.
INGRESS_PROXY = "172.30.32.2"
DEFAULT_ALLOWED_CLIENTS = frozenset({INGRESS_PROXY, "127.0.0.1", "::1"})


def create_app(
    board: StatusBoard, allowed_clients: frozenset[str] | None = DEFAULT_ALLOWED_CLIENTS
) -> web.Application:
    """The status page application for ``board``.

    The page listens on every interface (ingress reaches the container from
    outside), so it answers only the ingress proxy and loopback: other
    add-ons on the internal network get 403. ``None`` allows everyone.
    """

    @web.middleware
    async def only_ingress(
        request: web.Request, handler: Handler
    ) -> web.StreamResponse:
        if allowed_clients is not None and request.remote not in allowed_clients:
            raise web.HTTPForbidden(
                text="only reachable through Home Assistant ingress"
            )
        return await handler(request)

    app = web.Application(middlewares=[only_ingress])
    app[STATUS_BOARD] = board
    app.router.add_get("/", _page)
    app.router.add_get("/api/status", _status)
    app.router.add_get("/api/health", _health)
    return app


async def _status(request: web.Request) -> web.Response:
    return web.json_response(request.app[STATUS_BOARD].snapshot.to_dict())


async def _health(request: web.Request) -> web.Response:
    # For the container's HEALTHCHECK: the status code alone tells.
    healthy = request.app[STATUS_BOARD].snapshot.healthy
    return web.json_response({"healthy": healthy}, status=200 if healthy else 503)


async def _page(request: web.Request) -> web.Response:
    return web.Response(
        text=render_page(request.app[STATUS_BOARD].snapshot),
        content_type="text/html",
        headers={"Cache-Control": "no-store"},
    )


def render_page(snapshot: StatusSnapshot) -> str:
    """The status page's HTML."""
    uplink_class, uplink_text = _UPLINK_TEXT[snapshot.uplink]
    rows = [
        ("Enrollment", _enrollment(snapshot)),
        (
            "Uplink to the aggregator",
            f'<span class="dot {uplink_class}"></span>{escape(uplink_text)}'
            + _since(snapshot.uplink_since),
        ),
        ("Messages waiting for the uplink", _number(snapshot.queued_messages)),
        ("Last command", _command(snapshot)),
        (
            "Home broker",
            "reachable" if snapshot.local_broker_connected else "not reachable",
        ),
        ("Home Assistant discovery", escape(snapshot.discovery)),
    ]
    problem = snapshot.enrollment_problem
    if problem is not None:
        retry = (
            f"; next attempt at {_clock(problem.next_attempt_at)}"
            if problem.next_attempt_at
            else ""
        )
        error = escape(problem.message)
        rows.append(
            (
                "Last enrollment error",
                f'<span class="dot bad"></span>{error} ({_clock(problem.at)}{retry})',
            )
        )
    body = "\n".join(
        f"<tr><th>{escape(label)}</th><td>{value}</td></tr>" for label, value in rows
    )
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="refresh" content="{REFRESH_S}">
<title>DACS Connect</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem; color: #1c2b36; }}
h1 {{ font-size: 1.4rem; }}
table {{ border-collapse: collapse; }}
th, td {{ text-align: left; padding: .4rem 1rem .4rem 0; vertical-align: top; }}
th {{ font-weight: 600; color: #4a5b68; }}
.dot {{ display: inline-block; width: .7rem; height: .7rem; border-radius: 50%;
        margin-right: .4rem; background: #9aa5ad; }}
.good {{ background: #2e9d5b; }} .bad {{ background: #d64541; }}
footer {{ margin-top: 2rem; font-size: .85rem; color: #6b7a85; }}
</style>
</head>
<body>
<h1>DACS Connect</h1>
<table>
{body}
</table>
<footer><a href="api/status">status as JSON</a> &middot; refreshes every {REFRESH_S} s</footer>
</body>
</html>
"""


def _enrollment(snapshot: StatusSnapshot) -> str:
    if snapshot.home_id is None:
        return escape(_PHASE_TEXT[snapshot.phase])
    text = f"enrolled as <strong>{escape(snapshot.home_id)}</strong>"
    if snapshot.enrolled_at is not None:
        text += f" since {_clock(snapshot.enrolled_at)}"
    return text


def _command(snapshot: StatusSnapshot) -> str:
    command = snapshot.last_command
    if command is None:
        return "none"
    if command.kind == "invalid":
        return f"invalid message: {escape(command.error or '')}"
    text = f"{escape(command.kind)} {escape(command.command_id or '')}"
    if command.reason:
        text += f" ({escape(command.reason)})"
    if command.expires_at is not None:
        text += f", valid until {_clock(command.expires_at)}"
    return text + f"; received {_clock(command.received_at)}"


def _since(moment: datetime | None) -> str:
    return f" since {_clock(moment)}" if moment is not None else ""


def _clock(moment: datetime | None) -> str:
    if moment is None:
        return "-"
    return escape(moment.astimezone().strftime("%Y-%m-%d %H:%M:%S %Z"))


def _number(value: int | None) -> str:
    return "unknown" if value is None else str(value)
