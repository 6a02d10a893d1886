"""Capacity envelopes in watts: events' ``profile`` becomes ``intervals`` with ``cap_w``.

Revision ID: 0005_envelope_watts
Revises: 0001
Create Date: 2026-12-06 12:00:00
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from alembic import op
import sqlalchemy as sa

revision: str = "0005_envelope_watts"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_EVENTS = sa.table(
    "events",
    sa.column("id", sa.String()),
    sa.column("intervals", sa.JSON()),
)


def _convert(intervals: list[dict[str, Any]], key: str, factor: float) -> list[Any]:
    other = "cap_kw" if key == "cap_w" else "cap_w"
    return [
        {
            **{k: v for k, v in i.items() if k != other},
            key: float(i[other]) * factor,
        }
        for i in intervals
    ]


def _rewrite(key: str, factor: float) -> None:
    connection = op.get_bind()
    rows = connection.execute(sa.select(_EVENTS.c.id, _EVENTS.c.intervals)).all()
    for event_id, intervals in rows:
        connection.execute(
            _EVENTS.update()
            .where(_EVENTS.c.id == event_id)
            .values(intervals=_convert(intervals, key, factor))
        )


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("events") as batch:
        batch.alter_column("profile", new_column_name="intervals")
    _rewrite("cap_w", 1000.0)


def downgrade() -> None:
    """Undo this revision."""
    _rewrite("cap_kw", 0.001)
    with op.batch_alter_table("events") as batch:
        batch.alter_column("intervals", new_column_name="profile")
