"""The PostgreSQL fixture is a real server reachable over 127.0.0.1."""

from __future__ import annotations

import asyncpg
import pytest

from dacs.testbed.servers import PostgresServer, ServiceStartError


async def test_roundtrip(postgres_dsn: str) -> None:
    """Create a table, write rows and read them back through asyncpg."""
    connection = await asyncpg.connect(postgres_dsn)
    try:
        await connection.execute("CREATE TABLE t (id int PRIMARY KEY, w real)")
        await connection.executemany(
            "INSERT INTO t VALUES ($1, $2)", [(1, 1500.0), (2, 0.0)]
        )
        rows = await connection.fetch("SELECT id, w FROM t ORDER BY id")
        version = await connection.fetchval("SHOW server_version")
    finally:
        await connection.close()
    assert [(r["id"], r["w"]) for r in rows] == [(1, 1500.0), (2, 0.0)]
    assert int(version.split(".")[0]) >= 13


async def test_databases_are_isolated(
    postgres_server: PostgresServer, postgres_dsn: str
) -> None:
    """Each test gets its own empty database."""
    other = postgres_server.create_database("isolation_check")
    connection = await asyncpg.connect(other)
    try:
        tables = await connection.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
        )
    finally:
        await connection.close()
    assert tables == []
    assert other != postgres_dsn


def test_duplicate_database_is_a_clear_error(postgres_server: PostgresServer) -> None:
    """Creating an existing database names the problem."""
    postgres_server.create_database("twice")
    with pytest.raises(ServiceStartError, match="already exists"):
        postgres_server.create_database("twice")
