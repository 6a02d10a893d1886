"""Alembic environment: run migrations on the connection the aggregator hands over."""

from __future__ import annotations

from alembic import context

from dacs.aggregator.storage.tables import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError(
        "run migrations through dacs.aggregator.storage.database.migrate(), "
        "which passes the database connection"
    )
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=True,  # SQLite needs table rebuilds for ALTER
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
