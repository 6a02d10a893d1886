"""The aggregator's aiohttp application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

from aiohttp import web

from .api import (
    alerts,
    congestion_points,
    enrollment_codes,
    events,
    homes,
    measurements,
    monitoring,
    probes,
    session,
)
from .api.app_keys import OPENADR_VEN, SERVICE
from .api.auth import AUTH, TokenAuth, auth_middleware
from .api.enrollment import BROKER_ADDRESSES, ENROLLMENT_LIMITER, REGISTRY, enroll
from .api.errors import errors_middleware
from .api.openapi import serve_openapi
from .api.ratelimit import RateLimiter
from .api.settlement_routes import SETTLEMENT, add_settlement_routes
from .broker_endpoints import home_addresses
from .clock import Clock, SystemClock
from .config import AggregatorConfig
from .dashboard import add_dashboard
from .grid_port import OtherLoadForecast
from .registry.provisioning import OpenBrokerProvisioner, PasswordFileProvisioner
from .registry.registry import CredentialProvisioner
from .service import AggregatorService
from .settlement.schedule import StatementSchedule


def create_app(
    config: AggregatorConfig,
    *,
    clock: Clock | None = None,
    provisioner: CredentialProvisioner | None = None,
    other_load_forecast: OtherLoadForecast | None = None,
    service: AggregatorService | None = None,
) -> web.Application:
    """Build the application; the service starts and stops with it (cleanup context)."""
    if provisioner is None:
        password_file = config.enrollment.password_file
        provisioner = (
            PasswordFileProvisioner(Path(password_file))
            if password_file
            else OpenBrokerProvisioner()
        )
    service = service or AggregatorService(
        config,
        clock=clock or SystemClock(),
        provisioner=provisioner,
        other_load_forecast=other_load_forecast,
    )
    app = web.Application(
        middlewares=[errors_middleware, auth_middleware],
        client_max_size=config.api.max_body_bytes,
    )
    app[SERVICE] = service
    app[AUTH] = TokenAuth(
        config.api.operator_tokens,
        config.api.reader_tokens,
        config.api.metrics_tokens,
    )
    app[REGISTRY] = service.registry
    app[BROKER_ADDRESSES] = home_addresses(
        config.enrollment.endpoints,
        tls=config.enrollment.broker_tls,
        ca_certificate_file=config.enrollment.ca_certificate_file,
    )
    app[ENROLLMENT_LIMITER] = RateLimiter()
    app.router.add_post("/api/v1/enrollments", enroll)
    app.router.add_get("/api/v1/openapi.json", serve_openapi)
    for resource in (
        monitoring,
        probes,
        congestion_points,
        events,
        measurements,
        alerts,
        homes,
        enrollment_codes,
        session,
    ):
        app.add_routes(resource.routes)
    add_dashboard(app)

    async def run_service(_app: web.Application) -> AsyncIterator[None]:
        await service.start()
        yield
        await service.stop()

    app.cleanup_ctx.append(run_service)
    add_settlement_routes(app, config.settlement)
    if config.settlement.statement_interval_h > 0:
        _add_statement_schedule(app, config, service)
    # The grid adapters start after the service and stop before it (cleanup
    # contexts unwind in reverse order).
    if config.openadr.enabled:
        _add_openadr_ven(app, config, service)
    if config.uftp.enabled:
        _add_uftp_agent(app, config, service, other_load_forecast)
    return app


def _add_statement_schedule(
    app: web.Application, config: AggregatorConfig, service: AggregatorService
) -> None:
    schedule = StatementSchedule(
        app[SETTLEMENT].issuer,
        service.sessions,
        clock=service.clock,
        interval_s=config.settlement.statement_interval_h * 3600.0,
    )

    async def run_schedule(_app: web.Application) -> AsyncIterator[None]:
        task = service.supervisor.start("statement-schedule", schedule.run)
        yield
        await task.stop()

    app.cleanup_ctx.append(run_schedule)


def _add_openadr_ven(
    app: web.Application, config: AggregatorConfig, service: AggregatorService
) -> None:
    from .openadr.ven import OpenAdrVen  # noqa: PLC0415 - only when enabled

    ven = OpenAdrVen(
        config.openadr,
        service,
        sessions=service.sessions,
        delivered_flex=app[SETTLEMENT].flex,
        supervisor=service.supervisor,
    )
    app[OPENADR_VEN] = ven

    async def run_ven(_app: web.Application) -> AsyncIterator[None]:
        await ven.start()
        yield
        await ven.stop()

    app.cleanup_ctx.append(run_ven)


def _add_uftp_agent(
    app: web.Application,
    config: AggregatorConfig,
    service: AggregatorService,
    other_load_forecast: OtherLoadForecast | None,
) -> None:
    from .uftp.agent import UftpAgent  # noqa: PLC0415 - only when enabled
    from .uftp.routes import add_uftp_routes  # noqa: PLC0415

    add_uftp_routes(
        app,
        UftpAgent.from_config(
            config.uftp,
            service,
            sessions=service.sessions,
            settlement=service.config.settlement,
            delivered=app[SETTLEMENT].flex,
            other_load_forecast=other_load_forecast,
        ),
    )
