"""Engines, sessions and migrations for SQLite (aiosqlite) and PostgreSQL (asyncpg)."""

from __future__ import annotations

import asyncio
from importlib import resources
import logging
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, event, text
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

_LOGGER = logging.getLogger(__name__)
CONNECT_TIMEOUT_S = 10.0


def normalise_url(url: str) -> str:
    """Accept plain ``sqlite:///`` and ``postgresql://`` URLs and pick the async driver."""
    if url.startswith("sqlite:"):
        return "sqlite+aiosqlite:" + url.removeprefix("sqlite:")
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql+asyncpg://" + url.split("://", 1)[1]
    return url


def create_engine(url: str) -> AsyncEngine:
    """An async engine for the URL; SQLite gets WAL and enforced foreign keys."""
    url = normalise_url(url)
    # asyncpg waits 60 s for a connection by default; an unreachable database
    # (a partition, /readyz) should be noticed sooner.
    connect_args = (
        {"timeout": CONNECT_TIMEOUT_S} if url.startswith("postgresql+asyncpg") else {}
    )
    engine = create_async_engine(url, pool_pre_ping=True, connect_args=connect_args)
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

    return engine


async def database_reachable(engine: AsyncEngine, *, timeout_s: float) -> bool:
    """True when the database answers a trivial query within ``timeout_s`` (for /readyz)."""
    try:
        async with asyncio.timeout(timeout_s), engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception as err:  # noqa: BLE001 - any failure means not reachable
        _LOGGER.warning("the database did not answer the readiness probe: %s", err)
        return False
    return True


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep loaded objects usable after commit."""
    return async_sessionmaker(engine, expire_on_commit=False)


def alembic_config() -> Config:
    """Alembic configured from the package (no alembic.ini needed)."""
    config = Config()
    location = resources.files(__package__).joinpath("migrations")
    config.set_main_option("script_location", str(location))
    return config


async def migrate(engine: AsyncEngine, revision: str = "heads") -> None:
    """Bring the database schema to ``revision`` (every branch head by default)."""
    async with engine.begin() as connection:
        await connection.run_sync(_upgrade, revision)
    _LOGGER.info("database schema at %s", revision)


def _upgrade(connection: Connection, revision: str) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, revision)
