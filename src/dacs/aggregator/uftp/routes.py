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
    limit = agent.config.max_message_bytes
    # Read past the API's body limit (a month's FlexSettlement is large), up
    # to UFTP's own.
    body = bytearray()
    while chunk := await request.content.read(64 * 1024):
        body += chunk
        if len(body) > limit:
            return web.Response(
                status=413, text=f"a UFTP message may be at most {limit} bytes"
            )
    received = await agent.receive(bytes(body))
    return web.Response(status=received.status, text=received.reason)
