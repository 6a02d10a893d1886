"""Aggregator fixtures: every storage test runs on SQLite and on a real PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
import sys

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from dacs.aggregator.storage.database import create_engine, migrate


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty database of each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'aggregator.db'}"
    dsn: str = request.getfixturevalue("postgres_dsn")
    return dsn


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine on a migrated database."""
    engine = create_engine(database_url)
    await migrate(engine)
    yield engine
    await engine.dispose()


def serve_command(config: Path) -> list[str]:
    """The command line of a real aggregator process on ``config``."""
    return [
        sys.executable,
        "-m",
        "dacs",
        "aggregator",
        "serve",
        "--config",
        str(config),
    ]
