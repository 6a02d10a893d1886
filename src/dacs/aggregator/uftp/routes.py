"""The UFTP endpoint on the aggregator's aiohttp application."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from .agent import UftpAgent

UFTP_AGENT: web.AppKey[UftpAgent] = web.AppKey("uftp_agent", UftpAgent)


def add_uftp_routes(app: web.Application, agent: UftpAgent) -> None:
    """Serve ``agent.config.endpoint_path`` and start/stop the agent with the app.

    Call it after ``create_app``: the agent then starts after the aggregator
    service (it needs the live fleet and the database) and stops before it.
    """
    app[UFTP_AGENT] = agent
    app.router.add_post(agent.config.endpoint_path, receive_message)

    async def run_agent(_app: web.Application) -> AsyncIterator[None]:
        await agent.start()
        yield
        await agent.stop()

    app.cleanup_ctx.append(run_agent)


async def receive_message(request: web.Request) -> web.Response:
    """POST of a SignedMessage: 200 when taken (the functional answer follows as a message)."""
    agent = request.app[UFTP_AGENT]
    body = await request.read()
    received = await agent.receive(body)
    return web.Response(status=received.status, text=received.reason)
